"""Differential tests: our C code inside the firmware vs libsodium (PyNaCl) and
OpenSSL (cryptography) on deterministic pseudo-random inputs, both directions
(our seal -> their open, their seal -> our open), batched into one firmware run
per primitive family."""
import hashlib
import hmac
import os
import random
import sys

import pytest

nacl_b = pytest.importorskip("nacl.bindings")
from nacl.public import Box, PrivateKey, PublicKey  # noqa: E402
from nacl.secret import SecretBox  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "crypto_mpy"))
from crypto_helpers import run_batch  # noqa: E402

LENS = [0, 1, 15, 16, 17, 63, 64, 65, 100, 255, 256, 1023, 1024, 1420]


def rb(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def flip(b, rng):
    b = bytearray(b)
    i = rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def test_x25519_vs_libsodium_and_openssl(tmp_path):
    rng = random.Random(25519)
    cases, want = [], []
    for i in range(48):
        sk, pk = rb(rng, 32), rb(rng, 32)
        if i % 4 == 0:  # a real public key
            pk = nacl_b.crypto_scalarmult_base(rb(rng, 32))
        cases.append({"op": "x25519", "args": [sk.hex(), pk.hex()]})
        want.append(nacl_b.crypto_scalarmult(sk, pk))
        # OpenSSL agrees with libsodium (it clamps too and masks bit 255).
        assert X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk)) == want[-1]
        cases.append({"op": "x25519_base", "args": [sk.hex()]})
        want.append(nacl_b.crypto_scalarmult_base(sk))
    got = run_batch(cases, tmp_path)
    assert [bytes.fromhex(g["ok"]) for g in got] == want


def test_chacha20poly1305_both_directions(tmp_path):
    rng = random.Random(8439)
    cases, meta = [], []
    for n in LENS * 3:
        key, nonce, ad, pt = rb(rng, 32), rb(rng, 12), rb(rng, rng.choice([0, 5, 13, 16, 40])), rb(rng, n)
        theirs = ChaCha20Poly1305(key).encrypt(nonce, pt, ad)
        cases.append({"op": "aead_seal", "args": [key.hex(), nonce.hex(), pt.hex(), ad.hex()]})
        cases.append({"op": "aead_open", "args": [key.hex(), nonce.hex(), theirs.hex(), ad.hex()]})
        cases.append({"op": "aead_open", "args": [key.hex(), nonce.hex(), flip(theirs, rng).hex(), ad.hex()]})
        meta.append((key, nonce, ad, pt, theirs))
    got = run_batch(cases, tmp_path)
    for i, (key, nonce, ad, pt, theirs) in enumerate(meta):
        ours = bytes.fromhex(got[3 * i]["ok"])
        assert ours == theirs
        # our seal -> OpenSSL and libsodium open
        assert ChaCha20Poly1305(key).decrypt(nonce, ours, ad) == pt
        assert nacl_b.crypto_aead_chacha20poly1305_ietf_decrypt(ours, ad or None, nonce, key) == pt
        # their seal -> our open; tampered -> None
        assert bytes.fromhex(got[3 * i + 1]["ok"]) == pt
        assert got[3 * i + 2]["ok"] is None


def test_xchacha20poly1305_both_directions(tmp_path):
    rng = random.Random(24)
    cases, meta = [], []
    for n in LENS * 2:
        key, nonce, ad, pt = rb(rng, 32), rb(rng, 24), rb(rng, rng.choice([0, 7, 32])), rb(rng, n)
        theirs = nacl_b.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad or None, nonce, key)
        cases.append({"op": "xaead_seal", "args": [key.hex(), nonce.hex(), pt.hex(), ad.hex()]})
        cases.append({"op": "xaead_open", "args": [key.hex(), nonce.hex(), theirs.hex(), ad.hex()]})
        cases.append({"op": "xaead_open", "args": [key.hex(), nonce.hex(), flip(theirs, rng).hex(), ad.hex()]})
        meta.append((key, nonce, ad, pt, theirs))
    got = run_batch(cases, tmp_path)
    for i, (key, nonce, ad, pt, theirs) in enumerate(meta):
        assert bytes.fromhex(got[3 * i]["ok"]) == theirs
        assert bytes.fromhex(got[3 * i + 1]["ok"]) == pt
        assert got[3 * i + 2]["ok"] is None


def test_secretbox_and_box_both_directions(tmp_path):
    rng = random.Random(1305)
    cases, meta = [], []
    for n in LENS * 2:
        key, nonce, msg = rb(rng, 32), rb(rng, 24), rb(rng, n)
        theirs = SecretBox(key).encrypt(msg, nonce).ciphertext  # tag || ct
        cases.append({"op": "secretbox_seal", "args": [key.hex(), nonce.hex(), msg.hex()]})
        cases.append({"op": "secretbox_open", "args": [key.hex(), nonce.hex(), theirs.hex()]})
        cases.append({"op": "secretbox_open", "args": [key.hex(), nonce.hex(), flip(theirs, rng).hex()]})
        meta.append(("sb", key, nonce, msg, theirs))
    for n in LENS:
        a, b = PrivateKey(rb(rng, 32)), PrivateKey(rb(rng, 32))
        nonce, msg = rb(rng, 24), rb(rng, n)
        theirs = Box(b, a.public_key).encrypt(msg, nonce).ciphertext  # Bob -> Alice
        # Alice: k = beforenm(bob_pub, alice_priv); open theirs; seal a reply
        cases.append({"op": "box_beforenm", "args": [bytes(b.public_key).hex(), bytes(a).hex()]})
        meta.append(("box", a, b, nonce, msg, theirs))
    got = run_batch(cases, tmp_path)
    nsb = 3 * len(LENS) * 2
    for i in range(len(LENS) * 2):
        _, key, nonce, msg, theirs = meta[i]
        ours = bytes.fromhex(got[3 * i]["ok"])
        assert ours == theirs
        assert SecretBox(key).decrypt(ours, nonce) == msg  # our seal -> libsodium open
        assert bytes.fromhex(got[3 * i + 1]["ok"]) == msg  # their seal -> our open
        assert got[3 * i + 2]["ok"] is None
    box_cases, box_meta = [], []
    for j, m in enumerate(meta[len(LENS) * 2:]):
        _, a, b, nonce, msg, theirs = m
        k = bytes.fromhex(got[nsb + j]["ok"])
        assert k == nacl_b.crypto_box_beforenm(bytes(b.public_key), bytes(a))
        box_cases.append({"op": "secretbox_open", "args": [k.hex(), nonce.hex(), theirs.hex()]})
        box_cases.append({"op": "secretbox_seal", "args": [k.hex(), nonce.hex(), msg.hex()]})
        box_meta.append((a, b, nonce, msg))
    got2 = run_batch(box_cases, tmp_path)
    for j, (a, b, nonce, msg) in enumerate(box_meta):
        assert bytes.fromhex(got2[2 * j]["ok"]) == msg  # libsodium box -> our open
        ours = bytes.fromhex(got2[2 * j + 1]["ok"])  # our box (Alice -> Bob) -> libsodium
        assert Box(b, a.public_key).decrypt(ours, nonce) == msg


def test_blake2s_hmac_hkdf_vs_hashlib(tmp_path):
    rng = random.Random(7693)
    cases, want = [], []
    for n in LENS + [2048, 4097]:
        data, key, outlen = rb(rng, n), rb(rng, rng.choice([0, 1, 16, 32])), rng.choice([1, 16, 20, 31, 32])
        cases.append({"op": "blake2s", "args": [data.hex(), key.hex(), outlen]})
        want.append(hashlib.blake2s(data, key=key, digest_size=outlen).digest().hex())
        hk = rb(rng, rng.choice([0, 32, 64, 65, 100]))
        cases.append({"op": "hmac_blake2s", "args": [hk.hex(), data.hex()]})
        want.append(hmac.new(hk, data, hashlib.blake2s).digest().hex())
        ck = rb(rng, 32)
        t0 = hmac.new(ck, data, hashlib.blake2s).digest()
        o1 = hmac.new(t0, b"\x01", hashlib.blake2s).digest()
        o2 = hmac.new(t0, o1 + b"\x02", hashlib.blake2s).digest()
        o3 = hmac.new(t0, o2 + b"\x03", hashlib.blake2s).digest()
        cases.append({"op": "hkdf", "args": [ck.hex(), data.hex(), 3]})
        want.append([o1.hex(), o2.hex(), o3.hex()])
        cases.append({"op": "hkdf", "args": [ck.hex(), data.hex(), 2]})
        want.append([o1.hex(), o2.hex()])
    got = run_batch(cases, tmp_path)
    assert [g["ok"] for g in got] == want


def test_errors_in_firmware(tmp_path):
    k = "00" * 32
    cases = [
        {"op": "x25519", "args": [k, "00" * 32]},          # all-zero result
        {"op": "x25519", "args": ["00" * 31, k]},          # short scalar
        {"op": "aead_seal", "args": [k, "00" * 11, "", ""]},
        {"op": "aead_seal", "args": ["00" * 31, "00" * 12, "", ""]},
        {"op": "xaead_open", "args": [k, "00" * 12, "00" * 16, ""]},
        {"op": "secretbox_seal", "args": [k, "00" * 23, "01"]},
        {"op": "box_beforenm", "args": ["00" * 32, "01" * 32]},
        {"op": "blake2s", "args": ["", "00" * 33, 32]},
        {"op": "blake2s", "args": ["", "", 33]},
        {"op": "hkdf", "args": [k, "", 4]},
        {"op": "x25519", "args": [7, k]},                  # not a buffer
        {"op": "aead_open", "args": [k, "00" * 12, "00" * 15, ""]},  # too short: None
        {"op": "secretbox_open", "args": [k, "00" * 24, "00" * 3]},
    ]
    got = run_batch(cases, tmp_path)
    assert [g.get("err") for g in got] == ["ValueError"] * 10 + ["TypeError", None, None]
    assert "all zero" in got[0]["msg"] and "12 bytes" in got[2]["msg"]
    assert got[11] == {"ok": None} and got[12] == {"ok": None}
