"""ts2021 Noise IK (modules/tailnet/noise.py) against an independent responder written
here with PyNaCl + cryptography + hashlib (the server side of control/controlbase)."""
import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings, strategies as st
from nacl.bindings import crypto_scalarmult, crypto_scalarmult_base

import _control_util  # noqa: F401  (sys.path + crypto facade)
from tailnet import noise

PROPS = settings(max_examples=60, derandomize=True, deadline=None)


def H(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def hk(ck, ikm, n):
    prk = hmac.new(ck, ikm, hashlib.blake2s).digest()
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(prk, prev + bytes([i]), hashlib.blake2s).digest()
        out.append(prev)
    return out


def respond(init, server_priv, version):
    """Server side: check the 101-byte initiation, build the 51-byte response.
    Returns (response, client machine pub, (server tx key, server rx key))."""
    assert len(init) == 101
    assert int.from_bytes(init[:2], "big") == version and init[2] == 1 and init[3:5] == b"\x00\x60"
    spub = crypto_scalarmult_base(server_priv)
    h = H(b"Noise_IK_25519_ChaChaPoly_BLAKE2s")
    ck = h
    h = H(h, b"Tailscale Control Protocol v%d" % version)
    h = H(h, spub)
    epub = init[5:37]
    h = H(h, epub)
    ck, k = hk(ck, crypto_scalarmult(server_priv, epub), 2)
    mpub = ChaCha20Poly1305(k).decrypt(bytes(12), init[37:85], h)
    h = H(h, init[37:85])
    ck, k = hk(ck, crypto_scalarmult(server_priv, mpub), 2)
    assert ChaCha20Poly1305(k).decrypt(bytes(12), init[85:101], h) == b""
    h = H(h, init[85:101])
    re = os.urandom(32)
    repub = crypto_scalarmult_base(re)
    h = H(h, repub)
    ck = hk(ck, crypto_scalarmult(re, epub), 1)[0]
    ck, k = hk(ck, crypto_scalarmult(re, mpub), 2)
    tag = ChaCha20Poly1305(k).encrypt(bytes(12), b"", h)
    k1, k2 = hk(ck, b"", 2)
    return b"\x02\x00\x30" + repub + tag, mpub, (k2, k1)


def record(key, n, pt):
    ct = ChaCha20Poly1305(key).encrypt(b"\0\0\0\0" + n.to_bytes(8, "big"), pt, None)
    return bytes([4]) + len(ct).to_bytes(2, "big") + ct


def pair(version=133):
    server = os.urandom(32)
    machine = os.urandom(32)
    hs = noise.Handshake(machine, crypto_scalarmult_base(server), version)
    init = hs.initiation()
    resp, mpub, skeys = respond(init, server, version)
    assert mpub == crypto_scalarmult_base(machine)
    return hs.finish(resp), skeys


def test_handshake_and_big_endian_records():
    tr, (stx, srx) = pair()
    # client -> server: records decrypt with the BE counter nonce
    recs = tr.seal(b"hello") + tr.seal(b"world")
    assert recs[0] == 4
    n1 = int.from_bytes(recs[1:3], "big")
    a = ChaCha20Poly1305(srx).decrypt(b"\0" * 4 + (0).to_bytes(8, "big"), recs[3:3 + n1], None)
    b = ChaCha20Poly1305(srx).decrypt(b"\0" * 4 + (1).to_bytes(8, "big"), recs[6 + n1:], None)
    assert (a, b) == (b"hello", b"world")
    # server -> client, with counters past 255 so a little-endian nonce would fail
    data = b"".join(record(stx, i, b"x%d" % i) for i in range(300))
    got = b""
    for i in range(0, len(data), 97):
        got += tr.feed(data[i:i + 97])
    assert got == b"".join(b"x%d" % i for i in range(300))


def test_split_at_4077():
    tr, (stx, srx) = pair()
    data = os.urandom(10000)
    recs = tr.seal(data)
    out, i, n = b"", 0, 0
    while i < len(recs):
        ln = int.from_bytes(recs[i + 1:i + 3], "big")
        assert ln + 3 <= 4096
        out += ChaCha20Poly1305(srx).decrypt(b"\0" * 4 + n.to_bytes(8, "big"), recs[i + 3:i + 3 + ln], None)
        i += 3 + ln
        n += 1
    assert out == data and n == 3


def test_oversized_and_tampered_records_rejected():
    tr, (stx, _) = pair()
    with pytest.raises(noise.NoiseError):
        tr.feed(b"\x04\x10\x00")  # 4096 + 3 > limit
    tr, (stx, _) = pair()
    r = bytearray(record(stx, 0, b"abc"))
    r[5] ^= 1
    with pytest.raises(noise.NoiseError):
        tr.feed(bytes(r))
    tr, (stx, _) = pair()
    with pytest.raises(noise.NoiseError):
        tr.feed(record(stx, 1, b"replayed/out of order"))


def test_bad_responses():
    server = os.urandom(32)
    hs = noise.Handshake(os.urandom(32), crypto_scalarmult_base(server), 133)
    init = hs.initiation()
    resp, _, _ = respond(init, server, 133)
    bad = bytearray(resp)
    bad[-1] ^= 1
    with pytest.raises(noise.NoiseError):
        hs.finish(bytes(bad))
    with pytest.raises(noise.NoiseError, match="refused"):
        hs.finish(b"\x03\x00\x05nope!")
    with pytest.raises(noise.NoiseError):
        hs.finish(resp[:50])


@PROPS
@given(st.lists(st.binary(max_size=5000), max_size=6), st.integers(1, 500))
def test_stream_any_split(msgs, cut):
    tr, (stx, srx) = pair()
    data = b"".join(record(stx, i, m) for i, m in enumerate(msgs))
    got = b""
    for i in range(0, len(data), cut):
        got += tr.feed(data[i:i + cut])
    assert got == b"".join(msgs)


@PROPS
@given(st.binary(max_size=3000))
def test_garbage_never_crashes(data):
    tr, _ = pair()
    try:
        tr.feed(data)
    except noise.NoiseError:
        pass
