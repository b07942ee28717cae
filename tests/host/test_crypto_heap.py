"""seal/open with caller buffers allocate nothing (micropython.heap_lock), and
the in-place / overlap rules of the binding, inside the host firmware."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "crypto_mpy"))
from crypto_helpers import run_script, run_mpy, need_firmware  # noqa: E402


def test_no_allocation_with_provided_buffers():
    p = run_script("fw_heap.py")
    assert "HEAP []" in p.stdout, p.stdout + p.stderr


def test_in_place_and_overlap_rules():
    need_firmware()
    code = """
from tailnet import crypto
k = bytes(range(32)); n = bytes(12)
buf = bytearray(b"x" * 100 + bytes(16)); mv = memoryview(buf)
ref = crypto.aead_seal(k, n, b"x" * 100)
print(crypto.aead_seal(k, n, mv[:100], None, buf), bytes(buf) == ref)
print(crypto.aead_open(k, n, buf, None, buf), bytes(buf[:100]) == b"x" * 100)
try:
    crypto.aead_seal(k, n, mv[:99], None, mv[1:])
    print("no error")
except ValueError as e:
    print("VE", e)
sb = bytearray(16 + 50); sv = memoryview(sb); sv[16:] = b"y" * 50
print(crypto.secretbox_seal(k, bytes(24), sv[16:], sb), bytes(sb) == crypto.secretbox_seal(k, bytes(24), b"y" * 50))
print(crypto.secretbox_open(k, bytes(24), sb, sv[16:]), bytes(sv[16:]) == b"y" * 50)
try:
    crypto.aead_seal(k, n, b"abc", None, bytearray(18))
except ValueError as e:
    print("VE", e)
"""
    out = run_mpy(code).stdout.split("\n")
    assert out[0] == "116 True"
    assert out[1] == "100 True"
    assert out[2].startswith("VE ") and "overlap" in out[2]
    assert out[3] == "66 True"
    assert out[4] == "50 True"
    assert out[5] == "VE out must hold 19 bytes, has 18"
