# tailnet crypto facade: the one module protocol code imports for crypto.
# On MicroPython it is the C module _tncrypto (cmodules/tncrypto); on CPython
# the same API comes from tailnet._crypto_cpython (PyNaCl/cryptography/hashlib),
# which is never imported on MicroPython.
#
# x25519(scalar, point) -> 32 bytes (ValueError on an all-zero result)
# x25519_base(scalar) -> 32 bytes
# aead_seal(key, nonce12, pt, ad=b"", out=None) -> bytes | int
# aead_open(key, nonce12, ct, ad=b"", out=None) -> bytes | None | int (-1 bad tag)
# xaead_seal / xaead_open: same with a 24-byte nonce (XChaCha20-Poly1305)
# secretbox_seal(key, nonce24, msg) -> tag||ct; secretbox_open(...) -> bytes | None
# box_beforenm(their_pub, my_priv) -> 32 bytes (ValueError on all-zero point)
# blake2s(data=b"", key=b"", outlen=32); Blake2s(outlen=32, key=b"")
# hmac_blake2s(key, data); hkdf(ck, ikm, n) -> n-tuple; random(n); ct_equal(a, b)
import os

try:
    import _tncrypto as _c
except ImportError:
    _c = None

if _c is None:
    from tailnet._crypto_cpython import *  # noqa: F401,F403
else:
    x25519 = _c.x25519
    x25519_base = _c.x25519_base
    aead_seal = _c.aead_seal
    aead_open = _c.aead_open
    xaead_seal = _c.xaead_seal
    xaead_open = _c.xaead_open
    secretbox_seal = _c.secretbox_seal
    secretbox_open = _c.secretbox_open
    box_beforenm = _c.box_beforenm
    hmac_blake2s = _c.hmac_blake2s
    hkdf = _c.hkdf
    ct_equal = _c.ct_equal

    def blake2s(data=b"", key=b"", outlen=32):
        return _c.blake2s(data, key, outlen)

    class Blake2s:
        # Incremental BLAKE2s; the C state lives in a bytearray.
        def __init__(self, outlen=32, key=b""):
            self._st = bytearray(_c.BLAKE2S_CTX_SIZE)
            _c.blake2s_init(self._st, outlen, key)

        def update(self, data):
            _c.blake2s_update(self._st, data)

        def digest(self):
            return _c.blake2s_digest(self._st)


def random(n):
    # Platform CSPRNG (getrandom() on unix, the hardware RNG on ESP32/RP2).
    return os.urandom(n)
