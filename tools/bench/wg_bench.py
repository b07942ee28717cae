#!/usr/bin/env python3
"""WireGuard engine benchmarks, side by side with wireguard-go, in one run.

    python3 tools/bench/wg_bench.py [--quick] [--json OUT]

Measures, for 1420-byte IP packets (1424 padded, 1456 on the wire):
  * instructions per packet (valgrind callgrind, deterministic) for encrypt and
    decrypt through the MicroPython binding (_tnwg in build/host/micropython)
    and for the raw C engine (build/wgtest/wg_bench); Ir(N2)-Ir(N1) over
    N2-N1 packets, so start-up cost cancels out;
  * instructions per full handshake (initiation + response + confirmation,
    both sides, including the MicroPython rng callback);
  * packets/s and handshake time (wall clock, noisy on a shared machine) for
    the binding, the raw engine and wireguard-go (build/go/bin/wgpeer -bench:
    wireguard-go's exported Noise functions and its transport AEAD);
  * bytes per peer / keypair / device (struct sizes reported by _tnwg.sizes());
  * end to end: near-MTU UDP datagrams echoed through a real wireguard-go peer
    (tools/bench/wg_node.py over 127.0.0.1), datagrams/s each way.
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
CBENCH = os.path.join(BUILD, "wgtest", "wg_bench")
WGPEER = os.path.join(BUILD, "go", "bin", "wgpeer")
MPY_SCRIPT = os.path.join(HERE, "wg_bench_mpy.py")
ENV = dict(os.environ, MICROPYPATH=".frozen")


def callgrind_ir(cmd):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                       check=True, capture_output=True, env=ENV)
        text = open(out).read()
    m = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    return int(m.group(1))


def per_unit(cmd_for, n1, n2):
    return (callgrind_ir(cmd_for(n2)) - callgrind_ir(cmd_for(n1))) / (n2 - n1)


def instructions(prefix, n1, n2, h1, h2):
    seal = per_unit(lambda n: prefix + ["seal", str(n)], n1, n2)
    pair = per_unit(lambda n: prefix + ["pair", str(n)], n1, n2)
    hs = per_unit(lambda n: prefix + ["hs", str(n)], h1, h2)
    return {"encrypt_ir": round(seal), "decrypt_ir": round(pair - seal), "handshake_ir": round(hs)}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout
    return json.loads(out.strip().splitlines()[-1])


def e2e(count):
    """Echo `count` near-MTU datagrams through our engine (MicroPython, UDP on
    127.0.0.1) to a real wireguard-go peer and back; returns datagrams/s each way."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives import serialization as ser
    import socket

    def kp():
        k = X25519PrivateKey.generate()
        return (k.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption()),
                k.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw))
    (op, ou), (gp, gu) = kp(), kp()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    go = subprocess.Popen([WGPEER, "-priv", gp.hex(), "-peer", ou.hex(), "-peer-endpoint",
                           "127.0.0.1:%d" % port], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, bufsize=1)
    node = None
    try:
        gport = go.stdout.readline().split()[1]
        import threading  # drain the Go peer's event lines (a full pipe would stall it)
        threading.Thread(target=lambda: [None for _ in go.stdout], daemon=True).start()
        node = subprocess.Popen([MPY, os.path.join(HERE, "wg_node.py"), op.hex(), str(port), gu.hex(),
                                 gport], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                bufsize=1, env=ENV)
        node.stdout.readline()

        def cmd(line):
            node.stdin.write(line + "\n")
            node.stdin.flush()
            while True:
                ans = node.stdout.readline()
                if not ans:
                    raise RuntimeError("wg_node exited: %s" % node.stderr.read())
                if ans.split()[1:2] == [line.split()[0]]:
                    return ans.split()
        assert cmd("initiate")[0] == "OK"
        ans = cmd("burst %d 1387" % count)
        got, ms = int(ans[2]), int(ans[3])
        return {"echoed": got, "ms": ms, "datagrams_per_s_each_way": got * 1000.0 / max(ms, 1)}
    finally:
        for p in (node, go):
            if p:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer iterations (CI smoke run)")
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args()
    subprocess.run(["make", "-s", "-f", os.path.join(REPO, "cmodules/core/tests/wg.mk"),
                    "WG_OUT=" + os.path.dirname(CBENCH), "wg-bench"], check=True, cwd=REPO)
    if not os.access(WGPEER, os.X_OK):
        subprocess.run([os.path.join(REPO, "tests/gotools/wgpeer/build.sh")], check=True)
    n1, n2 = (20, 60) if args.quick else (50, 250)
    h1, h2 = (1, 2) if args.quick else (2, 6)
    speed_n = 2000 if args.quick else 20000
    r = {"packet_bytes": 1420}
    r["sizes"] = run_json([MPY, "-c", "import _tnwg, json; print(json.dumps(_tnwg.sizes()))"])
    # MicroPython heap taken by a Device with 8 peer slots (one GC block).
    r["heap_device_8_peers"] = run_json([MPY, "-c", (
        "import _tnwg, gc, os, json\n"
        "gc.collect(); f = gc.mem_free()\n"
        "d = _tnwg.Device(bytes(range(32)), 8, os.urandom, 0)\n"
        "gc.collect(); print(json.dumps(f - gc.mem_free()))")])
    r["callgrind_binding"] = instructions([MPY, MPY_SCRIPT], n1, n2, h1, h2)
    r["callgrind_c_engine"] = instructions([CBENCH], n1, n2, h1, h2)
    r["speed_binding"] = run_json([MPY, MPY_SCRIPT, "speed", str(speed_n)])
    r["speed_c_engine"] = run_json([CBENCH, "speed", str(speed_n)])
    r["wireguard_go"] = run_json([WGPEER, "-bench", "-bench-packets", str(speed_n * 5),
                                  "-bench-handshakes", "10" if args.quick else "40"])
    r["e2e_wireguard_go_echo"] = e2e(300 if args.quick else 3000)
    b, c, g = r["speed_binding"], r["speed_c_engine"], r["wireguard_go"]
    cb, cc = r["callgrind_binding"], r["callgrind_c_engine"]
    s = r["sizes"]
    print("WireGuard engine benchmark (1420-byte IP packets)")
    print("  sizes: peer %d B (incl. 3 keypairs, window %d), keypair %d B, replay %d B, device %d B"
          % (s["peer"], s["window"], s["keypair"], s["replay"], s["device"]))
    print("  MicroPython heap for a Device with 8 peer slots: %d B" % r["heap_device_8_peers"])
    print("  %-22s %12s %12s %14s" % ("", "encrypt", "decrypt", "handshake"))
    print("  %-22s %12d %12d %14d" % ("Ir binding (callgrind)", cb["encrypt_ir"], cb["decrypt_ir"],
                                      cb["handshake_ir"]))
    print("  %-22s %12d %12d %14d" % ("Ir C engine", cc["encrypt_ir"], cc["decrypt_ir"],
                                      cc["handshake_ir"]))
    print("  %-22s %10.0f/s %10.0f/s %11.0f us" % ("binding (wall)", b["seal_pps"], b["open_pps"],
                                                   b["handshake_us"]))
    print("  %-22s %10.0f/s %10.0f/s %11.0f us" % ("C engine (wall)", c["seal_pps"], c["open_pps"],
                                                   c["handshake_us"]))
    print("  %-22s %10.0f/s %10.0f/s %11.0f us" % ("wireguard-go (wall)", g["seal_pps"], g["open_pps"],
                                                   g["handshake_total_us"]))
    e = r["e2e_wireguard_go_echo"]
    print("  end to end: %d near-MTU datagrams echoed by wireguard-go in %d ms (%.0f/s each way)"
          % (e["echoed"], e["ms"], e["datagrams_per_s_each_way"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    else:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
