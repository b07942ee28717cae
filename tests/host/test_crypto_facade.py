"""tailnet.crypto on CPython (through _crypto_cpython) against RFC vectors and
OpenSSL, and the same facade API shape as the firmware's."""
import hashlib
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "modules"))
sys.path.insert(0, os.path.join(HERE, "crypto_mpy"))
pytest.importorskip("nacl")
from tailnet import crypto  # noqa: E402
import crypto_rfc_vectors as R  # noqa: E402
from crypto_helpers import run_mpy, need_firmware  # noqa: E402

h = bytes.fromhex
API = ["x25519", "x25519_base", "aead_seal", "aead_open", "xaead_seal", "xaead_open",
       "secretbox_seal", "secretbox_open", "box_beforenm", "blake2s", "Blake2s",
       "hmac_blake2s", "hkdf", "random", "ct_equal"]


def test_cpython_uses_shim():
    assert crypto._c is None
    for name in API:
        assert callable(getattr(crypto, name)), name


def test_micropython_facade_does_not_import_shim():
    need_firmware()
    code = ("import sys\nfrom tailnet import crypto\n"
            "print(crypto._c is not None, 'tailnet._crypto_cpython' in sys.modules, "
            "all(callable(getattr(crypto, n)) for n in %r))" % (API,))
    assert run_mpy(code).stdout.strip() == "True False True"


def test_rfc7748():
    for k, u, out in R.X25519_52:
        assert crypto.x25519(h(k), h(u)) == h(out)
    a, b, apk, bpk, shared = [h(x) for x in R.X25519_61]
    assert crypto.x25519_base(a) == apk
    assert crypto.x25519(b, apk) == shared
    assert crypto.box_beforenm(bpk, a) == h(R.NACL_FIRSTKEY)
    with pytest.raises(ValueError):
        crypto.x25519(a, bytes(32))
    with pytest.raises(ValueError):
        crypto.box_beforenm(bytes(32), a)


def test_rfc8439_aead_and_out():
    for name, key, nonce, aad, pt, ct in R.AEAD:
        assert crypto.aead_seal(h(key), h(nonce), pt, h(aad)) == h(ct), name
        assert crypto.aead_open(h(key), h(nonce), h(ct), h(aad)) == pt, name
        out = bytearray(len(pt) + 16)
        assert crypto.aead_seal(h(key), h(nonce), pt, h(aad), out=out) == len(out)
        assert crypto.aead_open(h(key), h(nonce), out, h(aad), out=out) == len(pt)
        bad = bytearray(h(ct))
        bad[0] ^= 1
        assert crypto.aead_open(h(key), h(nonce), bad, h(aad)) is None
        assert crypto.aead_open(h(key), h(nonce), bad, h(aad), out=bytearray(len(bad))) == -1


def test_rfc7693_and_hkdf():
    assert crypto.blake2s(b"abc") == h(R.BLAKE2S_ABC)
    assert R.blake2s_selftest(crypto.blake2s, crypto.Blake2s) == h(R.BLAKE2S_SELFTEST)
    ck, ikm = bytes(range(32)), b"ikm"
    t1, t2, t3 = crypto.hkdf(ck, ikm, 3)
    assert crypto.hkdf(ck, ikm, 1) == (t1,)
    t0 = crypto.hmac_blake2s(ck, ikm)
    assert t1 == crypto.hmac_blake2s(t0, b"\x01")
    assert t3 == crypto.hmac_blake2s(t0, t2 + b"\x03")


def test_secretbox_xaead_roundtrip():
    k, n = bytes(range(32)), bytes(range(24))
    c = crypto.secretbox_seal(k, n, b"msg")
    assert len(c) == 19 and crypto.secretbox_open(k, n, c) == b"msg"
    assert crypto.secretbox_open(k, n, c[:-1] + bytes([c[-1] ^ 1])) is None
    c = crypto.xaead_seal(k, n, b"msg", b"ad")
    assert crypto.xaead_open(k, n, c, b"ad") == b"msg"
    assert crypto.xaead_open(k, n, c, b"AD") is None


def test_errors_and_misc():
    with pytest.raises(ValueError, match="12 bytes"):
        crypto.aead_seal(bytes(32), bytes(11), b"")
    with pytest.raises(ValueError):
        crypto.x25519(bytes(31), bytes(32))
    with pytest.raises(TypeError):
        crypto.x25519("a" * 32, bytes(32))
    with pytest.raises(ValueError):
        crypto.blake2s(b"", b"", 33)
    with pytest.raises(ValueError):
        crypto.hkdf(bytes(32), b"", 0)
    assert crypto.ct_equal(b"ab", b"ab") and not crypto.ct_equal(b"ab", b"ac")
    assert not crypto.ct_equal(b"ab", b"abc")
    r = crypto.random(16)
    assert len(r) == 16 and r != crypto.random(16)
    b = crypto.Blake2s(16, b"key")
    b.update(b"a")
    b.update(b"bc")
    assert b.digest() == hashlib.blake2s(b"abc", digest_size=16, key=b"key").digest()
