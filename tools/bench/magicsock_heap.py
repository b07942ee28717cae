#!/usr/bin/env python3
"""Heap per peer path (issue #6 benchmark): gc.mem_alloc() deltas in the host firmware
(64-bit build/host and, if built, 32-bit build/host32, closer to a microcontroller) for
1, 10 and 50 peers in
  - magicsock.Conn (PeerPath, node/disco key maps, disco shared keys), peers known
    from the netmap with 3 endpoints each ("idle");
  - the same after traffic: each peer sent to once (full ping of its 3 endpoints:
    pending pings) and one endpoint proven by a disco pong ("active");
  - dataplane.DataPlane: the _tnwg engine (caller storage, fixed per max_peers) plus
    the Python per-slot maps, after sync() with N netmap peers.
Usage: python3 tools/bench/magicsock_heap.py   (prints a table; numbers are bytes)"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

CODE = r"""
import gc
from tailnet import magicsock as ms, crypto, dataplane, netmap, ipaddr, keys

def conn_bytes(n):
    T = [1000]
    peers = []
    for i in range(n):
        eps = [(bytes((10, i & 255, j, 1)), 41641 + j) for j in range(3)]
        peers.append((crypto.random(32), crypto.x25519_base(crypto.random(32)), eps))
    gc.collect()
    m0 = gc.mem_alloc()
    c = ms.Conn(crypto.random(32), crypto.random(32), 999, clock=lambda: T[0])
    c.tx_udp = lambda a, p: None
    c.tx_derp = lambda k, p: True
    gc.collect()
    m1 = gc.mem_alloc()
    c.set_peers(peers)
    gc.collect()
    m2 = gc.mem_alloc()
    wg = bytes([4, 0, 0, 0]) + bytes(28)
    for nk, dk, eps in peers:
        c.send_wg(nk, wg)
        p = c.paths.peers[nk]
        for txid in list(p.pending):
            a, sent = p.pending[txid]
            if a[1] == 41641:
                p.on_pong(txid, T[0] + 5, a)
                break
    gc.collect()
    m3 = gc.mem_alloc()
    return m1 - m0, m2 - m1, m3 - m1

class Node:
    control_url = "https://control.invalid"
    cadata = None
    preferred_derp = 0
    def __init__(self):
        self.node = keys.node_private()
        self.netmap = netmap.NetMap()
    def on_netmap(self, cb):
        pass
    def log(self, *a):
        pass

def rec(i, key):
    r = netmap.new_record()
    r[netmap.ID] = i
    r[netmap.KEY] = key
    r[netmap.ADDRS] = ipaddr.pack_prefixes(["100.64.%d.%d/32" % (i >> 8, i & 255), "fd7a:115c:a1e0::%x/128" % i])
    return netmap.pack(r)

def dp_bytes(n, maxp):
    node = Node()
    node.netmap.self_node = rec(1, node.node.public().raw)
    node.netmap.peers = {}
    for i in range(n):
        node.netmap.peers[i + 2] = rec(i + 2, crypto.random(32))
    gc.collect()
    m0 = gc.mem_alloc()
    d = dataplane.DataPlane(node, max_peers=maxp)
    gc.collect()
    m1 = gc.mem_alloc()
    d.sync(node.netmap)
    gc.collect()
    m2 = gc.mem_alloc()
    return m1 - m0, m2 - m1

for n in (1, 10, 50):
    base, idle, active = conn_bytes(n)
    eng, slots = dp_bytes(n, 64)
    print("ROW", n, base, idle, active, eng, slots)
"""


def run(binary):
    env = dict(os.environ, MICROPYPATH=".frozen")
    p = subprocess.run([binary, "-X", "heapsize=4M", "-c", CODE], capture_output=True, text=True,
                       env=env, timeout=120)
    if p.returncode != 0:
        raise SystemExit("%s failed:\n%s%s" % (binary, p.stdout, p.stderr))
    return [list(map(int, l.split()[1:])) for l in p.stdout.splitlines() if l.startswith("ROW")]


def main():
    builds = [("host (64-bit)", os.path.join(REPO, "build", "host", "micropython")),
              ("host32 (32-bit)", os.path.join(REPO, "build", "host32", "micropython"))]
    for name, b in builds:
        if not os.access(b, os.X_OK):
            print("%s: not built, skipped" % name)
            continue
        rows = run(b)
        print("%s: bytes of heap" % name)
        print("  peers  Conn  +idle paths  per peer  +active paths  per peer  DataPlane(64 slots)  +slots  per peer")
        for n, base, idle, active, eng, slots in rows:
            print("  %5d %5d %12d %9d %14d %9d %20d %7d %9d" % (n, base, idle, idle // n, active, active // n,
                                                               eng, slots, slots // n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
