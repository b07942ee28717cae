"""C unit tests of the WireGuard engine (cmodules/core/tests/wg_test.c): driven
clock, deterministic rng; built twice (-O2, and ASan+UBSan) by wg.mk."""
import os
import subprocess

from mpy import BUILD, REPO


def test_wg_engine_c_unit_tests():
    p = subprocess.run(
        ["make", "-s", "-f", os.path.join(REPO, "cmodules", "core", "tests", "wg.mk"),
         "WG_OUT=" + os.path.join(BUILD, "wgtest"), "test"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [l for l in p.stdout.splitlines() if l.startswith("wg_test:")]
    assert len(lines) == 2, p.stdout
    for l in lines:
        assert l.endswith(" 0 failures"), l
