# IPv4 / IPv6 headers and the internet checksum, on caller buffers (no copies).
#
# parse() fills a reusable Pkt from buf[off:off+n] and returns 0 or an error
# code; the hot path allocates nothing. Addresses stay in the buffer: compare
# them with eq_at() / in_prefix() instead of slicing.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MTU = const(1280)
P_ICMP = const(1)
P_TCP = const(6)
P_UDP = const(17)
P_ICMP6 = const(58)
P_TSMP = const(99)

# parse() results
OK = const(0)
E_SHORT = const(1)      # truncated / bad lengths
E_VERSION = const(2)
E_FRAG = const(3)       # fragment (not supported: dropped and counted)
E_HDR = const(4)        # bad header checksum or extension chain

_EXT6 = (0, 43, 60)     # hop-by-hop, routing, destination options


class Pkt:
    """Parsed view of one IP packet (all offsets absolute into .buf)."""

    def __init__(self):
        self.buf = None
        self.off = 0      # start of IP header
        self.end = 0      # end of IP packet (total length honoured)
        self.ver = 0
        self.proto = 0
        self.src = 0      # offset of source address; dst = src + alen
        self.dst = 0
        self.alen = 0
        self.l4 = 0       # offset of transport header
        self.l4len = 0
        self.ttl = 0


def parse(p, buf, off, n):
    if n < 20:
        return E_SHORT
    v = buf[off] >> 4
    p.buf = buf
    p.off = off
    if v == 4:
        hl = (buf[off] & 15) * 4
        tot = (buf[off + 2] << 8) | buf[off + 3]
        if hl < 20 or tot < hl or tot > n:
            return E_SHORT
        if (buf[off + 6] & 0x3F) or buf[off + 7]:   # MF set or offset != 0
            return E_FRAG
        if fold(csum(buf, off, hl, 0)) != 0xFFFF:
            return E_HDR
        p.ver = 4
        p.alen = 4
        p.src = off + 12
        p.dst = off + 16
        p.proto = buf[off + 9]
        p.ttl = buf[off + 8]
        p.l4 = off + hl
        p.end = off + tot
    elif v == 6:
        if n < 40:
            return E_SHORT
        tot = 40 + ((buf[off + 4] << 8) | buf[off + 5])
        if tot > n:
            return E_SHORT
        p.ver = 6
        p.alen = 16
        p.src = off + 8
        p.dst = off + 24
        p.ttl = buf[off + 7]
        p.end = off + tot
        nh = buf[off + 6]
        i = off + 40
        while nh in _EXT6:
            if i + 8 > p.end:
                return E_SHORT
            nh = buf[i]
            i += (buf[i + 1] + 1) * 8
        if nh == 44:
            return E_FRAG
        if i > p.end:
            return E_SHORT
        p.proto = nh
        p.l4 = i
    else:
        return E_VERSION
    p.l4len = p.end - p.l4
    return OK


def csum_py(buf, off, n, acc):
    """Add buf[off:off+n] as big-endian 16-bit words to acc (not folded)."""
    end = off + n - 1
    i = off
    while i < end:
        acc += (buf[i] << 8) | buf[i + 1]
        i += 2
    if i == end:
        acc += buf[i] << 8
    return acc


try:
    from _tnnet import csum     # same sum, folded to 16 bits, in C
except ImportError:
    csum = csum_py


def fold(acc):
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return acc


def finish(acc):
    """Folded, complemented checksum value to store in a header."""
    return ~fold(acc) & 0xFFFF


def l4_sum(p):
    """Pseudo-header + transport-segment sum for parsed packet p (unfolded).

    fold(l4_sum(p)) == 0xFFFF means the stored checksum is right."""
    acc = csum(p.buf, p.src, 2 * p.alen, p.proto + p.l4len)
    return csum(p.buf, p.l4, p.l4len, acc)


def l4_ok(p):
    return fold(l4_sum(p)) == 0xFFFF


def eq_at(buf, off, addr):
    """buf[off:off+len(addr)] == addr without slicing."""
    for i in range(len(addr)):
        if buf[off + i] != addr[i]:
            return False
    return True


def in_prefix(buf, off, addr, bits):
    """Whether the address at buf[off:] (len(addr) bytes) is in addr/bits."""
    i = 0
    while bits >= 8:
        if buf[off + i] != addr[i]:
            return False
        i += 1
        bits -= 8
    if bits:
        m = (0xFF00 >> bits) & 0xFF
        return (buf[off + i] & m) == (addr[i] & m)
    return True


def cmp_at(buf, off, addr):
    """-1 / 0 / 1 comparing the address at buf[off:] with addr (same length)."""
    for i in range(len(addr)):
        a = buf[off + i]
        b = addr[i]
        if a != b:
            return -1 if a < b else 1
    return 0


def header_len(ver):
    return 20 if ver == 4 else 40


def put_header(buf, src, dst, proto, l4len, ident=0, ttl=64):
    """Write an IPv4 or IPv6 header (by len(src)) at buf[0:]; return its length."""
    if len(src) == 4:
        tot = 20 + l4len
        buf[0] = 0x45
        buf[1] = 0
        buf[2] = tot >> 8
        buf[3] = tot & 255
        buf[4] = (ident >> 8) & 255
        buf[5] = ident & 255
        buf[6] = 0x40      # DF
        buf[7] = 0
        buf[8] = ttl
        buf[9] = proto
        buf[10] = buf[11] = 0
        buf[12:16] = src
        buf[16:20] = dst
        c = finish(csum(buf, 0, 20, 0))
        buf[10] = c >> 8
        buf[11] = c & 255
        return 20
    buf[0] = 0x60
    buf[1] = buf[2] = buf[3] = 0
    buf[4] = l4len >> 8
    buf[5] = l4len & 255
    buf[6] = proto
    buf[7] = ttl
    buf[8:24] = src
    buf[24:40] = dst
    return 40


def set_l4_csum(buf, hl, alen, proto, l4len, at):
    """Compute and store the transport checksum (field at buf[hl+at])."""
    src = 12 if alen == 4 else 8
    buf[hl + at] = buf[hl + at + 1] = 0
    acc = csum(buf, src, 2 * alen, proto + l4len)
    c = finish(csum(buf, hl, l4len, acc))
    if c == 0 and proto == P_UDP:
        c = 0xFFFF
    buf[hl + at] = c >> 8
    buf[hl + at + 1] = c & 255


def u16(buf, i):
    return (buf[i] << 8) | buf[i + 1]


def u32(buf, i):
    return (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]


def put16(buf, i, v):
    buf[i] = (v >> 8) & 255
    buf[i + 1] = v & 255


def put32(buf, i, v):
    buf[i] = (v >> 24) & 255
    buf[i + 1] = (v >> 16) & 255
    buf[i + 2] = (v >> 8) & 255
    buf[i + 3] = v & 255
