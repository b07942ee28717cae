# tailnet: STUN binding request / response codec (sans-I/O).
# MIT license
#
# Only what Tailscale needs (net/stun/stun.go): a 40-byte binding request with
# SOFTWARE "tailnode" and FINGERPRINT (Tailscale's servers drop anything else),
# and the mapped address out of a binding success response.

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    from binascii import crc32 as _crc32
except ImportError:  # a port built without MICROPY_PY_BINASCII_CRC32
    _crc32 = None

_BINDING_REQUEST = const(0x0001)
_BINDING_SUCCESS = const(0x0101)
_ATTR_MAPPED = const(0x0001)
_ATTR_XOR_MAPPED = const(0x0020)
_ATTR_XOR_MAPPED_OLD = const(0x8020)
_ATTR_SOFTWARE = const(0x8022)
_ATTR_FINGERPRINT = const(0x8028)
_FP_XOR = const(0x5354554E)
_HDR = const(20)

MAGIC = b"\x21\x12\xa4\x42"
SOFTWARE = b"tailnode"
REQUEST_LEN = const(40)
DEFAULT_PORT = const(3478)

# Counters of dropped input (module-wide; read them, reset them in tests).
stats = {"bad": 0, "wrong_txid": 0, "no_addr": 0}


def _crc32_py(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def crc32(data):
    if _crc32 is not None:
        return _crc32(data) & 0xFFFFFFFF
    return _crc32_py(data)


def is_stun(b):
    """True if a datagram looks like STUN (magicsock packetLooksLike order #1)."""
    return len(b) >= _HDR and (b[0] & 0xC0) == 0 and b[1] == 0x01 and b[4:8] == MAGIC


def request(txid, out=None):
    """Build a binding request for the 12-byte txid. Returns bytes, or with
    `out` (>= 40 bytes) fills it and returns 40."""
    if len(txid) != 12:
        raise ValueError("txid must be 12 bytes")
    b = out if out is not None else bytearray(REQUEST_LEN)
    if len(b) < REQUEST_LEN:
        raise ValueError("out too small")
    b[0:4] = b"\x00\x01\x00\x14"
    b[4:8] = MAGIC
    b[8:20] = txid
    b[20:24] = b"\x80\x22\x00\x08"
    b[24:32] = SOFTWARE
    b[32:36] = b"\x80\x28\x00\x04"
    fp = crc32(memoryview(b)[:32]) ^ _FP_XOR
    b[36] = (fp >> 24) & 0xFF
    b[37] = (fp >> 16) & 0xFF
    b[38] = (fp >> 8) & 0xFF
    b[39] = fp & 0xFF
    if out is not None:
        return REQUEST_LEN
    return bytes(b)


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _addr(body, xor, txid):
    # body: 0 | family | port(2) | addr(4 or 16); returns (ip_bytes, port) or None
    if len(body) < 4 or body[0] != 0:
        return None
    fam = body[1]
    n = 4 if fam == 1 else 16 if fam == 2 else 0
    if n == 0 or len(body) < 4 + n:
        return None
    port = _u16(body, 2)
    ip = bytearray(body[4 : 4 + n])
    if xor:
        port ^= 0x2112
        key = MAGIC + bytes(txid)
        for i in range(n):
            ip[i] ^= key[i]
    return bytes(ip), port


def parse_response(b, txid=None):
    """Parse a binding success response. Returns (txid, ip_bytes, port) with ip_bytes
    of length 4 or 16, or None (counted in `stats`) for anything else. With `txid`,
    a response for another transaction is dropped."""
    try:
        return _parse_response(b, txid)
    except Exception:  # a parser must never raise on hostile input
        stats["bad"] += 1
        return None


def _parse_response(b, want):
    if not is_stun(b) or _u16(b, 0) != _BINDING_SUCCESS:
        stats["bad"] += 1
        return None
    ln = _u16(b, 2)
    if ln & 3 or _HDR + ln > len(b):
        stats["bad"] += 1
        return None
    txid = bytes(b[8:20])
    if want is not None and txid != bytes(want):
        stats["wrong_txid"] += 1
        return None
    i = _HDR
    end = _HDR + ln
    fallback = None
    while i + 4 <= end:
        typ = _u16(b, i)
        alen = _u16(b, i + 2)
        if i + 4 + alen > end:
            stats["bad"] += 1
            return None
        body = b[i + 4 : i + 4 + alen]
        if typ == _ATTR_XOR_MAPPED or typ == _ATTR_XOR_MAPPED_OLD:
            a = _addr(body, True, txid)
            if a is not None:
                return txid, a[0], a[1]
        elif typ == _ATTR_MAPPED and fallback is None:
            fallback = _addr(body, False, txid)
        i += 4 + ((alen + 3) & ~3)
    if fallback is not None:
        return txid, fallback[0], fallback[1]
    stats["no_addr"] += 1
    return None


def ip_str(ip):
    """Text form of a 4- or 16-byte address (IPv6 uncompressed, lowercase hex)."""
    if len(ip) == 4:
        return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])
    return ":".join("%x" % ((ip[i] << 8) | ip[i + 1]) for i in range(0, 16, 2))
