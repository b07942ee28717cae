# Runs INSIDE the MicroPython host firmware: every vector file through the
# tailnet.crypto facade (i.e. the C module _tncrypto). Prints one JSON line:
# counts per suite and a list of failures. argv: [script, vectors_dir, here]
import sys
import json

VEC = sys.argv[1]
sys.path.append(sys.argv[2])
import crypto_rfc_vectors as R  # noqa: E402
from tailnet import crypto  # noqa: E402

h = bytes.fromhex
res = {"fail": []}


def bump(k):
    res[k] = res.get(k, 0) + 1


def fail(what):
    res["fail"].append(what)


def load(name):
    with open(VEC + "/" + name) as f:
        return json.load(f)


def wy_x25519():
    d = load("wycheproof/x25519_test.json")
    for g in d["testGroups"]:
        for t in g["tests"]:
            zero = "ZeroSharedSecret" in t["flags"]
            try:
                r = crypto.x25519(h(t["private"]), h(t["public"]))
            except ValueError:
                r = None
            if r is None:
                bump("x25519_rejected")
                if not zero or t["result"] == "valid":
                    fail("x25519 %d rejected" % t["tcId"])
            else:
                bump("x25519_ok")
                if r != h(t["shared"]) or zero:
                    fail("x25519 %d" % t["tcId"])
            bump("x25519_" + t["result"])
    d = None


def wy_aead(name, seal, opn, nlen, tag):
    d = load("wycheproof/" + name)
    for g in d["testGroups"]:
        for t in g["tests"]:
            key, iv, aad, msg = h(t["key"]), h(t["iv"]), h(t["aad"]), h(t["msg"])
            ct = h(t["ct"]) + h(t["tag"])
            valid = t["result"] == "valid"
            try:
                got = opn(key, iv, ct, aad)
            except ValueError:
                got = None
                if len(iv) == nlen:
                    fail("%s %d unexpected ValueError" % (tag, t["tcId"]))
                bump(tag + "_badnonce")
            ok = got == msg
            bump(tag + ("_ok" if ok else "_rejected"))
            if ok != valid:
                fail("%s %d open %s" % (tag, t["tcId"], t["result"]))
            if valid and seal(key, iv, msg, aad) != ct:
                fail("%s %d seal" % (tag, t["tcId"]))
            # provided-buffer path must agree
            if valid:
                out = bytearray(len(msg) + 16)
                n = seal(key, iv, msg, aad, out)
                if n != len(ct) or bytes(out) != ct:
                    fail("%s %d seal out" % (tag, t["tcId"]))
                n = opn(key, iv, out, aad, out)
                if n != len(msg) or bytes(out[:n]) != msg:
                    fail("%s %d open in place" % (tag, t["tcId"]))
            elif len(iv) == nlen:
                out = bytearray(len(ct))
                if opn(key, iv, ct, aad, out) != -1 or any(out):
                    fail("%s %d invalid wrote output" % (tag, t["tcId"]))


def kat_blake2s():
    for t in load("blake2/blake2s-kat.json"):
        data, key = h(t["in"]), h(t["key"])
        ok = crypto.blake2s(data, key) == h(t["out"])
        b = crypto.Blake2s(32, key)
        for i in range(0, len(data), 7):
            b.update(data[i:i + 7])
        ok = ok and b.digest() == h(t["out"])
        bump("blake2s_ok" if ok else "blake2s_fail")
        if not ok:
            fail("blake2s len %d key %d" % (len(data), len(key)))


def rfc():
    for k, u, out in R.X25519_52:
        chk("7748 5.2", crypto.x25519(h(k), h(u)) == h(out))
    k = u = bytes([9]) + bytes(31)
    for i in range(1000):
        k, u = crypto.x25519(k, u), k
        if i == 0:
            chk("7748 iter 1", k == h(R.X25519_ITER_1))
    chk("7748 iter 1000", k == h(R.X25519_ITER_1000))
    a, b, apk, bpk, shared = [h(x) for x in R.X25519_61]
    chk("7748 6.1 pub", crypto.x25519_base(a) == apk and crypto.x25519_base(b) == bpk)
    chk("7748 6.1 dh", crypto.x25519(a, bpk) == shared and crypto.x25519(b, apk) == shared)
    chk("nacl firstkey", crypto.box_beforenm(bpk, a) == h(R.NACL_FIRSTKEY))
    import _tncrypto as C
    for name, key, nonce, ctr, pt, want in R.CHACHA:
        chk(name, C.chacha20(h(key), h(nonce), ctr, pt) == h(want))
    for name, key, msg, tag in R.POLY1305:
        chk(name, C.poly1305(h(key), h(msg)) == h(tag))
    for name, key, nonce, aad, pt, ct in R.AEAD:
        chk(name + " seal", crypto.aead_seal(h(key), h(nonce), pt, h(aad)) == h(ct))
        chk(name + " open", crypto.aead_open(h(key), h(nonce), h(ct), h(aad)) == pt)
    chk("7693 B", crypto.blake2s(b"abc") == h(R.BLAKE2S_ABC))
    chk("7693 E", R.blake2s_selftest(crypto.blake2s, crypto.Blake2s) == h(R.BLAKE2S_SELFTEST))


def chk(name, ok):
    bump("rfc_ok" if ok else "rfc_fail")
    if not ok:
        fail(name)


wy_x25519()
wy_aead("chacha20_poly1305_test.json", crypto.aead_seal, crypto.aead_open, 12, "aead")
wy_aead("xchacha20_poly1305_test.json", crypto.xaead_seal, crypto.xaead_open, 24, "xaead")
kat_blake2s()
rfc()
print(json.dumps(res))
