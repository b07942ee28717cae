"""The push JSON parser (modules/tailnet/jsonstream.py): equal to json.loads for any
document fed in any chunking, clean JsonError on truncated/invalid input, bounded memory."""
import json

import pytest
from hypothesis import given, settings, strategies as st

import _control_util  # noqa: F401
from tailnet import jsonstream as js

PROPS = settings(max_examples=120, derandomize=True, deadline=None)
scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
docs = st.recursive(scalars, lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=5), max_leaves=30)
tops = st.lists(docs, max_size=5) | st.dictionaries(st.text(max_size=8), docs, max_size=5)


def parse_chunked(data, cut, limit=100000):
    out = []
    p = js.Parser(js._Root(js.Budget(limit), out))
    for i in range(0, len(data), cut):
        p.feed(data[i:i + cut])
    p.finish()
    return out[0]


@PROPS
@given(tops, st.integers(1, 64), st.booleans())
def test_matches_json_loads(doc, cut, ascii_):
    data = json.dumps(doc, ensure_ascii=ascii_, indent=1 if cut % 2 else None).encode()
    assert parse_chunked(data, cut) == json.loads(data)


@PROPS
@given(tops, st.data())
def test_truncation_is_an_error(doc, data):
    raw = json.dumps(doc).encode()
    n = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(js.JsonError):
        parse_chunked(raw[:n], 7)


@PROPS
@given(st.binary(max_size=200), st.integers(1, 20))
def test_garbage_clean(data, cut):
    try:
        parse_chunked(data, cut)
    except js.JsonError:
        pass


def test_limits():
    with pytest.raises(js.JsonError, match="deeply"):
        parse_chunked(b"[" * 100 + b"]" * 100, 10)
    with pytest.raises(js.JsonError, match="too long"):
        p = js.Parser(js.Skip(), max_token=100)
        p.feed(b'["' + b"a" * 500)
    with pytest.raises(js.JsonError, match="too large"):
        parse_chunked(json.dumps(list(range(1000))).encode(), 10, limit=100)


def test_skipped_values_not_kept():
    # a handler that skips everything keeps only the parser's token buffer
    p = js.Parser(js.Skip(), max_token=64)
    p.feed(b"[")
    for _ in range(2000):
        p.feed(b'{"k":"' + b"v" * 40 + b'","n":[1,2,3,{"x":null}]},')
    p.feed(b"1]")
    p.finish()
    assert len(p._buf) == 0


def test_escapes():
    assert js.loads(b'["\\ud83d\\ude00","\\n\\t\\"\\\\\\/","\\u00e9"]') == ["\U0001F600", '\n\t"\\/', "\u00e9"]
    for bad in [b'["\\x"]', b'["\\u12"]', b'{"a" "b"}', b'[1,,2]', b"[nul]", b"[-]"]:
        with pytest.raises(js.JsonError):
            js.loads(bad)
