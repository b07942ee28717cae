"""Hardware-in-the-loop suite: a real board on a serial port. Skipped without --port.

    pytest tests/hil --port /dev/ttyACM0 --board RPI_PICO_W [--flash | --install-arch armv6m]
        --ssid LAB --wifi-password-file ~/.lab-wifi
        --control-url https://192.168.1.10:8443 --authkey-file ~/.hs-key --ca ca.pem
        [--peer peer1]

See tests/hil/README.md for the rig (boards, cables, what the host runs).
"""
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
sys.path.insert(0, TOOLS)

ARCH = {"RPI_PICO": "armv6m", "RPI_PICO_W": "armv6m", "RPI_PICO2_W": "armv7emsp",
        "ESP32_GENERIC": "xtensawin", "ESP32_GENERIC_S3": "xtensawin", "ESP32_GENERIC_C3": "rv32imc"}


def pytest_addoption(parser):
    g = parser.getgroup("hil", "hardware in the loop")
    g.addoption("--port", help="serial port of the board; without it the suite is skipped")
    g.addoption("--board", default="RPI_PICO_W", choices=sorted(ARCH))
    g.addoption("--flash", action="store_true", help="flash build/firmware/<board> first")
    g.addoption("--install-arch", help="stock firmware: mip-install tailnet + native _tncrypto for ARCH")
    g.addoption("--ssid")
    g.addoption("--wifi-password-file")
    g.addoption("--control-url", help="control server reachable from the board (LAN address)")
    g.addoption("--authkey-file", help="a reusable pre-auth key")
    g.addoption("--ca", help="CA certificate of the control/DERP server (PEM or DER)")
    g.addoption("--peer", help="name of a tailscale peer on the same tailnet (ping/HTTP/UDP)")
    g.addoption("--hostname", default="hil-board")


def _opt(config, name):
    # The options exist only when this conftest was loaded at startup (pytest tests/hil ...).
    try:
        return config.getoption(name)
    except ValueError:
        return None


def pytest_collection_modifyitems(config, items):
    if _opt(config, "--port"):
        return
    skip = pytest.mark.skip(reason="HIL: no --port given (see tests/hil/README.md)")
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):  # only this suite, never the others
            item.add_marker(skip)


def _wait_port(port, timeout=20):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if os.path.exists(port):
            return
        time.sleep(0.25)
    raise AssertionError("%s did not come back after %ds" % (port, timeout))


@pytest.fixture(scope="session")
def hil(request):
    c = request.config
    cfg = {k: _opt(c, "--" + k.replace("_", "-")) for k in ("port", "board", "flash", "install_arch", "ssid",
                                          "wifi_password_file", "control_url", "authkey_file",
                                          "ca", "peer", "hostname")}
    if cfg["flash"]:
        subprocess.run([os.path.join(TOOLS, "flash"), "--board", cfg["board"], "--port", cfg["port"]],
                       check=True, timeout=300)
        time.sleep(3)
        _wait_port(cfg["port"])
    if cfg["install_arch"]:
        pkg = os.path.join(REPO, "build", "natmod", "dist", "package-%s.json" % cfg["install_arch"])
        subprocess.run(["mpremote", "connect", cfg["port"], "mip", "install", pkg], check=True, timeout=600)
    return cfg


@pytest.fixture
def board(hil):
    from tnctl_device import Device

    with Device(hil["port"], soft_reset=True) as dev:
        yield dev


@pytest.fixture(scope="session")
def figures():
    """Collected heap figures and timings, printed at the end of the session."""
    figs = {}
    yield figs
    if figs:
        print("\nHIL figures:")
        for k in sorted(figs):
            print("  %-40s %s" % (k, figs[k]))
