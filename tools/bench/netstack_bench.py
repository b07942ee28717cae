#!/usr/bin/env python3
"""Tailnet netstack benchmarks on the host firmware (build/host/micropython).

    python3 tools/bench/netstack_bench.py [--quick] [--no-interop] [--json OUT]

Measures:
  * UDP receive path (parse, IPv4 header + UDP checksums, packet filter, queue,
    recv_slot/release): packets/s (wall clock) and instructions per packet
    (valgrind callgrind, Ir(N2)-Ir(N1) over N2-N1 packets), 64- and 1200-byte payloads;
  * TCP bulk throughput between two firmware netstacks over the in-memory link
    (tools/bench/netstack_link.py; both ends' work in one process);
  * heap per open TCP connection (both ends of an established pair / 2);
  * end to end over WireGuard (our _tnwg engine + netstack in the firmware) against
    wireguard-go + gVisor netstack (tools/bench/netstack_gopeer): 1 MiB TCP upload and
    download, and gVisor's own 1 MiB echo through our node.
Over a real tailnet (Headscale, DERP, tailscaled), node vs tailscaled<->tailscaled side by side:
tools/bench/tcp_throughput.py.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("TAILNET_BUILD", os.path.join(REPO, "build"))
MPY = os.path.join(BUILD, "host", "micropython")
ENV = dict(os.environ, MICROPYPATH=".frozen")

UDP_CODE = r"""
import time, sys
from tailnet.netstack import Netstack
import tailnet.ip as ip
N = int(sys.argv[1]); SIZE = int(sys.argv[2])
ns = Netstack(["100.64.0.1"], npool=4)
ns.set_filter([{"SrcIPs": ["100.64.0.0/10"], "DstPorts": [{"IP": "*", "Ports": {"First": 7, "Last": 7}}]}])
s = ns.udp(7, qmax=2)
b = bytearray(28 + SIZE)
ip.put_header(b, bytes([100, 64, 0, 9]), bytes([100, 64, 0, 1]), 17, 8 + SIZE)
ip.put16(b, 20, 5555); ip.put16(b, 22, 7); ip.put16(b, 24, 8 + SIZE)
ip.set_l4_csum(b, 20, 4, 17, 8 + SIZE, 6)
n = len(b)
t = time.ticks_us()
for i in range(N):
    buf = ns.rxbuf
    buf[0:n] = b
    ns.input(buf, 0, n, 0)
    s.release(s.recv_slot())
dt = time.ticks_diff(time.ticks_us(), t)
print("RESULT", N, dt)
"""

TCP_CODE = r"""
import sys, time, gc
sys.path.append(%r)
from netstack_link import *
N = int(sys.argv[1])
a, b = pair()
for x in (a, b):
    x.tcp.rcvbuf = 8192
    x.tcp.sndbuf = 8192
link = Link(a, b, delay=1)
l = b.tcp_listen(80, 4)
c = a.tcp_connect(B4, 80, 0)
link.run(lambda: l.q, 2000)
s = l.accept()
data = bytes(range(256)) * 16
st = [0, 0]
def each():
    if st[0] < N:
        st[0] += c.send(data)
    r = s.recv(8192)
    while r:
        st[1] += len(r)
        r = s.recv(8192)
t = time.ticks_ms()
link.run(lambda: st[1] >= N, 10000000, each=each)
dt = time.ticks_diff(time.ticks_ms(), t)
gc.collect()
a2, b2 = pair(8)
link2 = Link(a2, b2)
l2 = b2.tcp_listen(80, 8)
gc.collect()
m0 = gc.mem_free()
cs = [a2.tcp_connect(B4, 80, 0) for i in range(8)]
link2.run(lambda: len(l2.q) == 8, 3000)
gc.collect()
print("RESULT", st[1], dt, (m0 - gc.mem_free()) // 16)
"""


def mpy(code, *args, valgrind=None):
    cmd = [MPY, "-c", code] + [str(a) for a in args]
    if valgrind:
        cmd = valgrind + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=1800)
    if p.returncode != 0:
        raise SystemExit("micropython failed:\n" + p.stdout + p.stderr)
    return [int(x) for x in p.stdout.split("RESULT")[1].split()]


def callgrind_ir(code, *args):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        mpy(code, *args, valgrind=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
        s = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
        m = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", s) or re.search(r"([\d,]+)\s+PROGRAM TOTALS", s)
        return int(m.group(1).replace(",", ""))


def interop(mib=1):
    sys.path.insert(0, os.path.join(REPO, "tests", "host"))
    subprocess.run([os.path.join(HERE, "netstack_gopeer", "build.sh")], check=True, capture_output=True)
    from test_netstack_interop import GOPEER, Pair
    p = Pair(GOPEER)
    try:
        n = mib << 20
        up = p.node_out("up 100.64.0.2 %d" % n, 600)
        down = p.node_out("down 100.64.0.2 %d" % n, 600)
        echo = p.peer("dial 100.64.0.1 80 %d" % n, 600)
        return {"bytes": n, "node_upload_ms": int(up[3]), "node_download_ms": int(down[2]),
                "gvisor_echo_through_node_ms": int(echo[3])}
    finally:
        p.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-interop", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    res = {}
    n = 2000 if a.quick else 20000
    for size in (64, 1200):
        cnt, us = mpy(UDP_CODE, n, size)
        ir1 = callgrind_ir(UDP_CODE, 200, size)
        ir2 = callgrind_ir(UDP_CODE, 1200, size)
        res["udp_rx_%d" % size] = {"pps": round(cnt * 1e6 / us), "us_per_pkt": round(us / cnt, 2),
                                   "instr_per_pkt": (ir2 - ir1) // 1000}
    nbytes = (1 << 20) if a.quick else (4 << 20)
    got, ms, heap = mpy(TCP_CODE % HERE, nbytes)
    res["tcp_inmemory"] = {"bytes": got, "ms": ms, "MB_per_s": round(got / 1e3 / max(ms, 1), 2),
                           "heap_per_conn_bytes": heap}
    if not a.no_interop:
        r = interop(1)
        r["upload_MB_per_s"] = round(r["bytes"] / 1e3 / max(r["node_upload_ms"], 1), 2)
        r["download_MB_per_s"] = round(r["bytes"] / 1e3 / max(r["node_download_ms"], 1), 2)
        res["wireguard_gvisor"] = r
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
