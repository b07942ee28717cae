#!/usr/bin/env python3
"""Compile modules/tailnet to .mpy and write the mip package files into the dist directory.

    mkpackage.py --mpy-cross PATH --src modules --dist DIST ARCH...

DIST/package.json          tailnet as .mpy only (for firmware that has _tncrypto built in)
DIST/package-<arch>.json   tailnet .mpy + <arch>/_tncrypto.mpy and <arch>/_tnwg.mpy (native)
Install with: mpremote mip install DIST/package-<arch>.json  (mip reads the local files; URLs in
the JSON are relative to it, so DIST can also be served over HTTP or published as is).
"""
import argparse
import json
import os
import subprocess
import sys

VERSION = "0.1.0"
HOST_ONLY = ("_crypto_cpython.py",)
NATIVE = ("_tncrypto", "_tnwg")  # natmod/<name without _>/  # the CPython shim never goes to a board


def tailnet_sources(src):
    base = os.path.join(src, "tailnet")
    out = []
    for d, subdirs, names in os.walk(base):
        subdirs.sort()
        for n in sorted(names):
            if n.endswith(".py") and n not in HOST_ONLY:
                out.append(os.path.relpath(os.path.join(d, n), src))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--mpy-cross", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dist", required=True)
    ap.add_argument("--opt", default="3")
    ap.add_argument("archs", nargs="*")
    a = ap.parse_args(argv)
    urls = []
    for rel in tailnet_sources(a.src):
        mpy = rel[:-3] + ".mpy"
        dst = os.path.join(a.dist, mpy)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        subprocess.run([a.mpy_cross, "-O" + a.opt, "-s", rel, "-o", dst, os.path.join(a.src, rel)],
                       check=True)
        urls.append([mpy, mpy])
    total = sum(os.path.getsize(os.path.join(a.dist, u[1])) for u in urls)
    with open(os.path.join(a.dist, "package.json"), "w") as f:
        json.dump({"urls": urls, "version": VERSION}, f, indent=1)
    for arch in a.archs:
        natives = []
        for mod in NATIVE:
            native = "%s/%s.mpy" % (arch, mod)
            if not os.path.isfile(os.path.join(a.dist, native)):
                sys.exit("missing %s" % native)
            natives.append([mod + ".mpy", native])
        with open(os.path.join(a.dist, "package-%s.json" % arch), "w") as f:
            json.dump({"urls": urls + natives, "version": VERSION}, f, indent=1)
        print("package-%s.json: %d files, tailnet %d bytes + %s" % (
            arch, len(urls) + len(natives), total,
            " + ".join("%s %d bytes" % (n[0], os.path.getsize(os.path.join(a.dist, n[1]))) for n in natives)))
    print("package.json: %d files, %d bytes of .mpy" % (len(urls), total))


if __name__ == "__main__":
    main()
