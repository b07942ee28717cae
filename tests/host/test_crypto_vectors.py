"""All vector suites run INSIDE the MicroPython host firmware (C module _tncrypto)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "crypto_mpy"))
from crypto_helpers import HERE, VECTORS, run_script  # noqa: E402


@pytest.fixture(scope="module")
def report():
    p = run_script("fw_vectors.py", VECTORS, HERE, heapsize="16M")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def test_no_failures(report):
    assert report["fail"] == []


def test_wycheproof_x25519_counts(report):
    # 518 cases: 264 valid + 254 acceptable; exactly the 31 ZeroSharedSecret
    # (acceptable) cases are rejected, every other output matches.
    assert report["x25519_valid"] == 264
    assert report["x25519_acceptable"] == 254
    assert report["x25519_ok"] == 487
    assert report["x25519_rejected"] == 31


def test_wycheproof_chacha20_poly1305_counts(report):
    # 325 cases: 256 valid open+seal; 69 invalid rejected (9 by nonce length).
    assert report["aead_ok"] == 256
    assert report["aead_rejected"] == 69
    assert report["aead_badnonce"] == 9


def test_wycheproof_xchacha20_poly1305_counts(report):
    assert report["xaead_ok"] == 246
    assert report["xaead_rejected"] == 69
    assert report["xaead_badnonce"] == 9


def test_blake2s_kat(report):
    assert report["blake2s_ok"] == 512
    assert report.get("blake2s_fail", 0) == 0


def test_rfc_vectors(report):
    # RFC 7748 (5.2, 1 and 1000 iterations, 6.1), NaCl firstkey, RFC 8439
    # (2.3.2, 2.4.2, A.1, A.2, A.4, 2.5.2, A.3, 2.8.2, A.5), RFC 7693 (B, E).
    assert report["rfc_ok"] == 31
    assert report.get("rfc_fail", 0) == 0
