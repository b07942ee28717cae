#!/usr/bin/env python3
"""DERP round-trip benchmark against a real derper (build/go/bin/derper) on 127.0.0.1:
two MicroPython host-firmware clients (tests/host/test_derp_interop.py harness) and,
side by side, two CPython clients running the same tailnet.derp_client code.
A->derper->B->derper->A, one packet in flight. Usage: python3 tools/bench/derp_rtt.py [N]"""
import asyncio
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "host"))
sys.path.insert(0, os.path.join(REPO, "modules"))

import test_derp_interop as h  # noqa: E402
from tailnet import derp_client  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


async def cpython_pair(port, tls, n, size):
    a = derp_client.DerpClient("127.0.0.1", port, os.urandom(32), tls=tls, insecure=True)
    b = derp_client.DerpClient("127.0.0.1", port, os.urandom(32), tls=tls, insecure=True)
    q = asyncio.Queue()
    b.on_packet = lambda s, p: asyncio.get_running_loop().create_task(b.send(bytes(s), bytes(p)))
    a.on_packet = lambda s, p: q.put_nowait(bytes(p))
    ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
    await a.wait_connected()
    await b.wait_connected()
    pkt = b"\x04\x00\x00\x00" + bytes(size - 4)
    while True:  # until b is registered at the server
        await a.send(b.node_pub, pkt)
        try:
            await asyncio.wait_for(q.get(), 0.2)
            break
        except asyncio.TimeoutError:
            pass
    rt = []
    for _ in range(n):
        t0 = time.perf_counter()
        await a.send(b.node_pub, pkt)
        await asyncio.wait_for(q.get(), 2)
        rt.append(int((time.perf_counter() - t0) * 1e6))
    a.stop()
    b.stop()
    await ta
    await tb
    return rt


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print("%-28s %6s %10s %10s %10s" % ("clients", "bytes", "median_us", "p10_us", "p90_us"))
    for tls in (False, True):
        for size in (100, 1400):
            d = h.Derper(tempfile.mkdtemp(), tls=tls).start()
            try:
                _, r = h.run_pair(d, n=n, size=size, tls=tls)
                rt = r["rtts_us"]
                name = "MicroPython x2 " + ("TLS" if tls else "plain")
                print("%-28s %6d %10d %10d %10d" % (name, size, pct(rt, .5), pct(rt, .1), pct(rt, .9)))
                rt = asyncio.run(cpython_pair(d.port, tls, n, size))
                name = "CPython x2 " + ("TLS" if tls else "plain")
                print("%-28s %6d %10d %10d %10d" % (name, size, pct(rt, .5), pct(rt, .1), pct(rt, .9)))
            finally:
                d.stop()


if __name__ == "__main__":
    main()
