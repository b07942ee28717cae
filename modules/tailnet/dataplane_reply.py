# tailnet: the data plane's tiny responder, used when no netstack takes a packet:
# ICMPv4 echo -> reply, ICMPv6 echo -> reply, TSMP ping ('p' + 8 bytes) -> pong
# ('o' + the same 8 bytes + BE16 peerAPI port 0). Only packets addressed to one of our
# addresses are answered; anything else (fragments, options we do not parse) -> None.
# MIT license

ECHO = 1
TSMP = 2
P_ICMP = 1
P_ICMP6 = 58
P_TSMP = 99


def csum(data, acc=0):
    """Internet checksum (RFC 1071) of bytes-like data, folded, complemented."""
    n = len(data)
    for i in range(0, n - 1, 2):
        acc += (data[i] << 8) | data[i + 1]
    if n & 1:
        acc += data[n - 1] << 8
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return (~acc) & 0xFFFF


def ip4(src, dst, proto, payload, ident=0):
    n = 20 + len(payload)
    h = bytearray(20)
    h[0] = 0x45
    h[2], h[3] = n >> 8, n & 255
    h[4], h[5] = ident >> 8, ident & 255
    h[8] = 64
    h[9] = proto
    h[12:16] = src
    h[16:20] = dst
    c = csum(h)
    h[10], h[11] = c >> 8, c & 255
    return bytes(h) + payload


def ip6(src, dst, proto, payload):
    n = len(payload)
    h = bytearray(40)
    h[0] = 0x60
    h[4], h[5] = n >> 8, n & 255
    h[6] = proto
    h[7] = 64
    h[8:24] = src
    h[24:40] = dst
    return bytes(h) + payload


def _pseudo6(src, dst, proto, n):
    acc = 0
    for a in (src, dst):
        for i in range(0, 16, 2):
            acc += (a[i] << 8) | a[i + 1]
    return acc + n + proto


def answer(buf, off, n, my):
    """IP packet at buf[off:off+n] -> (ECHO | TSMP, reply packet bytes) or None."""
    v = buf[off] >> 4
    if v == 4:
        return _answer4(bytes(buf[off:off + n]), my)
    if v == 6:
        return _answer6(bytes(buf[off:off + n]), my)
    return None


def _answer4(p, my):
    if len(p) < 28:
        return None
    ihl = (p[0] & 15) * 4
    tot = (p[2] << 8) | p[3]
    if ihl < 20 or tot > len(p) or tot < ihl + 8 or (((p[6] << 8) | p[7]) & 0x3FFF):
        return None   # bad lengths or a fragment
    src, dst, proto = p[12:16], p[16:20], p[9]
    if dst not in my:
        return None
    body = p[ihl:tot]
    if proto == P_ICMP and body[0] == 8 and body[1] == 0 and csum(body) == 0:
        r = bytearray(body)
        r[0] = 0
        r[2] = r[3] = 0
        c = csum(r)
        r[2], r[3] = c >> 8, c & 255
        return ECHO, ip4(dst, src, P_ICMP, bytes(r))
    if proto == P_TSMP and len(body) >= 9 and body[0] == 0x70:   # 'p'
        return TSMP, ip4(dst, src, P_TSMP, b"o" + body[1:9] + b"\x00\x00")
    return None


def _answer6(p, my):
    if len(p) < 48:
        return None
    ln = (p[4] << 8) | p[5]
    if ln < 8 or 40 + ln > len(p):
        return None
    proto, src, dst = p[6], p[8:24], p[24:40]
    if dst not in my:
        return None
    body = p[40:40 + ln]
    if proto == P_ICMP6 and body[0] == 128 and body[1] == 0 and csum(body, _pseudo6(src, dst, P_ICMP6, ln)) == 0:
        r = bytearray(body)
        r[0] = 129
        r[2] = r[3] = 0
        c = csum(r, _pseudo6(dst, src, P_ICMP6, ln))
        r[2], r[3] = c >> 8, c & 255
        return ECHO, ip6(dst, src, P_ICMP6, bytes(r))
    if proto == P_TSMP and len(body) >= 9 and body[0] == 0x70:
        return TSMP, ip6(dst, src, P_TSMP, b"o" + body[1:9] + b"\x00\x00")
    return None
