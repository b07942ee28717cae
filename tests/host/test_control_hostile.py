"""The control client against our own hostile/buggy control server (_control_server.py):
oversized frames, bad HPACK, truncated JSON, invalid keys, mid-stream close and GOAWAY end
in a clean error and a reconnect with backoff; a refused auth key is a clear LoginError.
Also the happy path (early payload or not) end to end on CPython."""
import asyncio
import os

import pytest

import _control_util  # noqa: F401
from _control_util import mpy_in
from _control_server import Server
from tailnet import node as nodemod
from tailnet.control import LoginError


async def drive(mode, secs, tmp_path, early=True, peers=2):
    s = await Server(mode, early=early, peers=peers).start()
    n = nodemod.Node("http://127.0.0.1:%d" % s.port, "tester", str(tmp_path / "st"), authkey="k", verbose=0)
    states = []
    n.on_state(states.append)
    t = n.start()
    for _ in range(int(secs * 10)):
        await asyncio.sleep(0.1)
        if t.done():
            break
    done = t.done()
    exc = t.exception() if done else None
    await n.stop()
    s.srv.close()
    return n, s, states, exc


@pytest.mark.parametrize("early", [True, False])
def test_happy_path(tmp_path, early):
    n, s, states, exc = asyncio.run(drive("ok", 2.0, tmp_path, early))
    assert exc is None and states[:2] == ["Starting", "Running"]
    assert n.netmap.addresses() == ["100.64.0.100/32", "fd7a:115c:a1e0::64/128"]
    assert sorted(n.netmap.peers) == [1, 2, 51]
    assert s.version == 133 and s.registers[0]["Version"] == 133 and s.registers[0]["Auth"] == {"AuthKey": "k"}
    assert s.maps[0]["OmitPeers"] and not s.maps[0]["Stream"] and s.maps[1]["Stream"]
    assert "Compress" not in s.maps[1]
    # the DERPMap arrived, so a lite update carried PreferredDERP on a concurrent stream
    assert s.maps[-1]["Hostinfo"]["NetInfo"]["PreferredDERP"] == 999


@pytest.mark.parametrize("mode,msg", [
    ("oversized", "frame too large"), ("badhpack", "hpack"), ("truncjson", "JSON"),
    ("badkey", "invalid key"), ("close", "closed"), ("goaway", "GOAWAY"),
])
def test_hostile_server_clean_error_and_backoff(tmp_path, mode, msg):
    n, s, states, exc = asyncio.run(drive(mode, 2.6, tmp_path))
    assert exc is None                      # the session loop never died
    assert msg in (n.error or ""), n.error
    assert s.connections >= 2               # it reconnected (after ~1 s of backoff)
    assert s.connections <= 4               # ... and did not spin


def test_refused_key_is_clear(tmp_path):
    n, s, states, exc = asyncio.run(drive("register_error", 2, tmp_path))
    assert exc is None and isinstance(n.login_error, LoginError) and "invalid authkey" in str(n.login_error)
    assert "NeedsLogin" in states and s.connections == 1


def test_backoff_bounds():
    assert nodemod.backoff_ms(0, 0) == 750 and nodemod.backoff_ms(0, 65535) < 1250
    assert nodemod.backoff_ms(3, 32768) == 8000
    assert 45000 <= nodemod.backoff_ms(40) <= 75000


# ---- the same inside the host firmware (frozen package, 64 KiB heap) ----------------
FW_CODE = """
import asyncio, gc
from tailnet.node import Node
async def main():
    n = Node("http://127.0.0.1:%d", "fw", %r, authkey="k", verbose=0)
    t = n.start()
    for i in range(%d):
        await asyncio.sleep(0.1)
        if t.done():
            break
    print("STATE", n.state, len(n.netmap.peers))
    print("ERROR", n.error)
    print("CONNECTS", n.connects)
    await n.stop()
asyncio.run(main())
"""


def run_fw(mode, secs, tmp_path):
    import subprocess
    import sys
    srv = subprocess.Popen([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n"
                            "import asyncio, _control_server as c\n"
                            "async def m():\n s = await c.Server(%r).start()\n print(s.port, flush=True)\n"
                            " await asyncio.Event().wait()\nasyncio.run(m())" % (os.path.dirname(__file__), mode)],
                           stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        code = FW_CODE % (port, str(tmp_path / "fw.state"), int(secs * 10))
        p = mpy_in([], code, heapsize="64K", timeout=60)
    finally:
        srv.kill()
        srv.wait()
    out = dict(l.split(" ", 1) for l in p.stdout.splitlines() if " " in l)
    return out, p


@pytest.mark.parametrize("mode,msg", [("ok", None), ("oversized", "frame too large"), ("badhpack", "hpack"),
                                      ("truncjson", "JSON"), ("badkey", "invalid key"), ("close", "closed")])
def test_in_firmware_64k(tmp_path, mode, msg):
    out, p = run_fw(mode, 2.6 if msg else 1.5, tmp_path)
    assert "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr
    if msg is None:
        assert out["STATE"] == "Running 3", p.stdout
    else:
        assert msg in out["ERROR"], p.stdout
        assert int(out["CONNECTS"]) >= 2, p.stdout
