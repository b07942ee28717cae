# Runs INSIDE the MicroPython host firmware: reads a JSON batch of cases
# (hex fields) written by a pytest test, runs each through tailnet.crypto and
# writes the results as JSON. argv: [script, in.json, out.json]
import sys
import json
from tailnet import crypto

h = bytes.fromhex


def x(b):
    return None if b is None else b.hexlify().decode() if hasattr(b, "hexlify") else b.hex()


def run(c):
    op = c["op"]
    a = [h(v) if isinstance(v, str) else v for v in c["args"]]
    try:
        r = getattr(crypto, op)(*a)
    except ValueError as e:
        return {"err": "ValueError", "msg": str(e)}
    except TypeError as e:
        return {"err": "TypeError", "msg": str(e)}
    if isinstance(r, tuple):
        return {"ok": [x(v) for v in r]}
    if isinstance(r, (bytes, bytearray)):
        return {"ok": x(bytes(r))}
    return {"ok": r}


with open(sys.argv[1]) as f:
    cases = json.load(f)
out = [run(c) for c in cases]
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
print("done", len(out))
