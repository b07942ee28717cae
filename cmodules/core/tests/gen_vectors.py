#!/usr/bin/env python3
"""Flatten the JSON test vectors into a line format the C test reads.

Line formats (hex fields, "-" for empty):
  x25519 <private> <public> <shared> <result> <zero_flag 0|1>
  aead|xaead <key> <iv> <aad> <msg> <ct> <tag> <result>
  blake2s <in> <key> <out>
Usage: gen_vectors.py VECTORS_DIR OUT_FILE
"""
import json
import os
import sys


def h(s):
    return s if s else "-"


def main(vdir, out):
    lines = []
    d = json.load(open(os.path.join(vdir, "wycheproof", "x25519_test.json")))
    for g in d["testGroups"]:
        for t in g["tests"]:
            z = 1 if "ZeroSharedSecret" in t["flags"] else 0
            lines.append("x25519 %s %s %s %s %d" % (t["private"], t["public"], t["shared"], t["result"], z))
    for kind, name in (("aead", "chacha20_poly1305_test.json"), ("xaead", "xchacha20_poly1305_test.json")):
        d = json.load(open(os.path.join(vdir, "wycheproof", name)))
        for g in d["testGroups"]:
            for t in g["tests"]:
                lines.append("%s %s %s %s %s %s %s %s" % (kind, h(t["key"]), h(t["iv"]), h(t["aad"]),
                    h(t["msg"]), h(t["ct"]), h(t["tag"]), t["result"]))
    for t in json.load(open(os.path.join(vdir, "blake2", "blake2s-kat.json"))):
        lines.append("blake2s %s %s %s" % (h(t["in"]), h(t["key"]), h(t["out"])))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
