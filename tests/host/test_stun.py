"""STUN codec (modules/tailnet/stun.py) on CPython, plus the same request built inside
the MicroPython firmware. The wire rules checked here are Tailscale's
stun.ParseBindingRequest (SOFTWARE "tailnode", FINGERPRINT last and valid)."""
import os
import struct
import sys
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from mpy import MICROPYTHON, REPO, run_mpy

sys.path.insert(0, os.path.join(REPO, "modules"))
from tailnet import stun  # noqa: E402

COOKIE = b"\x21\x12\xa4\x42"
PROPS = settings(max_examples=400, derandomize=True, deadline=None, database=None)


def check_like_tailscale(req):
    """Independent re-implementation of net/stun ParseBindingRequest."""
    assert len(req) == 40
    typ, ln = struct.unpack(">HH", req[:4])
    assert typ == 0x0001 and ln == 20 and req[4:8] == COOKIE
    attrs = []
    i = 20
    while i < len(req):
        t, alen = struct.unpack(">HH", req[i : i + 4])
        attrs.append((t, req[i + 4 : i + 4 + alen], i))
        i += 4 + ((alen + 3) & ~3)
    assert [a[0] for a in attrs] == [0x8022, 0x8028]
    assert attrs[0][1] == b"tailnode"
    fp_off = attrs[1][2]
    want = (zlib.crc32(req[:fp_off]) ^ 0x5354554E) & 0xFFFFFFFF
    assert struct.unpack(">I", attrs[1][1])[0] == want


def response(txid, ip, port, attr=0x0020, xor=True, extra=b""):
    fam = 1 if len(ip) == 4 else 2
    if xor:
        port ^= 0x2112
        key = COOKIE + txid
        ip = bytes(a ^ b for a, b in zip(ip, key))
    body = bytes((0, fam)) + struct.pack(">H", port) + ip
    attrs = extra + struct.pack(">HH", attr, len(body)) + body
    return struct.pack(">HH", 0x0101, len(attrs)) + COOKIE + txid + attrs


def test_request_matches_tailscale_rules():
    txid = bytes(range(12))
    req = stun.request(txid)
    check_like_tailscale(req)
    assert req[8:20] == txid
    assert stun.is_stun(req)


def test_request_into_buffer_no_alloc_path():
    buf = bytearray(64)
    assert stun.request(b"\x07" * 12, out=buf) == 40
    check_like_tailscale(bytes(buf[:40]))


@given(st.binary(max_size=300))
@PROPS
def test_python_crc_fallback_matches_zlib(data):
    assert stun._crc32_py(data) == zlib.crc32(data)


def test_parse_xor_mapped_v4_v6_and_fallbacks():
    txid = os.urandom(12)
    ip4 = bytes((127, 0, 0, 1))
    assert stun.parse_response(response(txid, ip4, 41641), txid) == (txid, ip4, 41641)
    ip6 = bytes.fromhex("fd7a115ca1e0000000000000000000ab")
    assert stun.parse_response(response(txid, ip6, 3478)) == (txid, ip6, 3478)
    assert stun.parse_response(response(txid, ip4, 5, attr=0x8020)) == (txid, ip4, 5)
    plain = response(txid, ip4, 999, attr=0x0001, xor=False)
    assert stun.parse_response(plain) == (txid, ip4, 999)
    # unknown attribute first (odd length, padded) is skipped
    extra = struct.pack(">HH", 0x8023, 3) + b"abc\x00"
    assert stun.parse_response(response(txid, ip4, 7, extra=extra)) == (txid, ip4, 7)
    assert stun.ip_str(ip4) == "127.0.0.1"


def test_wrong_txid_and_garbage_are_counted():
    stun.stats.update(bad=0, wrong_txid=0, no_addr=0)
    txid = os.urandom(12)
    r = response(txid, b"\x01\x02\x03\x04", 1)
    assert stun.parse_response(r, b"\x00" * 12) is None
    assert stun.stats["wrong_txid"] == 1
    assert stun.parse_response(b"hello world, not stun at all") is None
    assert stun.parse_response(stun.request(txid)) is None  # a request is not a response
    assert stun.stats["bad"] == 2
    hdr_only = struct.pack(">HH", 0x0101, 0) + COOKIE + txid
    assert stun.parse_response(hdr_only) is None
    assert stun.stats["no_addr"] == 1


@given(st.binary(max_size=120))
@PROPS
def test_garbage_never_raises(data):
    r = stun.parse_response(data)
    assert r is None or (len(r[1]) in (4, 16) and 0 <= r[2] < 65536)


@given(st.data())
@PROPS
def test_mutated_responses_never_raise(data):
    txid = data.draw(st.binary(min_size=12, max_size=12))
    r = bytearray(response(txid, b"\x0a\x00\x00\x01", 4242))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(r) - 1))
        r[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(r)))
    out = stun.parse_response(bytes(r[:cut]))
    assert out is None or isinstance(out, tuple)


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_micropython_request_and_parse_match_cpython():
    txid = bytes(range(12, 24))
    resp = response(txid, bytes((192, 168, 1, 9)), 40000)
    code = (
        "from tailnet import stun\n"
        "import binascii\n"
        "t = binascii.unhexlify(%r)\n"
        "print(binascii.hexlify(stun.request(t)).decode())\n"
        "r = stun.parse_response(binascii.unhexlify(%r), t)\n"
        "print(stun.ip_str(r[1]), r[2])\n" % (txid.hex(), resp.hex())
    )
    out = run_mpy(code).stdout.split()
    assert bytes.fromhex(out[0]) == stun.request(txid)
    check_like_tailscale(bytes.fromhex(out[0]))
    assert out[1:] == ["192.168.1.9", "40000"]
