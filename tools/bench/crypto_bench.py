#!/usr/bin/env python3
"""Crypto benchmarks (not pass/fail tests). Prints figures and ratios.

    python3 tools/bench/crypto_bench.py [--skip-c] [--skip-fw] [--m0]

1. plain C (tools/bench/crypto_bench_host.c): tailnet core vs libsodium vs
   OpenSSL, same process (needs libsodium-dev and libssl-dev);
2. the C module called from the MicroPython host firmware vs PyNaCl
   (libsodium) and cryptography (OpenSSL) called from CPython, same machine and
   run, per call, with caller buffers (both sides pay interpreter overhead);
3. --m0: Cortex-M0+ instruction/cycle counts under unicorn
   (tools/bench/crypto_m0_unicorn.py).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORE = os.path.join(REPO, "cmodules", "core")
SRCS = ["util.c", "x25519.c", "chacha20.c", "poly1305.c", "aead.c", "salsa20.c", "blake2s.c"]
BUILD = os.environ.get("TAILNET_BUILD", os.path.join(REPO, "build"))
MICROPYTHON = os.path.join(BUILD, "host", "micropython")


def c_bench(opt):
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "bench")
        cmd = ["gcc", opt, "-I" + CORE, os.path.join(HERE, "crypto_bench_host.c")] + \
              [os.path.join(CORE, s) for s in SRCS] + ["-lsodium", "-lcrypto", "-o", exe]
        print("$ " + " ".join(cmd[:3]) + " crypto_bench_host.c <core> -lsodium -lcrypto && ./bench")
        subprocess.run(cmd, check=True)
        subprocess.run([exe], check=True)


def best(fn, n, reps=5):
    b = None
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = (time.perf_counter() - t0) / n * 1e6
        b = dt if b is None or dt < b else b
    return b


def cpython_side():
    from nacl import bindings as nb
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    sk = bytes(range(1, 33))
    pk = nb.crypto_scalarmult_base(bytes(range(2, 34)))
    key, n12, n24 = bytes(range(32)), bytes(12), bytes(24)
    priv, pub = X25519PrivateKey.from_private_bytes(sk), X25519PublicKey.from_public_bytes(pk)
    r = {"x25519": (best(lambda: nb.crypto_scalarmult(sk, pk), 40), best(lambda: priv.exchange(pub), 40))}
    c = ChaCha20Poly1305(key)
    for size in (64, 1024, 1420):
        pt = bytes(size)
        r["aead_seal_%d" % size] = (best(lambda: nb.crypto_aead_chacha20poly1305_ietf_encrypt(pt, None, n12, key), 400),
                                    best(lambda: c.encrypt(n12, pt, None), 400))
        r["secretbox_seal_%d" % size] = (best(lambda: nb.crypto_secretbox(pt, n24, key), 400), None)
    return r


def fw_side():
    env = dict(os.environ, MICROPYPATH=".frozen")
    p = subprocess.run([MICROPYTHON, os.path.join(HERE, "crypto_bench_fw.py")], capture_output=True, text=True,
                       env=env, check=True)
    return {ln.split()[0]: float(ln.split()[1]) for ln in p.stdout.splitlines()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-c", action="store_true")
    ap.add_argument("--skip-fw", action="store_true")
    ap.add_argument("--m0", action="store_true")
    ap.add_argument("--opt", default="-O2")
    a = ap.parse_args()
    if not a.skip_c:
        print("== 1. plain C, %s (TSC cycles; shared machine: best of several runs)" % a.opt)
        c_bench(a.opt)
    if not a.skip_fw:
        print("\n== 2. per call from the interpreters (us/call, best of 5): "
              "MicroPython firmware -> _tncrypto  vs  CPython -> PyNaCl / cryptography")
        fw = fw_side()
        cp = cpython_side()
        print("%-20s %12s %12s %12s %10s %10s" % ("op", "ours(fw)", "PyNaCl", "OpenSSL", "ours/nacl", "ours/ossl"))
        for k, v in fw.items():
            s, o = cp[k]
            print("%-20s %12.2f %12.2f %12s %10.2f %10s" % (k, v, s, "-" if o is None else "%.2f" % o, v / s,
                                                          "-" if o is None else "%.2f" % (v / o)))
        print("(time ratios: < 1 means ours is faster; sizes in bytes)")
    if a.m0:
        print("\n== 3. Cortex-M0+ under unicorn")
        for opt in ("-Os", "-O2"):
            subprocess.run([sys.executable, os.path.join(HERE, "crypto_m0_unicorn.py"), "--opt=" + opt], check=True)


if __name__ == "__main__":
    main()
