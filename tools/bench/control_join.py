#!/usr/bin/env python3
"""Benchmark: time from tailnet.up() to Running in the host firmware, side by side with a
real tailscaled joining the same Headscale in the same run, and the heap used during the
join versus the number of peers in the netmap (fake nodes registered by this script
through our own control client on CPython).

    python3 tools/bench/control_join.py [--peers 10,100,500] [--heap 512K] [--fw32] [--search]

Prints one line per peer count: firmware join time, tailscaled join time, live heap after
the join (gc.collect + gc.mem_alloc), peak live heap (gc.collect + gc.mem_alloc every
200 ms), and the smallest heap cap (16K steps) that still joins (if --search)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.join(REPO, "tests", "host"))
sys.path.insert(0, os.path.join(REPO, "modules"))
from mpy import BUILD, MICROPYTHON  # noqa: E402
from testnet import Testnet  # noqa: E402

RUNNER = os.path.join(REPO, "tests", "host", "control", "run_node.py")
FRONT = os.path.join(REPO, "tests", "host", "control", "tls_front.py")
FAKES = os.path.join(REPO, "tests", "host", "control", "fakes.py")


def run_node(net, tmp, url, heap, name, binary=MICROPYTHON):
    cfg = {"url": url, "hostname": name, "state": os.path.join(tmp, name + ".state"),
           "authkey": net.authkey(), "run": 2, "verbose": 0, "timeout": 120}
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    mpy = os.path.join(tmp, "run_node.mpy")
    if not os.path.exists(mpy):
        subprocess.run([os.path.join(BUILD, "host", "mpy-cross"), "-o", mpy, RUNNER], check=True)
    env = dict(os.environ, MICROPYPATH=".frozen", TN_CFG=path)
    t0 = time.time()
    p = subprocess.run(net.exec_prefix + [binary, "-X", "heapsize=" + heap, "-c",
                       "import sys\nsys.path.append(%r)\nimport run_node" % tmp],
                       capture_output=True, text=True, env=env, timeout=300)
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        if k in ("JOINED", "LIVE", "PEAK", "PEAKLIVE", "ERROR", "BASE"):
            out[k] = v
        if k == "STATUS":
            out["npeers"] = json.loads(v)["npeers"]
    out["wall"] = time.time() - t0
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", default="10,100,500")
    ap.add_argument("--heap", default="512K")
    ap.add_argument("--search", action="store_true", help="also find the smallest heap (16K steps) that joins")
    ap.add_argument("--fw32", action="store_true", help="the 32-bit host build (boards' object sizes)")
    a = ap.parse_args()
    fw = os.path.join(BUILD, "host32", "micropython") if a.fw32 else MICROPYTHON
    counts = [int(x) for x in a.peers.split(",")]
    tmp = tempfile.mkdtemp(prefix="tailnet-bench-")
    with Testnet(peers=0) as net:
        port = net.port()
        net.spawn("front", [sys.executable, FRONT, str(port), str(net.control_port), net.ca_pem])
        net.wait_for(lambda: "ready" in net.logs("front"), 20, 0.1, "front door")
        plain = "http://127.0.0.1:%d" % port
        have = 0
        print("%6s %12s %14s %10s %10s %10s" % ("peers", "fw join s", "tailscaled s", "live B", "peak live B", "min heap"))
        for n in counts:
            # fakes are registered from outside the namespace through the same front door
            sub = subprocess.run(net.exec_prefix + [sys.executable, FAKES, plain, net.authkey(),
                                 str(n - have), str(have)], capture_output=True, text=True)
            if sub.returncode:
                raise SystemExit(sub.stderr)
            have = n
            r = run_node(net, tmp, plain, a.heap, "bench%d" % n, fw)
            t0 = time.time()
            net.add_peer("ts%d" % n)
            ts = time.time() - t0
            minheap = "-"
            if a.search:
                h = 48
                while h <= 1024:
                    if "JOINED" in run_node(net, tmp, plain, "%dK" % h, "probe%d_%d" % (n, h), fw):
                        minheap = "%dK" % h
                        break
                    h += 16
            print("%6s %12s %14.1f %10s %10s %10s %s" % (r.get("npeers", "?"), r.get("JOINED", "-"), ts, r.get("LIVE", "-"),
                                                     r.get("PEAKLIVE", "-"), minheap, r.get("ERROR", "")), flush=True)


if __name__ == "__main__":
    main()
