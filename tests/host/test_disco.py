"""Disco codec (modules/tailnet/disco.py) on CPython: boxes checked against libsodium
(PyNaCl) as an independent implementation, the §7.3 demultiplexer, and property tests
showing hostile packets are dropped and counted, never raised."""
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st
from nacl.public import Box, PrivateKey

from mpy import MICROPYTHON, REPO, run_mpy

sys.path.insert(0, os.path.join(REPO, "modules"))
from tailnet import disco, stun  # noqa: E402

PROPS = settings(max_examples=300, derandomize=True, deadline=None, database=None)
A = PrivateKey(bytes(range(1, 33)))
B = PrivateKey(bytes(range(101, 133)))


def pair():
    a = disco.Disco(bytes(A), bytes(A.public_key))
    b = disco.Disco(bytes(B), bytes(B.public_key))
    assert a.add_peer(b.pub) and b.add_peer(a.pub)
    return a, b


def test_ping_packet_matches_libsodium_box():
    a, _ = pair()
    nonce = bytes(range(24))
    txid = b"T" * 12
    node = b"N" * 32
    plain = disco.ping(txid, node)
    pkt = a.seal(bytes(B.public_key), plain, nonce)
    assert len(pkt) == 124  # §7.2: 62 + 16 + 46
    want = Box(A, B.public_key).encrypt(plain, nonce)  # nonce || tag || ct
    assert pkt == disco.MAGIC + bytes(A.public_key) + bytes(want)


def test_roundtrip_all_messages():
    a, b = pair()
    txid = os.urandom(12)
    s, m = b.open(a.seal(b.pub, disco.ping(txid, b"k" * 32, pad=40)))
    assert s == a.pub and m == (disco.PING, txid, b"k" * 32)
    pong = a.seal(b.pub, disco.pong(txid, "10.1.2.3", 41641))
    assert len(pong) == 110
    _, m = b.open(pong)
    assert m[0] == disco.PONG and disco.unmap(m[2]) == bytes((10, 1, 2, 3)) and m[3] == 41641
    eps = [("127.0.0.1", 1), (bytes(16), 65535)]
    _, m = b.open(a.seal(b.pub, disco.call_me_maybe(eps)))
    assert m == (disco.CALL_ME_MAYBE, [(disco.ip16("127.0.0.1"), 1), (bytes(16), 65535)])
    _, m = b.open(a.seal(b.pub, disco.call_me_maybe([])))
    assert m == (disco.CALL_ME_MAYBE, [])
    # old-style ping without node key; trailing bytes ignored on pong
    _, m = b.open(a.seal(b.pub, bytes((1, 0)) + txid))
    assert m == (disco.PING, txid, None)


def test_pong_from_libsodium_opens():
    _, b = pair()
    plain = bytes((2, 0)) + b"x" * 12 + disco.ip16("127.3.3.40") + b"\x03\xe7"
    nonce = os.urandom(24)
    pkt = disco.MAGIC + bytes(A.public_key) + bytes(Box(A, B.public_key).encrypt(plain, nonce))
    s, m = b.open(pkt)
    assert m[2] == disco.DERP_MAGIC_IP and m[3] == 999


def test_drops_are_counted():
    a, b = pair()
    good = a.seal(b.pub, disco.ping(b"1" * 12, b"2" * 32))
    stranger = disco.Disco(os.urandom(32))
    stranger.add_peer(b.pub)
    assert b.open(stranger.seal(b.pub, disco.ping(b"1" * 12, b"2" * 32))) is None
    assert b.stats["unknown"] == 1
    bad = bytearray(good)
    bad[-1] ^= 1
    assert b.open(bytes(bad)) is None and b.stats["bad_box"] == 1
    assert b.open(good[:70]) is None and b.stats["short"] == 1
    assert b.open(b"XX" + good[2:]) is None and b.stats["bad_magic"] == 1
    assert b.open(a.seal(b.pub, bytes((9, 0)) + bytes(40))) is None  # unknown type
    assert b.open(a.seal(b.pub, bytes((1, 1)) + bytes(44))) is None  # bad version
    assert b.stats["bad_msg"] == 2
    with pytest.raises(KeyError):
        stranger.seal(a.pub, b"\x01\x00")


def test_set_peers_keeps_cache_and_rejects_low_order():
    a, b = pair()
    key = b._shared[a.pub]
    b.set_peers([a.pub, bytes(32)])  # the all-zero key gives an all-zero shared point
    assert b._shared[a.pub] is key and not b.known(bytes(32))
    b.set_peers([])
    assert not b.known(a.pub)


def test_classify():
    txid = os.urandom(12)
    assert disco.classify(stun.request(txid)) == disco.KIND_STUN
    a, b = pair()
    assert disco.classify(a.seal(b.pub, disco.ping(txid, bytes(32)))) == disco.KIND_DISCO
    for t in (1, 2, 3, 4):
        assert disco.classify(bytes((t, 0, 0, 0)) + bytes(28)) == disco.KIND_WG
    assert disco.classify(b"\x05\x00\x00\x00" + bytes(28)) == disco.KIND_UNKNOWN
    assert disco.classify(b"\x01\x00\x00\x01") == disco.KIND_UNKNOWN
    assert disco.classify(bytes((0, 0, 0x7A, 0x12, 0, 0, 0, 0)) + bytes(20)) == disco.KIND_GENEVE
    assert disco.classify(disco.MAGIC + bytes(10)) == disco.KIND_UNKNOWN  # < 38 bytes
    assert disco.classify(b"") == disco.KIND_UNKNOWN


@given(st.binary(max_size=200))
@PROPS
def test_garbage_never_raises(data):
    _, b = pair()
    assert b.open(data) is None
    assert disco.classify(data) in range(5)
    assert disco.parse(data) is None or isinstance(disco.parse(data), tuple)


@given(st.data())
@PROPS
def test_mutated_packets_never_raise(data):
    a, b = pair()
    pkt = bytearray(a.seal(b.pub, disco.pong(b"t" * 12, "1.2.3.4", 5)))
    before = sum(b.stats.values())
    idx = data.draw(st.sets(st.integers(0, len(pkt) - 1), min_size=1, max_size=4))
    for i in idx:
        pkt[i] ^= data.draw(st.integers(1, 255))
    pkt = bytes(pkt[: data.draw(st.integers(0, len(pkt)))])
    assert b.open(pkt) is None  # any change breaks magic, key, nonce or tag
    assert sum(b.stats.values()) == before + 1


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_micropython_opens_libsodium_and_seals_for_it():
    nonce = bytes(24)
    plain = disco.ping(b"q" * 12, b"n" * 32)
    pkt = disco.MAGIC + bytes(A.public_key) + bytes(Box(A, B.public_key).encrypt(plain, nonce))
    code = (
        "from tailnet import disco\n"
        "import binascii as ba\n"
        "d = disco.Disco(ba.unhexlify(%r))\n"
        "d.add_peer(ba.unhexlify(%r))\n"
        "s, m = d.open(ba.unhexlify(%r))\n"
        "print(m[0], m[1], m[2])\n"
        "p = d.seal(s, disco.pong(m[1], '127.0.0.1', 4242), bytes(24))\n"
        "print(ba.hexlify(p).decode())\n"
        % (bytes(B).hex(), bytes(A.public_key).hex(), pkt.hex())
    )
    out = run_mpy(code).stdout.splitlines()
    assert out[0] == "1 %r %r" % (b"q" * 12, b"n" * 32)
    reply = bytes.fromhex(out[1])
    assert reply[6:38] == bytes(B.public_key)
    opened = Box(A, B.public_key).decrypt(reply[62:], reply[38:62])
    assert opened == disco.pong(b"q" * 12, "127.0.0.1", 4242)
