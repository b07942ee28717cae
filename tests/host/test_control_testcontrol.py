"""tailnet.up() in the host firmware against Tailscale's own testcontrol
(tests/gotools/testcontrol embeds tailscale.com/tstest/integration/testcontrol v1.102.3):
no early payload, a different /key answer, a one-shot full map for non-streaming requests."""
import json
import os
import socket
import subprocess
import time

import pytest

from _control_util import mpy_in
from mpy import BUILD

pytestmark = pytest.mark.interop
TESTCONTROL = os.environ.get("TAILNET_TESTCONTROL", os.path.join(BUILD, "go", "bin", "testcontrol"))


@pytest.fixture(scope="module")
def testcontrol(tmp_path_factory):
    if not os.access(TESTCONTROL, os.X_OK):
        pytest.fail("testcontrol missing: run `make testnet-tools` (%s)" % TESTCONTROL)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = open(str(tmp_path_factory.mktemp("tc") / "testcontrol.log"), "wb")
    p = subprocess.Popen([TESTCONTROL, "-addr", "127.0.0.1:%d" % port, "-nfake", "3"], stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield "http://127.0.0.1:%d" % port
    p.terminate()
    p.wait(10)
    assert p.returncode is not None


def test_up_against_testcontrol(testcontrol, tmp_path):
    code = ("import tailnet, json\n"
            "n = tailnet.up(control_url=%r, hostname='tcnode', state_path=%r, timeout=60)\n"
            "st = tailnet.status(False)\n"
            "print('RESULT', json.dumps([st['BackendState'], st['Self']['Addresses'], len(st['Peers']), "
            "n._conn.early is None, n.netmap.derpmap is not None]))\n"
            "tailnet.down()\n") % (testcontrol, str(tmp_path / "st"))
    p = mpy_in([], code, heapsize="256K", timeout=90)
    res = json.loads([l for l in p.stdout.splitlines() if l.startswith("RESULT ")][0][7:])
    state, addrs, npeers, no_early, has_derp = res
    assert state == "Running" and no_early and has_derp
    assert any(a.startswith("100.64.") for a in addrs) and any(a.startswith("fd7a:115c:a1e0:") for a in addrs)
    assert npeers == 3   # -nfake 3
