# ts2021 control transport: Noise_IK_25519_ChaChaPoly_BLAKE2s client (sans-I/O).
# Layouts (control/controlbase/messages.go):
#   initiation (101 B): ver BE16 | 0x01 | len BE16 = 96 | e.pub 32 | enc(machine pub) 48 | tag 16
#   response   (51 B):  0x02 | len BE16 = 48 | re.pub 32 | tag 16
#   error:              0x03 | len BE16 | text (unauthenticated hint)
#   record:             0x04 | len BE16 | ciphertext (<= 4093 B), nonce = 0^4 | BE64 counter
from tailnet import crypto

PROTOCOL = b"Noise_IK_25519_ChaChaPoly_BLAKE2s"
PROLOGUE = b"Tailscale Control Protocol v"
INIT_LEN = 101
RESP_LEN = 51
T_INIT = 1
T_RESP = 2
T_ERROR = 3
T_RECORD = 4
MAX_RECORD = 4096            # including the 3-byte header
MAX_PLAIN = MAX_RECORD - 3 - 16  # 4077
_Z12 = bytes(12)


class NoiseError(Exception):
    pass


def _h(*parts):
    b = crypto.Blake2s()
    for p in parts:
        b.update(p)
    return b.digest()


def nonce(n):
    # 4 zero bytes then the 64-bit counter, BIG-endian (unlike WireGuard).
    return b"\x00\x00\x00\x00" + n.to_bytes(8, "big")


class Handshake:
    """Client side of the IK handshake. Call initiation(), then finish(response)."""

    def __init__(self, machine_priv, server_pub, version, eph_priv=None):
        if len(server_pub) != 32 or len(machine_priv) != 32:
            raise ValueError("noise keys must be 32 bytes")
        self.version = version
        self._s = machine_priv
        self._rs = server_pub
        self._e = eph_priv if eph_priv is not None else crypto.random(32)
        self._h = None
        self._ck = None

    def initiation(self):
        h = _h(PROTOCOL)
        ck = h
        h = _h(h, PROLOGUE + str(self.version).encode())
        h = _h(h, self._rs)
        epub = crypto.x25519_base(self._e)
        h = _h(h, epub)
        ck, k = crypto.hkdf(ck, crypto.x25519(self._e, self._rs), 2)
        c1 = crypto.aead_seal(k, _Z12, crypto.x25519_base(self._s), h)
        h = _h(h, c1)
        ck, k = crypto.hkdf(ck, crypto.x25519(self._s, self._rs), 2)
        t1 = crypto.aead_seal(k, _Z12, b"", h)
        h = _h(h, t1)
        self._h, self._ck = h, ck
        hdr = self.version.to_bytes(2, "big") + bytes((T_INIT, 0, 96))
        return hdr + epub + c1 + t1

    def finish(self, msg):
        """Process the 51-byte response; return a Transport. Raises NoiseError."""
        if len(msg) >= 3 and msg[0] == T_ERROR:
            raise NoiseError("control refused handshake: " + bytes(msg[3:]).decode("utf-8", "replace"))
        if len(msg) != RESP_LEN or msg[0] != T_RESP or msg[1] != 0 or msg[2] != 48:
            raise NoiseError("malformed noise response")
        if self._h is None:
            raise NoiseError("initiation not sent")
        re = bytes(msg[3:35])
        t2 = bytes(msg[35:51])
        h = _h(self._h, re)
        try:
            ck = crypto.hkdf(self._ck, crypto.x25519(self._e, re), 1)[0]
            ck, k = crypto.hkdf(ck, crypto.x25519(self._s, re), 2)
        except ValueError:
            raise NoiseError("bad server ephemeral key")
        if crypto.aead_open(k, _Z12, t2, h) is None:
            raise NoiseError("noise response authentication failed")
        k1, k2 = crypto.hkdf(ck, b"", 2)
        self._e = self._s = None
        return Transport(k1, k2)


class Transport:
    """Encrypts outgoing bytes into records and decrypts incoming records."""

    def __init__(self, tx_key, rx_key):
        self._tk = tx_key
        self._rk = rx_key
        self.tx_n = 0
        self.rx_n = 0
        self._buf = bytearray()

    def seal(self, data):
        """Return the records (one bytes object) carrying data, split at 4077 B."""
        out = []
        mv = memoryview(data)
        i = 0
        while True:
            chunk = mv[i:i + MAX_PLAIN]
            ct = crypto.aead_seal(self._tk, nonce(self.tx_n), bytes(chunk))
            self.tx_n += 1
            out.append(bytes((T_RECORD, len(ct) >> 8, len(ct) & 255)))
            out.append(ct)
            i += MAX_PLAIN
            if i >= len(data):
                break
        return b"".join(out)

    def open_into(self, ct, out):
        """Decrypt one record's ciphertext (memoryview ok) into out (may be ct itself)."""
        n = crypto.aead_open(self._rk, nonce(self.rx_n), ct, b"", out)
        if n is None or (isinstance(n, int) and n < 0):
            raise NoiseError("noise record authentication failed")
        self.rx_n += 1
        return n

    def feed(self, data):
        """Append received bytes; return the decrypted plaintext available (maybe b"")."""
        buf = self._buf
        buf.extend(data)
        out = []
        while len(buf) >= 3:
            if buf[0] != T_RECORD:
                raise NoiseError("unexpected noise message type %d" % buf[0])
            n = (buf[1] << 8) | buf[2]
            if n + 3 > MAX_RECORD:
                raise NoiseError("noise record too large (%d)" % n)
            if n < 16:
                raise NoiseError("noise record too short")
            if len(buf) < n + 3:
                break
            pt = crypto.aead_open(self._rk, nonce(self.rx_n), bytes(buf[3:n + 3]))
            if pt is None:
                raise NoiseError("noise record authentication failed")
            self.rx_n += 1
            out.append(pt)
            buf[:n + 3] = b""
        return b"".join(out) if len(out) != 1 else out[0]
