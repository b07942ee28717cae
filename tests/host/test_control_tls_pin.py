"""TLS to control with a pinned server certificate (tls_pin = SHA-256 of the certificate
DER, checked instead of a CA) and an expired pre-auth key, in the host firmware (64-bit,
mbedTLS) against a real Headscale over TLS (tools/testnet.py).

- right pin, no CA: Running;
- wrong pin: PinError naming the expected and the received fingerprint within seconds,
  state Stopped, one connection attempt (no retry), state file untouched;
- the same pin on the embedded DERP (same host, same certificate): connects; wrong: refused;
- expired pre-auth key: LoginError mentioning expiry, state NeedsLogin, no node, no crash."""
import base64
import hashlib
import json
import os
import re
import subprocess
import time

import pytest

from test_control_interop import NodeProc, hs_node, tmp  # noqa: F401 (fixture)
from _control_util import MICROPYTHON

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def net():
    from testnet import Testnet

    with Testnet(peers=0) as n:
        yield n


def server_der(net):
    pem = open(net.certs["server.pem"]).read()
    b64 = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S).group(1)
    return base64.b64decode("".join(b64.split()))


def served_der(net):
    """The certificate Headscale actually serves, fetched with CPython ssl in the netns."""
    code = ("import ssl,socket,sys\nc=ssl.create_default_context();c.check_hostname=False;"
            "c.verify_mode=ssl.CERT_NONE\ns=c.wrap_socket(socket.create_connection(('127.0.0.1',%d)),"
            "server_hostname='localhost')\nsys.stdout.write(s.getpeercert(True).hex())" % net.control_port)
    out = subprocess.run(net.exec_prefix + ["python3", "-c", code], capture_output=True, text=True, timeout=30)
    return bytes.fromhex(out.stdout.strip())


def test_pin_right_then_wrong(net, tmp):
    der = server_der(net)
    assert served_der(net) == der
    digest = hashlib.sha256(der).digest()
    pin_b64 = "sha256/" + base64.b64encode(digest).decode()
    n = NodeProc(net, tmp, "mpypin", heapsize="256K", authkey=net.authkey(), run=1, no_ca=True,
                 tls_pin=pin_b64)
    n.finish(120)
    assert any(l.startswith("JOINED") for l in n.lines), n.lines
    st = [json.loads(l[7:]) for l in n.lines if l.startswith("STATUS ")][0]
    assert st["state"] == "Running" and len(st["addrs"]) == 2
    assert hs_node(net, "mpypin") is not None

    # the same node (same state file), a wrong pin (hex form): clear error, no retry, file kept
    statepath = os.path.join(tmp, "mpypin.state")
    before = open(statepath, "rb").read()
    mtime = os.stat(statepath).st_mtime_ns
    wrong = hashlib.sha256(b"not the certificate").hexdigest()
    t0 = time.time()
    n = NodeProc(net, tmp, "mpypin", heapsize="256K", authkey=net.authkey(), run=1, no_ca=True,
                 tls_pin="sha256/" + wrong, watch=True, verbose=2, timeout=60)
    try:
        line = n.wait_line(lambda l: l.startswith("ERROR"), 60)
        took = time.time() - t0
        n.finish(30)
    finally:
        n.kill()
    print(line, "(%.1f s)" % took)
    assert line.startswith("ERROR PinError"), line
    assert ("expected sha256/" + wrong) in line and ("got sha256/" + digest.hex()) in line, line
    assert took < 20, took                                    # not a timeout: the first connection
    assert sum("connecting to" in l for l in n.lines) == 1, n.lines    # no retry
    assert "CB Stopped" in n.lines and "CB NeedsLogin" not in n.lines and "CB Running" not in n.lines, n.lines
    assert not [l for l in n.lines if "Traceback" in l], n.lines
    assert open(statepath, "rb").read() == before and os.stat(statepath).st_mtime_ns == mtime


DERP_SCRIPT = r"""
import asyncio, sys, os
from binascii import unhexlify
from tailnet import derp_client, state
pin = unhexlify(os.getenv("TN_PIN"))
key = unhexlify(state.load(os.getenv("TN_STATE"))["node"])   # a node Headscale knows (verify_clients)
c = derp_client.DerpClient("127.0.0.1", int(os.getenv("TN_PORT")), key, tls=True,
                           server_name="localhost", pin=pin)
async def main():
    t = asyncio.create_task(c.run())
    for i in range(100):
        if c.state == derp_client.CONNECTED:
            break
        await asyncio.sleep(0.1)
    print("DERPSTATE", c.state, c.stats["connects"], c.last_error)
    c.stop()
asyncio.run(main())
"""


def derp_probe(net, tmp, pin_hex):
    path = os.path.join(tmp, "derp_pin.py")
    with open(path, "w") as f:
        f.write(DERP_SCRIPT)
    p = subprocess.run(net.exec_prefix + ["env", "MICROPYPATH=.frozen", "TN_PIN=" + pin_hex,
                                          "TN_STATE=" + os.path.join(tmp, "mpyderp.state"),
                                          "TN_PORT=%d" % net.control_port, MICROPYTHON, path],
                       capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def test_pin_on_embedded_derp(net, tmp):
    """Headscale's embedded DERP (same host and certificate as control): the pin, no CA."""
    digest = hashlib.sha256(server_der(net)).hexdigest()
    n = NodeProc(net, tmp, "mpyderp", heapsize="256K", authkey=net.authkey(), run=1)
    n.finish(120)
    assert any(l.startswith("JOINED") for l in n.lines), n.lines
    out = derp_probe(net, tmp, digest)
    assert re.search(r"DERPSTATE \S+ [1-9]", out), out
    out = derp_probe(net, tmp, hashlib.sha256(b"x").hexdigest())
    print(out)
    assert "DERPSTATE" in out and re.search(r"DERPSTATE \S+ 0", out), out
    assert "does not match tls_pin" in out, out


def test_expired_key_is_clear(net, tmp):
    key = net.authkey(expiration="1s")
    time.sleep(3)
    n = NodeProc(net, tmp, "mpyexp", authkey=key, timeout=30, watch=True)
    try:
        line = n.wait_line(lambda l: l.startswith("ERROR"), 60)
        n.finish(30)
    finally:
        n.kill()
    print(line)
    assert line.startswith("ERROR LoginError") and "expired" in line.lower(), line
    assert "CB NeedsLogin" in n.lines, n.lines
    assert not [l for l in n.lines if "Traceback" in l], n.lines
    assert hs_node(net, "mpyexp") is None


CPY_SCRIPT = r"""
import asyncio, sys
from tailnet import control
pin = control.parse_pin(sys.argv[2])
try:
    k = asyncio.run(control.fetch_server_key(sys.argv[1], pin=pin))
    print("KEY", len(k))
except control.PinError as e:
    print("PINERROR", e)
"""


def test_pin_cpython(net):
    """The same modules on CPython (ssl's getpeercert(binary_form=True))."""
    from _control_util import MODULES

    digest = hashlib.sha256(server_der(net)).digest()

    def run(pin):
        p = subprocess.run(net.exec_prefix + ["env", "PYTHONPATH=" + MODULES, "python3", "-c", CPY_SCRIPT,
                                              net.control_url, pin], capture_output=True, text=True, timeout=60)
        return p.stdout + p.stderr
    out = run(digest.hex())
    assert "KEY 32" in out, out
    out = run("sha256/" + base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    assert "PINERROR" in out and ("got sha256/" + digest.hex()) in out, out


def test_parse_pin():
    from _control_util import MODULES  # noqa: F401 (modules/ on sys.path)
    from tailnet import control

    d = hashlib.sha256(b"cert").digest()
    assert control.parse_pin(d) == d
    assert control.parse_pin("sha256/" + d.hex()) == d
    assert control.parse_pin(d.hex().upper()) == d
    assert control.parse_pin("sha256/" + base64.b64encode(d).decode()) == d
    assert control.parse_pin(None) is None
    for bad in ("sha256/abcd", "sha256/" + "zz" * 32, b"short", ""):
        with pytest.raises(ValueError):
            control.parse_pin(bad)


DP_SCRIPT = r"""
import asyncio, os
import tailnet
from tailnet import derp_client, magicsock_run

async def main():
    n = await tailnet.up_async(os.getenv("TN_KEY"), os.getenv("TN_URL"), "mpypindp", os.getenv("TN_STATE"),
                               timeout=60, verbose=0, tls_pin=os.getenv("TN_PIN"))
    dp = magicsock_run.DataPlane(n, udp_port=None)
    await dp.start()
    ok = await dp.derp.wait_connected(20000)
    print("DP", ok, dp.derp.pin is not None, dp.derp.insecure, dp.derp.last_error)
    await dp.stop()
    await tailnet.down_async()
asyncio.run(main())
"""


def test_pin_covers_dataplane_derp(net, tmp):
    """up(tls_pin=..) without a CA, then the data plane: its DERP connection to Headscale's
    embedded DERP (the control host) is checked against the same pin and connects."""
    path = os.path.join(tmp, "dp_pin.py")
    with open(path, "w") as f:
        f.write(DP_SCRIPT)
    pin = "sha256/" + hashlib.sha256(server_der(net)).hexdigest()
    p = subprocess.run(net.exec_prefix + ["env", "MICROPYPATH=.frozen", "TN_PIN=" + pin, "TN_KEY=" + net.authkey(),
                                          "TN_URL=" + net.control_url, "TN_STATE=" + os.path.join(tmp, "dp.state"),
                                          MICROPYTHON, "-X", "heapsize=256K", path],
                       capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert "DP True True True None" in out, out
