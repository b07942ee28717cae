"""HPACK (modules/tailnet/hpack.py) against the `hpack` package: decoding what a
Huffman + dynamic-table encoder produces, and our encoder read back by the reference."""
import hpack as ref
import pytest
from hypothesis import given, settings, strategies as st

import _control_util  # noqa: F401
from tailnet import hpack

PROPS = settings(max_examples=300, derandomize=True, deadline=None)
name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20)
value = st.binary(max_size=80)
headers = st.lists(st.tuples(name, value), max_size=8)


@PROPS
@given(st.lists(headers, min_size=1, max_size=6), st.booleans())
def test_decode_reference_encoder(blocks, huffman):
    enc = ref.Encoder()
    dec = hpack.Decoder()
    for hl in blocks:
        blk = enc.encode([(n.encode(), v) for n, v in hl], huffman=huffman)
        assert dec.decode(blk) == [(n.encode(), v) for n, v in hl]


@PROPS
@given(headers)
def test_reference_decodes_ours(hl):
    got = ref.Decoder().decode(hpack.encode([(n, v) for n, v in hl]), raw=True)
    assert got == [(n.encode(), v) for n, v in hl]


@PROPS
@given(st.binary(max_size=200))
def test_huffman_roundtrip(s):
    from hpack.huffman import HuffmanEncoder
    from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
    assert hpack.huffman_decode(HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(s)) == s


@PROPS
@given(st.binary(max_size=300))
def test_garbage_is_clean_error(blk):
    try:
        hpack.Decoder().decode(blk)
    except hpack.HpackError:
        pass


def test_go_style_response_and_table_size():
    enc = ref.Encoder()
    enc.header_table_size = 256
    dec = hpack.Decoder()
    hl = [(":status", "200"), ("content-type", "application/json"), ("date", "Sat, 28 Nov 2026 00:00:00 GMT")]
    for _ in range(3):
        assert dec.decode(enc.encode(hl, huffman=True)) == [(a.encode(), b.encode()) for a, b in hl]
    assert dec.max_size == 256 and dec.size <= 256


def test_limits():
    with pytest.raises(hpack.HpackError):
        hpack.Decoder().decode(b"\x3f\xe1\x7f")  # table size update > 4096
    with pytest.raises(hpack.HpackError):
        hpack.Decoder().decode(b"\xff\xff\xff\xff\xff\x7f")  # huge index
    with pytest.raises(hpack.HpackError):
        hpack.Decoder(max_list=100).decode(hpack.encode([("a", "x" * 200)]))
    with pytest.raises(hpack.HpackError):
        hpack.huffman_decode(b"\xff\xff\xff\xff")  # EOS
