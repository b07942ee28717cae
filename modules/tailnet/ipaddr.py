# Small IP helpers: text <-> packed bytes for addresses, prefixes and ip:port.
# Packed prefix list:  [bits, len(4|16), addr...]*   Packed endpoint list: [len, addr..., portBE16]*


def parse_ip(s):
    """'100.64.0.1' or 'fd7a::1' -> 4 or 16 bytes (ValueError if malformed)."""
    if ":" not in s:
        parts = s.split(".")
        if len(parts) != 4:
            raise ValueError("bad IPv4 address")
        b = bytearray(4)
        for i in range(4):
            p = parts[i]
            if not p or len(p) > 3 or not p.isdigit() or int(p) > 255:
                raise ValueError("bad IPv4 address")
            b[i] = int(p)
        return bytes(b)
    if "%" in s:
        s = s[:s.index("%")]
    tail4 = b""
    if "." in s:
        k = s.rindex(":")
        tail4 = parse_ip(s[k + 1:])
        s = s[:k + 1] + "0:0"
    halves = s.split("::")
    if len(halves) > 2:
        raise ValueError("bad IPv6 address")
    hi = _groups(halves[0])
    lo = _groups(halves[1]) if len(halves) == 2 else []
    fill = 8 - len(hi) - len(lo)
    if fill < 0 or (len(halves) == 1 and fill) or (len(halves) == 2 and fill < 1):
        raise ValueError("bad IPv6 address")
    g = hi + [0] * fill + lo
    b = bytearray(16)
    for i in range(8):
        b[2 * i] = g[i] >> 8
        b[2 * i + 1] = g[i] & 255
    if tail4:
        b[12:16] = tail4
    return bytes(b)


def _groups(s):
    if not s:
        return []
    out = []
    for p in s.split(":"):
        if not p or len(p) > 4:
            raise ValueError("bad IPv6 address")
        out.append(int(p, 16))
    return out


def fmt_ip(b):
    if len(b) == 4:
        return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])
    g = [(b[2 * i] << 8) | b[2 * i + 1] for i in range(8)]
    # longest run of zeros (>= 2) becomes "::"
    best, bl, i = -1, 1, 0
    while i < 8:
        if g[i] == 0:
            j = i
            while j < 8 and g[j] == 0:
                j += 1
            if j - i > bl:
                best, bl = i, j - i
            i = j
        else:
            i += 1
    h = ["%x" % x for x in g]
    if best < 0:
        return ":".join(h)
    return ":".join(h[:best]) + "::" + ":".join(h[best + bl:])


def parse_prefix(s):
    """'100.64.0.1/32' -> (bits, addr bytes)."""
    if "/" in s:
        a, n = s.split("/", 1)
        if not n.isdigit():
            raise ValueError("bad prefix")
        bits = int(n)
    else:
        a, bits = s, -1
    ip = parse_ip(a)
    if bits < 0:
        bits = len(ip) * 8
    if bits > len(ip) * 8:
        raise ValueError("bad prefix length")
    return bits, ip


def pack_prefixes(strs):
    out = bytearray()
    for s in strs:
        bits, ip = parse_prefix(s)
        out.append(bits)
        out.append(len(ip))
        out.extend(ip)
    return bytes(out)


def unpack_prefixes(b):
    """-> list of (bits, addr bytes)."""
    out = []
    i = 0
    while i < len(b):
        n = b[i + 1]
        out.append((b[i], bytes(b[i + 2:i + 2 + n])))
        i += 2 + n
    return out


def prefix_text(p):
    return fmt_ip(p[1]) + "/" + str(p[0])


def parse_addrport(s):
    """'1.2.3.4:41641' or '[::1]:41641' -> (addr bytes, port)."""
    if s.startswith("["):
        k = s.find("]:")
        if k < 0:
            raise ValueError("bad ip:port")
        a, p = s[1:k], s[k + 2:]
    else:
        k = s.rfind(":")
        if k < 0:
            raise ValueError("bad ip:port")
        a, p = s[:k], s[k + 1:]
    if not p.isdigit() or int(p) > 65535:
        raise ValueError("bad port")
    return parse_ip(a), int(p)


def pack_endpoints(strs):
    out = bytearray()
    for s in strs:
        ip, port = parse_addrport(s)
        out.append(len(ip))
        out.extend(ip)
        out.append(port >> 8)
        out.append(port & 255)
    return bytes(out)


def unpack_endpoints(b):
    """-> list of (addr bytes, port)."""
    out = []
    i = 0
    while i < len(b):
        n = b[i]
        out.append((bytes(b[i + 1:i + 1 + n]), (b[i + 1 + n] << 8) | b[i + 2 + n]))
        i += 3 + n
    return out


def endpoint_text(ep):
    a = fmt_ip(ep[0])
    return ("[" + a + "]" if len(ep[0]) == 16 else a) + ":" + str(ep[1])
