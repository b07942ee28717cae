"""The stock-firmware path: `mpremote mip install` of tailnet (.mpy) plus the native _tncrypto
module into a *stock* MicroPython (unix port built without our cmodules, $BUILD/stock/), then
the crypto vector suites run there through tailnet.crypto -> the native module.

natmod/build.sh builds the stock firmware, the native modules (x64, armv6m, armv7emsp, rv32imc)
and the mip package files. The install goes through the real mpremote, over a pty, into the
stock firmware acting as a device (tools/tnctl_devsim.py).
"""
import json
import os
import subprocess
import sys

import pytest

from mpy import BUILD, REPO, VECTORS

HERE = os.path.dirname(os.path.abspath(__file__))
STOCK = os.path.join(BUILD, "stock", "micropython")
DIST = os.path.join(BUILD, "natmod", "dist")
CRYPTO_MPY = os.path.join(HERE, "crypto_mpy")
sys.path.insert(0, os.path.join(REPO, "tools"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def natmod_build():
    e = dict(os.environ)
    e.pop("MAKEFLAGS", None)
    p = subprocess.run([os.path.join(REPO, "natmod", "build.sh")], cwd=REPO, env=e,
                       capture_output=True, text=True, timeout=1500)
    assert p.returncode == 0, "natmod/build.sh failed\n%s" % p.stderr[-6000:]
    return p.stderr


def _stock(code, *, cwd, heapsize="16M", timeout=600, env_path="lib"):
    env = dict(os.environ)
    env["MICROPYPATH"] = env_path
    return subprocess.run([STOCK, "-X", "heapsize=" + heapsize, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_native_modules_built_for_targets(natmod_build):
    sizes = {}
    for arch in ("x64", "armv6m", "armv7emsp", "rv32imc"):
        path = os.path.join(DIST, arch, "_tncrypto.mpy")
        assert os.path.isfile(path), "%s not built" % path
        assert os.path.isfile(os.path.join(DIST, arch, "_tnwg.mpy"))
        with open(path, "rb") as f:
            head = f.read(4)
        # .mpy header: 'M', version 6, flags (arch in the top bits), small-int bits.
        assert head[0:1] == b"M" and head[1] == 6
        sizes[arch] = os.path.getsize(path)
        with open(os.path.join(DIST, "package-%s.json" % arch)) as f:
            pkg = json.load(f)
        targets = [u[0] for u in pkg["urls"]]
        assert "_tncrypto.mpy" in targets and "_tnwg.mpy" in targets and "tailnet/__init__.mpy" in targets
        assert not any("_crypto_cpython" in t for t in targets)
    arch_codes = {}
    for arch in sizes:
        with open(os.path.join(DIST, arch, "_tncrypto.mpy"), "rb") as f:
            arch_codes[arch] = f.read(3)[2] >> 2
    # MicroPython's arch numbers (py/persistentcode.h enum): x64=2, armv6m=4, armv7emsp=7, rv32imc=11
    assert arch_codes == {"x64": 2, "armv6m": 4, "armv7emsp": 7, "rv32imc": 11}, arch_codes
    print("native _tncrypto.mpy sizes:", sizes)


def test_stock_firmware_has_no_builtin_tncrypto(natmod_build, tmp_path):
    p = _stock("import _tncrypto", cwd=str(tmp_path))
    assert p.returncode != 0 and "ImportError" in p.stderr


@pytest.fixture(scope="module")
def device_fs(natmod_build, tmp_path_factory):
    """A stock 'device' with the x64 package installed by `mpremote mip install`."""
    from tnctl_devsim import DevSim

    fs = str(tmp_path_factory.mktemp("stockdev"))
    with DevSim(fs, firmware=STOCK) as dev:
        p = subprocess.run(["mpremote", "connect", dev.port, "mip", "install",
                            os.path.join(DIST, "package-x64.json")],
                           capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Installing: ./lib/_tncrypto.mpy" in p.stdout, p.stdout
    return fs


def test_mip_install_layout(device_fs):
    lib = os.path.join(device_fs, "lib")
    assert os.path.isfile(os.path.join(lib, "_tncrypto.mpy"))
    with open(os.path.join(DIST, "package-x64.json")) as f:
        for target, _ in json.load(f)["urls"]:
            assert os.path.isfile(os.path.join(lib, target)), target
    assert not os.path.exists(os.path.join(lib, "tailnet", "__init__.py"))


def test_native_module_is_what_tailnet_crypto_uses(device_fs):
    p = _stock("import _tncrypto, sys\nfrom tailnet import crypto\n"
               "print(_tncrypto.__file__)\nprint(crypto.x25519 is _tncrypto.x25519)\n"
               "print(crypto.x25519_base(bytes(range(32))).hex())", cwd=device_fs)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert lines[0].endswith("lib/_tncrypto.mpy") and lines[1] == "True"
    # RFC 7748 key of 0x00..0x1f, cross-checked against PyNaCl below.
    from nacl.bindings import crypto_scalarmult_base
    assert lines[2] == crypto_scalarmult_base(bytes(range(32))).hex()


def test_wireguard_engine_on_stock_firmware(device_fs):
    """The native _tnwg: two engines hand-shake and exchange packets in the stock firmware, the
    data path under micropython.heap_lock() (same scenario as test_wg_binding.py)."""
    from test_wg_binding import PRELUDE

    body = PRELUDE + """
handshake(a, sa, b)
for n in (0, 1, 15, 100, 1392):
    p = ip(n)
    buf[16:16 + len(p)] = p
    assert a.output(sa, buf, len(p), now(), res) == _tnwg.DATAGRAM
    assert res[2] == 32 + ((len(p) + 15) // 16) * 16, (n, res[2])
    assert xfer(b, res[2]) == _tnwg.PACKET
    assert res[0] == sb and res[1] == 16 and res[2] == len(p)
    assert bytes(buf[16:16 + len(p)]) == p
p = ip(1392)
n = len(p)
dg = bytearray(1600)
buf[16:16 + n] = p
def loop(count):  # in place, no slices, in a function: allocates nothing itself
    ok = 0
    for i in range(count):
        k1 = a.output(sa, buf, n, 2000, res)
        k2 = b.input(buf, res[2], 2000, None, res)
        if k1 == 1 and k2 == 2 and res[2] == n:
            ok += 1
        k1 = b.output(sb, buf, n, 2000, res)
        k2 = a.input(buf, res[2], 2000, None, res)
        if k1 == 1 and k2 == 2:
            ok += 1
        a.tick(dg, 2000, res)
        b.tick(dg, 2000, res)
    return ok
micropython.heap_lock()
try:
    ok = loop(200)
finally:
    micropython.heap_unlock()
assert ok == 400 and bytes(buf[16:16 + n]) == p, ok
print(_tnwg.__file__, a.stats()['handshakes'], b.stats()['rx_data'], a.stats()['rx_data'])
"""
    p = _stock(body, cwd=device_fs)
    assert p.returncode == 0, p.stdout + p.stderr
    f, hs, rx_b, rx_a = p.stdout.split()
    assert f.endswith("lib/_tnwg.mpy") and hs == "1" and rx_b == "205" and rx_a == "200"


def test_crypto_vectors_on_stock_firmware(device_fs):
    """The same vector suites as test_crypto_vectors.py, in the stock firmware + native module."""
    script = os.path.join(CRYPTO_MPY, "fw_vectors.py")
    code = "import sys\nsys.argv[:] = %r\nexec(open(%r).read())" % (
        [script, VECTORS, CRYPTO_MPY], script)
    p = _stock(code, cwd=device_fs, env_path="lib")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    report = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
    assert report["fail"] == []
    assert report["x25519_ok"] == 487 and report["x25519_rejected"] == 31
    assert report["aead_ok"] == 256 and report["aead_rejected"] == 69
    assert report["xaead_ok"] == 246 and report["xaead_rejected"] == 69
    assert report["blake2s_ok"] == 512
    assert report["rfc_ok"] >= 29 and report.get("rfc_fail", 0) == 0  # the RFC set grows


@pytest.mark.interop
def test_tailnet_join_on_stock_firmware(device_fs, testnet, tmp_path):
    """tailnet installed by mip (bytecode + native crypto) joins a real Headscale from the stock
    firmware: provision + `tnctl up status` exactly as on a board."""
    import shutil

    net = testnet
    fs = str(tmp_path / "flash")
    shutil.copytree(device_fs, fs)
    env = dict(os.environ, TAILNET_AUTHKEY=net.authkey(ephemeral=True))
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "provision"), "--host", fs,
                        "--firmware", STOCK, "--control-url", net.control_url, "--hostname", "stock1",
                        "--ca", net.ca_der], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    ns = ["--netns", net.netns] if net.netns else []
    p = subprocess.run([sys.executable, os.path.join(REPO, "tools", "tnctl"), "--host", fs,
                        "--firmware", STOCK] + ns + ["up", "status", "--json", "logout"],
                       capture_output=True, text=True, timeout=300)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    st = json.loads(out[out.index("{"):out.index("\n}") + 2])
    assert st["BackendState"] == "Running" and st["Self"]["Name"].startswith("stock1")
    assert set(pr.name for pr in net.peers) <= set(x["Name"].split(".")[0] for x in st["Peers"])
