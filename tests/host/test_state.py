"""State file (modules/tailnet/state.py): atomic save, corruption detected and reported,
never silently replaced; on CPython and inside the host firmware."""
import os

import pytest

from _control_util import mpy_in
import _control_util  # noqa: F401
from tailnet import state


def test_roundtrip_and_atomic(tmp_path):
    p = str(tmp_path / "s")
    assert state.load(p) is None
    state.save(p, {"machine": "ab" * 32, "n": 1})
    state.save(p, {"machine": "ab" * 32, "n": 2})
    assert state.load(p) == {"machine": "ab" * 32, "n": 2}
    assert not os.path.exists(p + ".tmp")


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "empty"])
def test_corruption_reported_not_replaced(tmp_path, damage):
    p = str(tmp_path / "s")
    state.save(p, {"machine": "cd" * 32})
    data = open(p, "rb").read()
    bad = {"truncate": data[:-5], "flip": data[:-3] + b"X" + data[-2:], "header": b"junk\n" + data,
           "empty": b""}[damage]
    open(p, "wb").write(bad)
    with pytest.raises(state.StateError):
        state.load(p)
    assert open(p, "rb").read() == bad       # left for the user to inspect


def test_node_refuses_corrupt_state(tmp_path):
    from tailnet.node import Node
    p = str(tmp_path / "s")
    open(p, "wb").write(b"tailnet-state 1 00\n{}")
    with pytest.raises(state.StateError, match="corrupt"):
        Node("http://127.0.0.1:1", "x", p).load_identity()


def test_in_firmware(tmp_path):
    p = str(tmp_path / "s")
    code = ("from tailnet import state\nstate.save(%r, {'k': 'v'})\nprint(state.load(%r))\n"
            "open(%r, 'ab').write(b'x')\ntry:\n state.load(%r)\nexcept state.StateError as e:\n print('ERR', e)\n") % (p, p, p, p)
    out = mpy_in([], code).stdout
    assert "{'k': 'v'}" in out and "ERR" in out and "corrupt" in out
