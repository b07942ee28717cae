# ICMPv4 / ICMPv6 echo replies and TSMP (IP protocol 99) ping answers.
import tailnet.ip as ip  # not "from . import": tailnet.__getattr__ breaks it on MicroPython


def _reply_header(p, proto, l4len):
    """New packet buffer with an IP header from p's destination back to its source."""
    buf = p.buf
    alen = p.alen
    hl = 20 if alen == 4 else 40
    out = bytearray(hl + l4len)
    src = bytes(buf[p.dst:p.dst + alen])
    dst = bytes(buf[p.src:p.src + alen])
    ip.put_header(out, src, dst, proto, l4len)
    return out, hl


def echo_reply(p):
    """The echo reply for an ICMP/ICMPv6 echo request in p, or None."""
    buf = p.buf
    n = p.l4len
    if n < 8:
        return None
    t = buf[p.l4]
    if p.proto == ip.P_ICMP:
        if t != 8 or buf[p.l4 + 1] != 0 or ip.fold(ip.csum(buf, p.l4, n, 0)) != 0xFFFF:
            return None
        rtype = 0
    elif p.proto == ip.P_ICMP6:
        if t != 128 or buf[p.l4 + 1] != 0 or not ip.l4_ok(p):
            return None
        rtype = 129
    else:
        return None
    out, hl = _reply_header(p, p.proto, n)
    out[hl:hl + n] = buf[p.l4:p.l4 + n]
    out[hl] = rtype
    if p.proto == ip.P_ICMP:
        out[hl + 2] = out[hl + 3] = 0
        c = ip.finish(ip.csum(out, hl, n, 0))
        out[hl + 2] = c >> 8
        out[hl + 3] = c & 255
    else:
        ip.set_l4_csum(out, hl, 16, ip.P_ICMP6, n, 2)
    return out


def tsmp_reply(p):
    """Answer a TSMP ping ('p' + 8 bytes) with 'o' + the 8 bytes + port 0; else None."""
    buf = p.buf
    if p.l4len < 9 or buf[p.l4] != 0x70:     # 'p'
        return None
    out, hl = _reply_header(p, ip.P_TSMP, 11)
    out[hl] = 0x6F                           # 'o'
    out[hl + 1:hl + 9] = buf[p.l4 + 1:p.l4 + 9]
    return out


def echo_request(src, dst, ident, seq, data):
    """An ICMP (IPv4) or ICMPv6 echo request packet from src to dst."""
    n = 8 + len(data)
    hl = 20 if len(src) == 4 else 40
    proto = ip.P_ICMP if len(src) == 4 else ip.P_ICMP6
    out = bytearray(hl + n)
    ip.put_header(out, src, dst, proto, n)
    out[hl] = 8 if proto == ip.P_ICMP else 128
    ip.put16(out, hl + 4, ident)
    ip.put16(out, hl + 6, seq)
    out[hl + 8:] = data
    if proto == ip.P_ICMP:
        c = ip.finish(ip.csum(out, hl, n, 0))
        ip.put16(out, hl + 2, c)
    else:
        ip.set_l4_csum(out, hl, 16, proto, n, 2)
    return out


def echo_reply_id(p):
    """(ident, seq) of a valid echo reply in p, or None."""
    buf = p.buf
    if p.l4len < 8:
        return None
    want = 0 if p.proto == ip.P_ICMP else 129
    if buf[p.l4] != want:
        return None
    ok = ip.fold(ip.csum(buf, p.l4, p.l4len, 0)) == 0xFFFF if p.proto == ip.P_ICMP else ip.l4_ok(p)
    if not ok:
        return None
    return ip.u16(buf, p.l4 + 4), ip.u16(buf, p.l4 + 6)
