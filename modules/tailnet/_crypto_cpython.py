# CPython implementation of the tailnet.crypto API (see crypto.py), built on
# PyNaCl (libsodium), hashlib and hmac. Only imported on CPython.
import hashlib
import hmac as _hmac

from nacl import bindings as _nb
from nacl.exceptions import CryptoError as _CryptoError

__all__ = [
    "x25519", "x25519_base", "aead_seal", "aead_open", "xaead_seal", "xaead_open",
    "secretbox_seal", "secretbox_open", "box_beforenm", "blake2s", "Blake2s",
    "hmac_blake2s", "hkdf", "ct_equal",
]


def _b(x, what):
    try:
        return bytes(memoryview(x))
    except TypeError:
        raise TypeError("%s: object with buffer protocol required" % what)


def _fixed(x, n, what):
    b = _b(x, what)
    if len(b) != n:
        raise ValueError("%s must be %d bytes, got %d" % (what, n, len(b)))
    return b


def _opt(x, what):
    return b"" if x is None else _b(x, what)


def _put(out, data):
    mv = memoryview(out)
    if mv.readonly:
        raise TypeError("out must be writable")
    if len(mv) < len(data):
        raise ValueError("out must hold %d bytes, has %d" % (len(data), len(mv)))
    mv[: len(data)] = data
    return len(data)


def x25519(scalar, point):
    k = _fixed(scalar, 32, "scalar")
    u = _fixed(point, 32, "point")
    try:
        r = _nb.crypto_scalarmult(k, u)
    except (_CryptoError, RuntimeError):
        raise ValueError("X25519 result is all zero (low-order point)")
    if r == bytes(32):
        raise ValueError("X25519 result is all zero (low-order point)")
    return r


def x25519_base(scalar):
    return _nb.crypto_scalarmult_base(_fixed(scalar, 32, "scalar"))


def _seal(enc, nlen, key, nonce, pt, ad, out):
    k = _fixed(key, 32, "key")
    n = _fixed(nonce, nlen, "nonce")
    r = enc(_b(pt, "data"), _opt(ad, "ad") or None, n, k)
    return r if out is None else _put(out, r)


def _open(dec, nlen, key, nonce, ct, ad, out):
    k = _fixed(key, 32, "key")
    n = _fixed(nonce, nlen, "nonce")
    c = _b(ct, "data")
    a = _opt(ad, "ad") or None
    try:
        r = None if len(c) < 16 else dec(c, a, n, k)
    except _CryptoError:
        r = None
    if out is None:
        return r
    if r is None:
        return -1
    return _put(out, r)


def aead_seal(key, nonce, data, ad=None, out=None):
    return _seal(_nb.crypto_aead_chacha20poly1305_ietf_encrypt, 12, key, nonce, data, ad, out)


def aead_open(key, nonce, data, ad=None, out=None):
    return _open(_nb.crypto_aead_chacha20poly1305_ietf_decrypt, 12, key, nonce, data, ad, out)


def xaead_seal(key, nonce, data, ad=None, out=None):
    return _seal(_nb.crypto_aead_xchacha20poly1305_ietf_encrypt, 24, key, nonce, data, ad, out)


def xaead_open(key, nonce, data, ad=None, out=None):
    return _open(_nb.crypto_aead_xchacha20poly1305_ietf_decrypt, 24, key, nonce, data, ad, out)


def secretbox_seal(key, nonce, msg, out=None):
    r = _nb.crypto_secretbox(_b(msg, "msg"), _fixed(nonce, 24, "nonce"), _fixed(key, 32, "key"))
    return r if out is None else _put(out, r)


def secretbox_open(key, nonce, c, out=None):
    k = _fixed(key, 32, "key")
    n = _fixed(nonce, 24, "nonce")
    cb = _b(c, "data")
    try:
        r = None if len(cb) < 16 else _nb.crypto_secretbox_open(cb, n, k)
    except _CryptoError:
        r = None
    if out is None:
        return r
    return -1 if r is None else _put(out, r)


def box_beforenm(their_pub, my_priv):
    pk = _fixed(their_pub, 32, "public key")
    sk = _fixed(my_priv, 32, "private key")
    try:
        return _nb.crypto_box_beforenm(pk, sk)
    except (_CryptoError, RuntimeError):
        raise ValueError("box: shared point is all zero (low-order key)")


def _b2_args(outlen, key):
    if not 1 <= outlen <= 32 or len(key) > 32:
        raise ValueError("blake2s: outlen must be 1..32 and key at most 32 bytes")


def blake2s(data=b"", key=b"", outlen=32):
    k = _opt(key, "key")
    _b2_args(outlen, k)
    return hashlib.blake2s(_opt(data, "data"), digest_size=outlen, key=k).digest()


class Blake2s:
    def __init__(self, outlen=32, key=b""):
        k = _opt(key, "key")
        _b2_args(outlen, k)
        self._h = hashlib.blake2s(digest_size=outlen, key=k)

    def update(self, data):
        self._h.update(_b(data, "data"))

    def digest(self):
        return self._h.digest()


def hmac_blake2s(key, data):
    return _hmac.new(_b(key, "key"), _b(data, "data"), hashlib.blake2s).digest()


def hkdf(ck, ikm, n):
    c = _fixed(ck, 32, "chaining key")
    if n not in (1, 2, 3):
        raise ValueError("hkdf: n must be 1, 2 or 3")
    t0 = hmac_blake2s(c, _b(ikm, "ikm"))
    outs = []
    prev = b""
    for i in range(1, n + 1):
        prev = hmac_blake2s(t0, prev + bytes([i]))
        outs.append(prev)
    return tuple(outs)


def ct_equal(a, b):
    return _hmac.compare_digest(_b(a, "a"), _b(b, "b"))
