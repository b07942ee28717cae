# HPACK (RFC 7541): decoder with Huffman and dynamic table; encoder emits
# "literal without indexing", no Huffman (always valid, never touches our table).
from binascii import unhexlify


class HpackError(Exception):
    pass


_STATIC = (
    (b":authority", b""), (b":method", b"GET"), (b":method", b"POST"), (b":path", b"/"),
    (b":path", b"/index.html"), (b":scheme", b"http"), (b":scheme", b"https"),
    (b":status", b"200"), (b":status", b"204"), (b":status", b"206"), (b":status", b"304"),
    (b":status", b"400"), (b":status", b"404"), (b":status", b"500"), (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"), (b"accept-language", b""), (b"accept-ranges", b""),
    (b"accept", b""), (b"access-control-allow-origin", b""), (b"age", b""), (b"allow", b""),
    (b"authorization", b""), (b"cache-control", b""), (b"content-disposition", b""),
    (b"content-encoding", b""), (b"content-language", b""), (b"content-length", b""),
    (b"content-location", b""), (b"content-range", b""), (b"content-type", b""), (b"cookie", b""),
    (b"date", b""), (b"etag", b""), (b"expect", b""), (b"expires", b""), (b"from", b""),
    (b"host", b""), (b"if-match", b""), (b"if-modified-since", b""), (b"if-none-match", b""),
    (b"if-range", b""), (b"if-unmodified-since", b""), (b"last-modified", b""), (b"link", b""),
    (b"location", b""), (b"max-forwards", b""), (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""), (b"range", b""), (b"referer", b""), (b"refresh", b""),
    (b"retry-after", b""), (b"server", b""), (b"set-cookie", b""),
    (b"strict-transport-security", b""), (b"transfer-encoding", b""), (b"user-agent", b""),
    (b"vary", b""), (b"via", b""), (b"www-authenticate", b""),
)

# Huffman code lengths of symbols 0..255 (RFC 7541 App. B). The code is canonical, so
# lengths are all we need; EOS (symbol 256) is the last 30-bit code.
_HLEN = (
    "0d171c1c1c1c1c1c1c181e1c1c1e1c1c1c1c1c1c1c1c1e1c1c1c1c1c1c1c1c1c060a0a0c0d06080b0a0a080b08"
    "0606060505050606060606060607080f060c0a0d060707070707070707070707070707070707070707070708070"
    "80d130d0e060f05060506050606060507070606060506070605050607070707070f0b0e0d1c1416141416161617"
    "1617171717171817181816171817171717151617161717181615141616171715171616181516171715151615171"
    "6171714161616171616171a1a1413161716191a1a1a1b1b1a181913151a1b1b1a1b1815151a1a1c1b1b1b141814"
    "15161515171616191918181a171a1b1a1a1b1b1b1b1b1c1b1b1b1b1b1a"
)
_huff = None  # (first, count, offset, symbols) built on first use


def _huff_tables():
    global _huff
    if _huff is None:
        lens = unhexlify(_HLEN)
        syms = bytearray(256)
        count = bytearray(31)
        for ln in lens:
            count[ln] += 1
        count[30] += 1  # EOS
        first = [0] * 31
        offset = [0] * 31
        code = 0
        pos = 0
        for ln in range(1, 31):
            first[ln] = code
            offset[ln] = pos
            pos += count[ln]
            code = (code + count[ln]) << 1
        fill = list(offset)
        for s in range(256):
            ln = lens[s]
            syms[fill[ln]] = s
            fill[ln] += 1
        _huff = (first, count, offset, bytes(syms))
    return _huff


def huffman_decode(data):
    first, count, offset, syms = _huff_tables()
    out = bytearray()
    acc = 0
    nbits = 0
    for b in data:
        acc = (acc << 8) | b
        nbits += 8
        while nbits >= 5:
            for ln in range(5, 31):
                if ln > nbits:
                    ln = 0
                    break
                d = (acc >> (nbits - ln)) - first[ln]
                if 0 <= d < count[ln]:
                    break
            else:
                raise HpackError("bad huffman code")
            if ln == 0:
                break
            i = offset[ln] + d
            if i >= 256:
                raise HpackError("huffman EOS in string")
            out.append(syms[i])
            nbits -= ln
            acc &= (1 << nbits) - 1
    if nbits > 7 or acc != (1 << nbits) - 1:
        raise HpackError("bad huffman padding")
    return bytes(out)


def _int(data, i, prefix):
    """Decode an HPACK integer with an N-bit prefix at data[i]; return (value, next i)."""
    mask = (1 << prefix) - 1
    v = data[i] & mask
    i += 1
    if v < mask:
        return v, i
    m = 0
    while True:
        if i >= len(data):
            raise HpackError("truncated integer")
        b = data[i]
        i += 1
        v += (b & 127) << m
        m += 7
        if m > 28:
            raise HpackError("integer too large")
        if not b & 128:
            return v, i


def _str(data, i):
    if i >= len(data):
        raise HpackError("truncated string")
    huff = data[i] & 128
    n, i = _int(data, i, 7)
    if i + n > len(data):
        raise HpackError("truncated string")
    s = bytes(data[i:i + n])
    return (huffman_decode(s) if huff else s), i + n


class Decoder:
    def __init__(self, max_table=4096, max_list=16384):
        self.max_allowed = max_table
        self.max_size = max_table
        self.size = 0
        self.max_list = max_list
        self._dyn = []  # newest first

    def _get(self, idx):
        if idx <= 0:
            raise HpackError("index 0")
        if idx <= 61:
            return _STATIC[idx - 1]
        idx -= 62
        if idx >= len(self._dyn):
            raise HpackError("index out of range")
        return self._dyn[idx]

    def _evict(self):
        while self.size > self.max_size and self._dyn:
            n, v = self._dyn.pop()
            self.size -= 32 + len(n) + len(v)

    def _add(self, name, value):
        sz = 32 + len(name) + len(value)
        if sz > self.max_size:
            self._dyn = []
            self.size = 0
            return
        self._dyn.insert(0, (name, value))
        self.size += sz
        self._evict()

    def decode(self, block):
        """Decode a complete header block into a list of (name, value) bytes pairs."""
        out = []
        total = 0
        i = 0
        n = len(block)
        while i < n:
            b = block[i]
            if b & 128:
                idx, i = _int(block, i, 7)
                name, value = self._get(idx)
            elif b & 64 or not b & 32:
                prefix = 6 if b & 64 else 4
                idx, i = _int(block, i, prefix)
                if idx:
                    name = self._get(idx)[0]
                else:
                    name, i = _str(block, i)
                value, i = _str(block, i)
                if prefix == 6:
                    self._add(name, value)
            else:
                if out:
                    raise HpackError("table size update after a header")
                sz, i = _int(block, i, 5)
                if sz > self.max_allowed:
                    raise HpackError("table size update too large")
                self.max_size = sz
                self._evict()
                continue
            total += 32 + len(name) + len(value)
            if total > self.max_list:
                raise HpackError("header list too large")
            out.append((name, value))
        return out


def _enc_int(out, v, prefix, first):
    mask = (1 << prefix) - 1
    if v < mask:
        out.append(first | v)
        return
    out.append(first | mask)
    v -= mask
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    out.append(v)


def encode(headers):
    """Encode [(name, value)] (bytes or str; names lowercase) without indexing or Huffman."""
    out = bytearray()
    for name, value in headers:
        if isinstance(name, str):
            name = name.encode()
        if isinstance(value, str):
            value = value.encode()
        idx = 0
        for j in range(61):
            if _STATIC[j][0] == name:
                idx = j + 1
                break
        _enc_int(out, idx, 4, 0)
        if not idx:
            _enc_int(out, len(name), 7, 0)
            out.extend(name)
        _enc_int(out, len(value), 7, 0)
        out.extend(value)
    return bytes(out)
