#!/usr/bin/env python3
"""Cross-compile the crypto core (cmodules/core) with -Wall -Wextra -Werror for
the MCU cores we target and report code size (`size`) and stack use
(-fstack-usage per function; worst call-chain depth of each public function
from -fcallgraph-info=su).

    python3 tools/crypto_size_report.py [--out DIR] [--opt -O2] [--json FILE]

Exit status: 0 when every available compiler built every file; 1 on a compile
error; an absent compiler is reported as "absent" (exit 0) unless --require-all.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRCS = ["util.c", "x25519.c", "chacha20.c", "poly1305.c", "aead.c", "salsa20.c", "blake2s.c"]
ARCHES = [
    ("cortex-m0plus", "arm-none-eabi-", ["-mcpu=cortex-m0plus", "-mthumb"]),
    ("cortex-m33", "arm-none-eabi-", ["-mcpu=cortex-m33", "-mthumb"]),
    ("rv32imc", "riscv64-unknown-elf-", ["-march=rv32imc", "-mabi=ilp32", "--specs=picolibc.specs"]),
    ("xtensa-lx106", "xtensa-lx106-elf-", ["-mlongcalls", "-ffreestanding", "-DTN_FREESTANDING"]),
]
API = ["tn_x25519", "tn_x25519_base", "tn_aead_seal", "tn_aead_open", "tn_xaead_seal",
       "tn_secretbox_seal", "tn_secretbox_open", "tn_box_beforenm", "tn_blake2s", "tn_hmac_blake2s", "tn_hkdf"]
WARN = ["-Wall", "-Wextra", "-Werror", "-std=c99", "-pedantic"]


def parse_ci(path, frames, edges):
    text = open(path).read()
    for m in re.finditer(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
        name, label = m.group(1), m.group(2)
        sm = re.search(r"(\d+) bytes \((static|dynamic|bounded)", label)
        if sm:
            frames[name] = int(sm.group(1))
    for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
        edges.setdefault(m.group(1), set()).add(m.group(2))


def worst(fn, frames, edges, seen=()):
    """Deepest stack from fn down (library callees without frames count 0)."""
    if fn in seen:
        return float("inf")  # recursion: unbounded
    best = 0
    for callee in edges.get(fn, ()):
        best = max(best, worst(callee, frames, edges, seen + (fn,)))
    return frames.get(fn, 0) + best


def build(arch, prefix, flags, opt, out, core):
    cc = prefix + "gcc"
    if not shutil.which(cc):
        return {"arch": arch, "absent": cc}
    d = os.path.join(out, arch)
    os.makedirs(d, exist_ok=True)
    objs, frames, edges, su = [], {}, {}, []
    for src in SRCS:
        obj = os.path.join(d, src[:-2] + ".o")
        cmd = [cc] + flags + opt.split() + WARN + ["-ffunction-sections", "-fdata-sections",
               "-fstack-usage", "-fcallgraph-info=su", "-I" + core, "-c", os.path.join(core, src), "-o", obj]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return {"arch": arch, "error": p.stderr[-4000:], "cmd": " ".join(cmd)}
        objs.append(obj)
        for line in open(obj[:-2] + ".su"):
            loc, n, kind = line.rstrip("\n").split("\t")
            su.append((loc.split(":")[-1], int(n), kind, src))
        parse_ci(obj[:-2] + ".ci", frames, edges)
    p = subprocess.run([prefix + "size"] + objs, capture_output=True, text=True, check=True)
    text = data = bss = 0
    per_file = {}
    for line in p.stdout.splitlines()[1:]:
        f = line.split()
        text += int(f[0]); data += int(f[1]); bss += int(f[2])
        per_file[os.path.basename(f[5])] = int(f[0])
    return {
        "arch": arch, "text": text, "data": data, "bss": bss, "per_file_text": per_file,
        "stack_worst": {fn: worst(fn, frames, edges) for fn in API},
        "frames": sorted(su, key=lambda t: -t[1]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "build", "crypto-c", "cross"))
    ap.add_argument("--opt", default="-O2")
    ap.add_argument("--core", default=os.path.join(REPO, "cmodules", "core"))
    ap.add_argument("--json")
    ap.add_argument("--require-all", action="store_true")
    a = ap.parse_args()
    results = [build(n, p, f, a.opt, a.out, a.core) for n, p, f in ARCHES]
    rc = 0
    print("crypto core, %s, -Wall -Wextra -Werror" % a.opt)
    print("| arch | text | data | bss | " + " | ".join(x[3:] for x in API) + " |")
    print("|---" * (4 + len(API)) + "|")
    for r in results:
        if "absent" in r:
            print("| %s | compiler %s absent |" % (r["arch"], r["absent"]))
            rc = rc or (1 if a.require_all else 0)
            continue
        if "error" in r:
            print("| %s | COMPILE ERROR |\n%s\n%s" % (r["arch"], r["cmd"], r["error"]))
            rc = 1
            continue
        print("| %s | %d | %d | %d | " % (r["arch"], r["text"], r["data"], r["bss"])
              + " | ".join(str(r["stack_worst"][fn]) for fn in API) + " |")
    print("\nstack columns: worst call-chain stack in bytes (callgraph of -fstack-usage frames; libc/libgcc callees not counted)")
    print("\ntext bytes per file:")
    for r in results:
        if "per_file_text" in r:
            print("  %-14s %s" % (r["arch"], " ".join("%s=%d" % kv for kv in sorted(r["per_file_text"].items()))))
    print("\nlargest frames per function (bytes):")
    for r in results:
        if "frames" in r:
            print("  %-14s %s" % (r["arch"], ", ".join("%s=%d" % (f, n) for f, n, k, s in r["frames"][:8])))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
