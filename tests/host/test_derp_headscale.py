"""The MicroPython node (host firmware) joins a real Headscale (tools/testnet.py) with the
control plane (tailnet.node), connects to Headscale's embedded DERP over TLS (CA-verified,
verify_clients on: only works because the node key is registered), and answers a real
tailscaled's disco pings: `tailscale ping <node-ip>` reports pongs "via DERP"."""
import json
import os
import queue
import re
import socket
import subprocess
import threading
import time

import pytest

from mpy import MICROPYTHON

pytestmark = [pytest.mark.interop, pytest.mark.slow]

NODE = r"""
import asyncio, json, os
import tailnet
from tailnet import derp_client, magicsock

def peers_of(nm):
    return nm.peer_paths()

async def main():
    ca = open(CFG['ca'], 'rb').read()
    n = await tailnet.up_async(CFG['authkey'], CFG['url'], CFG['hostname'], CFG['state'],
                               timeout=60, verbose=0, cadata=ca)
    nm = n.netmap
    reg = nm.derpmap['Regions']
    rid = sorted(reg.keys())[0]
    node = reg[rid]['Nodes'][0]
    host = node['HostName']
    port = node.get('DERPPort') or 443
    conn = magicsock.Conn(n.node.public().raw, n.disco.secret(), int(rid))
    conn.set_peers(peers_of(nm))
    n.on_netmap(lambda m: conn.set_peers(peers_of(m)))
    dc = derp_client.DerpClient(host, port, n.node.secret(), tls=True, cadata=ca,
                                server_name=host)
    dc.on_packet = conn.derp_recv
    t1 = asyncio.create_task(dc.run())
    t2 = asyncio.create_task(magicsock.pump(conn, dc))
    if not await dc.wait_connected(15000):
        print('NODERP', dc.last_error)
        return
    print('DERPUP', nm.addresses()[0].split('/')[0], rid, len(conn.by_disco))
    t_end = CFG['run']
    udp = None
    blocked = False
    while t_end > 0 and not _exists(CFG['stopfile']):
        await asyncio.sleep(0.2)
        t_end -= 0.2
        if udp is None and _exists(CFG['udpfile']):
            from tailnet import magicsock_udp
            udp = magicsock_udp.UDP('127.0.0.1', CFG['udp_port'])
            r = await magicsock_udp.stun_probe(udp, '127.0.0.1', CFG['stun_port'])
            mapped = magicsock_udp.text(r[0]) if r else None
            rt = asyncio.create_task(magicsock_udp.recv_loop(udp, conn))
            t2.cancel()
            t2 = asyncio.create_task(magicsock.pump(conn, dc, udp.sendto))
            n.set_endpoints(['127.0.0.1:%d' % CFG['udp_port']])
            print('UDPUP', CFG['udp_port'], mapped, r[1] if r else None)
        if udp is not None and not blocked and _exists(CFG['blockfile']):
            rt.cancel()  # the direct path dies: nothing in or out on UDP any more
            udp.close()
            blocked = True
            print('BLOCKED')
        if udp is not None and not blocked and _exists(CFG['probefile']):
            # our own disco pings to the tailscaled peer, over UDP and DERP
            for k, pp in conn.paths.peers.items():
                conn.probe(k)
                await asyncio.sleep(0.3)
                best = magicsock_udp.text(pp.best) if pp.best else None
                print('PATH', best, pp.best_latency, pp.derp_latency, pp.stats['pongs'])
    print('STATS', json.dumps({'conn': conn.stats, 'derp': dc.stats, 'disco': conn.disco.stats,
                               'udp': udp.stats if udp else None}))
    dc.stop()
    await t1
    t2.cancel()
    await tailnet.down_async()

def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def net():
    from testnet import Testnet

    with Testnet(peers=1) as n:
        yield n


def start_node(net, tmp, hostname="mpnode"):
    ca = os.path.join(tmp, "ca.der")
    with open(ca, "wb") as f:
        f.write(net.ca_der if isinstance(net.ca_der, bytes) else open(net.ca_der, "rb").read())
    cfg = {"authkey": net.authkey(), "url": net.control_url, "hostname": hostname,
           "state": os.path.join(tmp, "mp.state"), "ca": ca, "run": 120,
           "stopfile": os.path.join(tmp, "stop"), "udpfile": os.path.join(tmp, "udp"),
           "probefile": os.path.join(tmp, "probe"), "blockfile": os.path.join(tmp, "block"),
           "udp_port": net.port(socket.SOCK_DGRAM), "stun_port": net.stun_port}
    env = dict(os.environ, MICROPYPATH=".frozen")
    code = "CFG = %r\n" % (cfg,) + (DATAPLANE if hostname == "mpnode2" else NODE)
    p = subprocess.Popen(net.exec_prefix + [MICROPYTHON, "-c", code],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    q = queue.Queue()
    lines = []

    def pump():
        for line in p.stdout:
            lines.append(line.rstrip())
            q.put(line.rstrip())
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return p, q, lines, cfg


def wait_line(q, lines, prefix, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            line = q.get(timeout=max(0.1, end - time.time()))
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith(prefix):
            return line
    raise AssertionError("no %s line; output:\n%s" % (prefix, "\n".join(lines[-40:])))


def test_tailscale_ping_via_headscale_derp(net, tmp_path):
    p, q, lines, cfg = start_node(net, str(tmp_path))
    try:
        up = wait_line(q, lines, "DERPUP", 90).split()
        ip = up[1]
        peer = net.peers[0]
        # the peer must have our node (and disco key) in its netmap first
        net.wait_for(lambda: ip in peer.cli("status"), timeout=30, what="node in peer status")
        out = ""
        for _ in range(3):
            r = peer.cli("ping", "--c", "5", "--timeout", "3s", ip, check=False, timeout=60)
            out = r.stdout + r.stderr
            if "via DERP" in out:
                break
        assert "pong from mpnode" in out and "via DERP(" in out, out
        rtts = [float(x) for x in re.findall(r"via DERP\([^)]*\) in ([0-9.]+)ms", out)]
        print("tailscale ping via Headscale DERP to the MicroPython node: %s ms" % rtts)
        # direct UDP: the node opens its socket, learns its endpoint by STUN from
        # Headscale's embedded STUN server, reports it to control; tailscaled then pings
        # it directly and gets our Pong from the same socket
        open(cfg["udpfile"], "w").close()
        udp = wait_line(q, lines, "UDPUP", 30).split()
        t_udp = time.time()
        assert udp[2] == "127.0.0.1:%d" % cfg["udp_port"], udp  # STUN-mapped endpoint
        want = "via 127.0.0.1:%d" % cfg["udp_port"]
        for _ in range(5):
            r = peer.cli("ping", "--c", "10", "--timeout", "3s", ip, check=False, timeout=60)
            out = r.stdout + r.stderr
            if want in out:
                break
            time.sleep(1)
        assert want in out, out
        print("direct path proven %.1f s after the node reported its endpoint" % (time.time() - t_udp))
        direct = [float(x) for x in re.findall(want.replace(".", "\\.") + r" in ([0-9.]+)ms", out)]
        print("tailscale ping direct to the MicroPython node: %s ms" % direct)
        # the other way round: our pings, tailscaled's pongs; path selection picks a
        # proven direct address and measures the DERP round trip
        open(cfg["probefile"], "w").close()
        end = time.time() + 30
        while True:
            path = wait_line(q, lines, "PATH 127.0.0.1:", max(1, end - time.time())).split()
            if path[3] != "None":  # a DERP pong came back too
                break
        print("MicroPython -> tailscaled disco: best %s (%s ms), DERP %s ms" % tuple(path[1:4]))
        # direct path blocked: once tailscaled's trust in it lapses, pings come via DERP again
        open(cfg["blockfile"], "w").close()
        wait_line(q, lines, "BLOCKED", 10)
        t_block = time.time()
        for _ in range(10):
            r = peer.cli("ping", "--c", "3", "--timeout", "2s", ip, check=False, timeout=60)
            out = r.stdout + r.stderr
            if "via DERP(" in out:
                break
        assert "via DERP(" in out, out
        print("fell back to DERP %.1f s after UDP was blocked" % (time.time() - t_block))
        open(cfg["stopfile"], "w").close()
        stats = json.loads(wait_line(q, lines, "STATS", 30)[6:])
        print("node stats:", stats)
        assert stats["conn"]["pongs_sent"] >= 2 and stats["conn"]["disco_in"] >= 2
        assert stats["udp"]["rx"] >= 1 and stats["udp"]["tx"] >= 1
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_derp_ping_side_by_side_with_tailscaled(tmp_path):
    """Benchmark in one run, all over Headscale's embedded DERP (peers never go direct):
    tailscaled -> tailscaled and tailscaled -> MicroPython node `tailscale ping` RTTs."""
    from testnet import Testnet

    with Testnet(peers=2, derp_only=True) as net:
        p, q, lines, cfg = start_node(net, str(tmp_path))
        try:
            ip = wait_line(q, lines, "DERPUP", 90).split()[1]
            a, b = net.peers
            net.wait_for(lambda: ip in a.cli("status"), timeout=30, what="node in peer status")
            res = {}
            for name, target in (("tailscaled", b.ip4), ("micropython", ip)):
                r = a.cli("ping", "--c", "10", "--until-direct=false", "--timeout", "3s", target,
                          check=False, timeout=90)
                out = r.stdout + r.stderr
                res[name] = [float(x) for x in re.findall(r"via DERP\([^)]*\) in ([0-9.]+)ms", out)]
                assert res[name], out
            for name, v in res.items():
                v.sort()
                print("tailscale ping via DERP -> %-11s n=%d median %.1f ms min %.1f ms"
                      % (name, len(v), v[len(v) // 2], v[0]))
            open(cfg["stopfile"], "w").close()
            wait_line(q, lines, "STATS", 30)
            p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


DATAPLANE = r"""
import asyncio, json, os
import tailnet
from tailnet import magicsock_run, magicsock_udp

async def main():
    ca = open(CFG['ca'], 'rb').read()
    n = await tailnet.up_async(CFG['authkey'], CFG['url'], CFG['hostname'], CFG['state'],
                               timeout=60, verbose=0, cadata=ca)
    dp = await magicsock_run.DataPlane(n, udp_port=CFG['udp_port'], bind='127.0.0.1').start()
    if not await dp.derp.wait_connected(15000):
        print('NODERP', dp.derp.last_error)
        return
    for i in range(50):
        if dp.mapped:
            break
        await asyncio.sleep(0.1)
    print('READY', n.netmap.addresses()[0].split('/')[0], dp.region, dp.endpoints())
    while True:
        try:
            os.stat(CFG['stopfile'])
            break
        except OSError:
            pass
        await asyncio.sleep(0.2)
    print('STATS', json.dumps({'conn': dp.conn.stats, 'derp': dp.derp.stats}))
    await dp.stop()
    await tailnet.down_async()

asyncio.run(main())
"""


def test_dataplane_module_reaches_tailscaled(net, tmp_path):
    """tailnet.magicsock_run.DataPlane wires it all for a control Node: home region from
    the DERPMap, STUN from the shared socket, endpoints + PreferredDERP reported to
    control; a real tailscaled then reaches the node directly."""
    p, q, lines, cfg = start_node(net, str(tmp_path), hostname="mpnode2")
    try:
        ready = wait_line(q, lines, "READY", 90).split(" ", 3)
        ip, region = ready[1], int(ready[2])
        assert region == net.derp_region
        eps = ready[3]
        assert "127.0.0.1:%d" % cfg["udp_port"] in eps, eps
        peer = net.peers[0]
        net.wait_for(lambda: ip in peer.cli("status"), timeout=30, what="node in peer status")
        want = "via 127.0.0.1:%d" % cfg["udp_port"]
        out = ""
        for _ in range(5):
            r = peer.cli("ping", "--c", "10", "--timeout", "3s", ip, check=False, timeout=60)
            out = r.stdout + r.stderr
            if want in out:
                break
            time.sleep(1)
        assert want in out, out
        # tailscaled's netmap (via control) has our endpoint and home region
        st = json.loads(peer.cli("status", "--json"))
        me = [v for v in st["Peer"].values() if v.get("HostName") == "mpnode2"]
        assert me and me[0]["CurAddr"] == "127.0.0.1:%d" % cfg["udp_port"], me

        def reported():
            nm = json.loads(peer.cli("debug", "netmap"))
            mine = [x for x in nm.get("Peers", []) if x.get("Name", "").startswith("mpnode2.")]
            return mine and mine[0]
        for _ in range(40):
            me = reported()
            if me and "127.0.0.1:%d" % cfg["udp_port"] in (me.get("Endpoints") or []):
                break
            time.sleep(0.5)
        assert "127.0.0.1:%d" % cfg["udp_port"] in me.get("Endpoints", []), me
        assert me["HomeDERP"] == net.derp_region and me["Hostinfo"]["NetInfo"]["PreferredDERP"] == 999
        open(cfg["stopfile"], "w").close()
        stats = json.loads(wait_line(q, lines, "STATS", 30)[6:])
        assert stats["conn"]["pongs_sent"] >= 1 and stats["derp"]["connects"] == 1
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
