"""Typed keys (modules/tailnet/keys.py): text forms, parsing rules, private keys never printed."""
import pytest
from nacl.bindings import crypto_scalarmult_base

import _control_util  # noqa: F401
from tailnet import keys


def test_text_forms_and_parse():
    raw = bytes(range(32))
    k = keys.Public(raw, keys.NODEKEY)
    assert k.text() == "nodekey:" + raw.hex() and str(k) == k.text()
    assert keys.Public.parse(k.text().upper().replace("NODEKEY:", "nodekey:"), keys.NODEKEY) == k
    for bad in ["", "nodekey:", "mkey:" + raw.hex(), "nodekey:" + raw.hex()[:-1], "nodekey:" + "zz" * 32]:
        with pytest.raises(ValueError):
            keys.Public.parse(bad, keys.NODEKEY)
    assert keys.zero_text(keys.DISCOKEY) == "discokey:" + "0" * 64


def test_private_never_printed():
    sec = bytes(range(1, 33))
    p = keys.machine_private(sec)
    clamped = keys.clamp(sec)
    assert p.public().raw == crypto_scalarmult_base(clamped)
    assert p.public().text().startswith("mkey:")
    for s in (repr(p), str(p), "%s" % p):
        assert clamped.hex() not in s and sec.hex() not in s
    assert keys.node_private().public().prefix == "nodekey:"
