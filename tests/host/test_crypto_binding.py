"""Bad input to every _tncrypto function raises ValueError/TypeError (never a
crash), inside the host firmware."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "crypto_mpy"))
from crypto_helpers import run_mpy, need_firmware  # noqa: E402

CODE = r"""
import _tncrypto as C
K = bytes(32)
bad = [None, 1, "x" * 32, b"", bytes(31), bytes(33), bytearray(12), bytes(1000)]
calls = [
    (C.x25519, 2), (C.x25519_base, 1), (C.aead_seal, 3), (C.aead_open, 3), (C.xaead_seal, 3),
    (C.xaead_open, 3), (C.secretbox_seal, 3), (C.secretbox_open, 3), (C.box_beforenm, 2),
    (C.hsalsa20, 2), (C.blake2s, 3), (C.hmac_blake2s, 2), (C.hkdf, 3), (C.ct_equal, 2),
    (C.poly1305, 2), (C.blake2s_update, 2), (C.blake2s_digest, 1),
]
n = other = 0
for fn, nargs in calls:
    for pos in range(nargs):
        for b in bad:
            args = [K] * nargs
            args[pos] = b
            try:
                fn(*args)
            except (ValueError, TypeError):
                pass
            except Exception as e:
                other += 1
                print("unexpected", fn, pos, repr(e))
            n += 1
# A forged incremental state must be refused, not trusted.
st = bytearray(b"\xff" * C.BLAKE2S_CTX_SIZE)
for f in (lambda: C.blake2s_update(st, b"x"), lambda: C.blake2s_digest(st)):
    try:
        f()
        other += 1
    except ValueError:
        pass
# out too small / read-only / wrong type
for out in (bytearray(3), b"x" * 64, 5):
    try:
        C.aead_seal(K, bytes(12), b"abc", None, out)
        other += 1
    except (ValueError, TypeError):
        pass
print("CALLS", n, "UNEXPECTED", other)
"""


def test_bad_input_never_crashes():
    need_firmware()
    p = run_mpy(CODE)
    assert "UNEXPECTED 0" in p.stdout, p.stdout
    assert "CALLS 320" in p.stdout
