"""The public API (modules/tailnet/__init__.py) in the host firmware against our own
control server: `import tailnet` is cheap, the blocking up() reaches Running and prints
progress, status() prints like `tailscale status`, callbacks fire, down() stops."""
import os
import subprocess
import sys

import pytest

from _control_util import mpy_in

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def server():
    p = subprocess.Popen([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n"
                          "import asyncio, _control_server as c\n"
                          "async def m():\n s = await c.Server('ok').start()\n print(s.port, flush=True)\n"
                          " await asyncio.Event().wait()\nasyncio.run(m())" % HERE], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    yield "http://127.0.0.1:%d" % port
    p.kill()
    p.wait()


def test_import_is_cheap():
    out = mpy_in([], "import gc\ngc.collect()\na=gc.mem_alloc()\nimport tailnet\ngc.collect()\n"
                     "print(gc.mem_alloc()-a, sorted(k for k in __import__('sys').modules if k.startswith('tailnet')))").stdout
    used, mods = out.split(" ", 1)
    assert int(used) < 2048 and mods.strip() == "['tailnet']", out


def test_blocking_up_status_down(server, tmp_path):
    code = ("import tailnet\nseen=[]\ntailnet.on_state(seen.append)\n"
            "n = tailnet.up(authkey='k', control_url=%r, hostname='api1', state_path=%r, timeout=30)\n"
            "st = tailnet.status()\nprint('STATE', st['BackendState'], len(st['Peers']))\n"
            "tailnet.down()\nprint('SEEN', seen)\n") % (server, str(tmp_path / "st"))
    out = mpy_in([], code, heapsize="64K", timeout=60).stdout
    assert "tailnet: state Starting" in out and "tailnet: state Running" in out   # progress
    assert "STATE Running 2" in out
    assert "100.64.0.100     peer100" in out and "100.64.0.1       peer1                    active" in out
    assert "SEEN ['Starting', 'Running', 'Stopped']" in out


def test_up_wrong_scheme_is_clear():
    p = mpy_in([], "import tailnet\ntailnet.up(control_url='ftp://x', hostname='a', state_path=None, timeout=5)",
               check=False)
    assert "control URL must start with http" in p.stdout + p.stderr


def test_key_expiry_detection():
    """Our key counts as expired on control's Expired flag (no clock needed) or when
    KeyExpiry has passed on a clock that is set; an unset board clock is not trusted."""
    import json
    import _control_util  # noqa: F401
    from tailnet import netmap
    from tailnet.node import key_expired
    unset, now = (2000, 1, 1, 0, 0, 0), (2026, 11, 28, 3, 5, 11)
    assert not key_expired(None, now) and not key_expired("2099-01-01T00:00:00Z", now)
    assert key_expired("2026-11-28T03:05:10.726692303Z", now)
    assert not key_expired("2026-11-28T03:05:12Z", now) and not key_expired("2026-11-28T03:05:10Z", unset)
    msg = {"Node": {"ID": 1, "Key": "nodekey:" + "11" * 32, "Addresses": ["100.64.0.1/32"],
                    "KeyExpiry": "2099-01-01T00:00:00Z", "Expired": True}}
    b = json.dumps(msg).encode()
    m = netmap.NetMap()
    for d in netmap.Stream().feed(len(b).to_bytes(4, "little") + b):
        m.apply(d)
    assert key_expired(netmap.unpack(m.self_node)[netmap.EXPIRY], unset)
