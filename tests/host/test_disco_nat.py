"""Direct paths through NAT, in network namespaces created by this test (root only):

    lan1 (node A, 192.168.1.2) -- nat1 (MASQUERADE, 10.0.0.2) --+
                                                                 pub (derper + STUN, 10.0.0.1)
    lan2 (node B, 192.168.2.2) -- nat2 (MASQUERADE, 10.0.0.3) --+

Two MicroPython nodes (host firmware) learn their public endpoints by STUN from a real
derper, exchange CallMeMaybe over DERP, punch through both endpoint-independent NATs and
prove a direct path with disco pongs; WireGuard-shaped traffic then flows directly. When
nat2 drops UDP the path falls back to DERP, and comes back when UDP does."""
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

from mpy import BUILD, MICROPYTHON

DERPER = os.path.join(BUILD, "go", "bin", "derper")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"),
                       reason="needs root, ip and iptables"),
    pytest.mark.skipif(not os.path.exists(DERPER), reason="derper not built"),
]

NODE = r"""
import asyncio, binascii, time
from tailnet import crypto, derp_client, magicsock, magicsock_udp, disco
U = binascii.unhexlify

async def main():
    conn = magicsock.Conn(crypto.x25519_base(U(CFG['priv'])), U(CFG['dpriv']), 1)
    peer = U(CFG['peer'])
    conn.set_peers([(peer, U(CFG['pdisco']), [])])
    via = {'udp': 0, 'derp': 0}
    def on_wg(node, addr, pkt):
        via['udp' if addr else 'derp'] += 1
    conn.on_wg = on_wg
    dc = derp_client.DerpClient(CFG['derp'], CFG['port'], U(CFG['priv']))
    dc.on_packet = conn.derp_recv
    udp = magicsock_udp.UDP('0.0.0.0', CFG['udp'])
    asyncio.create_task(dc.run())
    r = await magicsock_udp.stun_probe(udp, CFG['derp'], CFG['stun'])
    mapped = r[0]
    print('MAPPED', magicsock_udp.text(mapped))
    asyncio.create_task(magicsock_udp.recv_loop(udp, conn))
    asyncio.create_task(magicsock.pump(conn, dc, udp.sendto))
    await dc.wait_connected(10000)
    p = conn.paths.get(peer)
    wg = b'\x04\x00\x00\x00' + bytes(60)
    t_end = time.ticks_add(time.ticks_ms(), CFG['secs'] * 1000)
    last_cmm = None
    while time.ticks_diff(t_end, time.ticks_ms()) > 0:
        now = time.ticks_ms()
        if p.best is None and (last_cmm is None or time.ticks_diff(now, last_cmm) > 2000):
            conn.send_call_me_maybe(peer, [mapped])
            last_cmm = now
        conn.send_wg(peer, wg)   # data keeps the session active (heartbeats)
        conn.tick()
        best = magicsock_udp.text(p.best) if p.best else None
        print('PATH', best, p.best_latency, via['udp'], via['derp'])
        if CFG.get('debug'):
            print('DBG', conn.stats, p.stats, udp.stats, list(p.eps.keys()))
        await asyncio.sleep(0.5)
    dc.stop()

asyncio.run(main())
"""


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


class Topology:
    def __init__(self):
        tag = "%04x" % (os.getpid() & 0xFFFF)
        self.ns = {n: "tnn%s%s" % (n, tag) for n in ("pub", "nat1", "nat2", "lan1", "lan2")}

    def nsx(self, n, *cmd):
        sh("ip", "netns", "exec", self.ns[n], *cmd)

    def link(self, a, b, ipa, ipb, name):
        ia, ib = name + "a", name + "b"
        sh("ip", "link", "add", ia, "netns", self.ns[a], "type", "veth", "peer", "name", ib,
           "netns", self.ns[b])
        self.nsx(a, "ip", "addr", "add", ipa, "dev", ia)
        self.nsx(b, "ip", "addr", "add", ipb, "dev", ib)
        self.nsx(a, "ip", "link", "set", ia, "up")
        self.nsx(b, "ip", "link", "set", ib, "up")
        return ia, ib

    def up(self):
        for n in self.ns.values():
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
        # pub is one bridge-less hub: two links, two /24s would need routing; use /29s
        self.link("pub", "nat1", "10.0.1.1/24", "10.0.1.2/24", "p1")
        self.link("pub", "nat2", "10.0.2.1/24", "10.0.2.2/24", "p2")
        self.nsx("pub", "ip", "addr", "add", "10.0.0.1/32", "dev", "lo")
        _, l1 = self.link("nat1", "lan1", "192.168.1.1/24", "192.168.1.2/24", "l1")
        _, l2 = self.link("nat2", "lan2", "192.168.2.1/24", "192.168.2.2/24", "l2")
        for nat, wan, lan in (("nat1", "p1b", "10.0.1.1"), ("nat2", "p2b", "10.0.2.1")):
            self.nsx(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.nsx(nat, "ip", "route", "add", "default", "via", lan)
            self.nsx(nat, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", wan, "-j", "MASQUERADE")
            # a home router's firewall: unsolicited inbound is dropped (before conntrack
            # confirms it, so no stale entry steals the port a later outbound flow needs)
            self.nsx(nat, "iptables", "-A", "INPUT", "-i", wan, "-m", "conntrack", "--ctstate", "NEW",
                     "-j", "DROP")
        self.nsx("lan1", "ip", "route", "add", "default", "via", "192.168.1.1")
        self.nsx("lan2", "ip", "route", "add", "default", "via", "192.168.2.1")
        self.nsx("pub", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        return self

    def block_udp(self, nat, on):
        self.nsx(nat, "iptables", "-I" if on else "-D", "FORWARD", "-p", "udp", "-j", "DROP")

    def down(self):
        for n in self.ns.values():
            pids = subprocess.run(["ip", "netns", "pids", n], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


class Proc:
    def __init__(self, cmd, env=None):
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=env)
        self.q = queue.Queue()
        self.lines = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip())
            self.q.put(line.rstrip())
        self.q.put(None)

    def wait(self, pred, timeout):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.q.get(timeout=max(0.1, end - time.time()))
            except queue.Empty:
                break
            if line is None:
                break
            if pred(line):
                return line
        raise AssertionError("timeout; output:\n" + "\n".join(self.lines[-30:]))

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def test_direct_path_through_two_nats_and_fallback(tmp_path):
    import sys

    from mpy import REPO

    sys.path.insert(0, os.path.join(REPO, "modules"))
    from tailnet import crypto

    t = Topology()
    procs = []
    try:
        t.up()
        d = Proc(["ip", "netns", "exec", t.ns["pub"], DERPER, "-a", "10.0.0.1:3340", "-c",
                  str(tmp_path / "derper.json"), "--http-port=-1", "--stun-port", "3478"])
        procs.append(d)
        d.wait(lambda l: "serving on" in l, 20)
        keys = [(os.urandom(32), os.urandom(32)) for _ in range(2)]
        pubs = [(crypto.x25519_base(k[0]), crypto.x25519_base(k[1])) for k in keys]
        env = dict(os.environ, MICROPYPATH=".frozen")
        nodes = []
        for i, lan in enumerate(("lan1", "lan2")):
            cfg = {"priv": keys[i][0].hex(), "dpriv": keys[i][1].hex(), "peer": pubs[1 - i][0].hex(),
                   "pdisco": pubs[1 - i][1].hex(), "derp": "10.0.0.1", "port": 3340, "stun": 3478,
                   "udp": 41641, "secs": 60, "debug": os.environ.get("TN_NAT_DEBUG") == "1"}
            n = Proc(["ip", "netns", "exec", t.ns[lan], MICROPYTHON, "-c", "CFG = %r\n" % (cfg,) + NODE],
                     env=env)
            procs.append(n)
            nodes.append(n)
        mapped = [n.wait(lambda l: l.startswith("MAPPED"), 20).split()[1] for n in nodes]
        assert mapped[0].startswith("10.0.1.2:") and mapped[1].startswith("10.0.2.2:"), mapped
        t0 = time.time()
        a_path = nodes[0].wait(lambda l: l.startswith("PATH 10.0.2.2:"), 20).split()
        nodes[1].wait(lambda l: l.startswith("PATH 10.0.1.2:"), 20)
        print("NAT<->NAT direct path in %.1f s (A sees B at %s, %s ms)" % (time.time() - t0, a_path[1], a_path[2]))
        # traffic now arrives over UDP at B
        udp0 = int(nodes[1].wait(lambda l: l.startswith("PATH 10.0.1.2:"), 10).split()[3])
        udp1 = int(nodes[1].wait(lambda l: l.startswith("PATH 10.0.1.2:") and int(l.split()[3]) > udp0 + 2,
                                 10).split()[3])
        assert udp1 > udp0
        # nat2 drops UDP: both fall back to DERP, and B keeps receiving over DERP
        t.block_udp("nat2", True)
        t1 = time.time()
        nodes[0].wait(lambda l: l.startswith("PATH None"), 30)
        print("fell back to DERP %.1f s after UDP was blocked" % (time.time() - t1))
        derp0 = int(nodes[1].wait(lambda l: l.startswith("PATH"), 5).split()[4])
        nodes[1].wait(lambda l: l.startswith("PATH") and int(l.split()[4]) > derp0 + 2, 10)
        # UDP back: the direct path is found again
        t.block_udp("nat2", False)
        t2 = time.time()
        nodes[0].wait(lambda l: l.startswith("PATH 10.0.2.2:"), 30)
        print("direct again %.1f s after UDP came back" % (time.time() - t2))
    finally:
        for p in procs:
            p.kill()
        t.down()
