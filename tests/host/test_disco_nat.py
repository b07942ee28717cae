"""Direct paths through NAT, in network namespaces created by this test (root only):

    lan1 (node A, 192.168.1.2) -- nat1 (MASQUERADE, 10.0.0.2) --+
                                                                 pub (derper + STUN, 10.0.0.1)
    lan2 (node B, 192.168.2.2) -- nat2 (MASQUERADE, 10.0.0.3) --+

Two MicroPython nodes (host firmware) learn their public endpoints by STUN from a real
derper, exchange CallMeMaybe over DERP, punch through both endpoint-independent NATs and
prove a direct path with disco pongs; WireGuard-shaped traffic then flows directly. When
nat2 drops UDP the path falls back to DERP, and comes back when UDP does. The namespaces
come from _nat.py (shape "fw"); test_nat_shapes.py measures the other NAT shapes against
real tailscaled."""
import os
import time

import pytest

from _nat import Proc, Topology, available
from mpy import BUILD, MICROPYTHON

DERPER = os.path.join(BUILD, "go", "bin", "derper")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(available() is not None, reason=str(available())),
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
