"""Shared pytest fixtures: the host firmware and the real local tailnet."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mpy import MICROPYTHON, REPO  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "tools"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "interop: runs against real Tailscale/WireGuard components")


@pytest.fixture(scope="session")
def micropython():
    """Path of the host firmware; the suite needs `make host` first."""
    if not os.access(MICROPYTHON, os.X_OK):
        pytest.fail("host firmware missing: run `make host` (%s)" % MICROPYTHON)
    return MICROPYTHON


@pytest.fixture(scope="module")
def testnet():
    """A real Headscale with two real tailscaled peers, torn down after the module."""
    from testnet import Testnet

    with Testnet(peers=2) as net:
        yield net
