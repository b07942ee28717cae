"""The WireGuard benchmark runs end to end (quick mode) and reports sane figures."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from mpy import BUILD, REPO


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_wg_bench_quick(micropython, tmp_path):
    out = tmp_path / "wg_bench.json"
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "bench", "wg_bench.py"), "--quick",
                    "--json", str(out)], check=True, timeout=600,
                   env=dict(os.environ, TAILNET_BUILD=BUILD))
    r = json.loads(out.read_text())
    cb, cc = r["callgrind_binding"], r["callgrind_c_engine"]
    # The binding adds a bounded overhead over the raw engine per packet.
    assert 0 < cc["encrypt_ir"] < cb["encrypt_ir"] < cc["encrypt_ir"] + 20000
    assert 0 < cc["decrypt_ir"] < cb["decrypt_ir"] < cc["decrypt_ir"] + 20000
    assert cb["handshake_ir"] > 1000000
    assert r["sizes"]["peer"] <= 1024
    assert r["wireguard_go"]["handshakes"] >= 1
