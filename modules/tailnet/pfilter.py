# Inbound packet filter (protocol notes §10): netmap PacketFilter rules,
# compiled once per netmap change, matched against packets in place.
#
# Filter.set_rules(rules) takes the JSON rule list (a list of dicts); it raises
# ValueError on a filter tailscaled would reject (SrcBits / Bits) and then keeps
# the previous rules. Filter.check(p) returns True to accept a parsed ip.Pkt.
import tailnet.ip as ip  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.ipaddr as ipaddr  # not "from . import": tailnet.__getattr__ breaks it on MicroPython

DEFAULT_PROTOS = (ip.P_TCP, ip.P_UDP, ip.P_ICMP, ip.P_ICMP6)
_ICMP_OK4 = (0, 3, 11, 12)          # echo reply, unreachable, time exceeded, param problem
_ICMP_OK6 = (129, 1, 3, 4)
FLOWS = 32                           # reverse-flow entries kept (LRU)


def _addr_set(strs):
    """['*', '1.2.3.4', '10.0.0.0/8', 'a-b', 'cap:x'] -> list of matchers.

    A matcher is (kind, a, b): kind 0 = prefix (a addr, b bits), 1 = range [a, b]."""
    out = []
    for s in strs:
        if not isinstance(s, str):
            raise ValueError("bad address entry")
        if s.startswith("cap:"):
            continue
        if s == "*":
            out.append((0, b"\0\0\0\0", 0))
            out.append((0, bytes(16), 0))
        elif "-" in s:
            a, b = s.split("-", 1)
            a = ipaddr.parse_ip(a)
            b = ipaddr.parse_ip(b)
            if len(a) != len(b):
                raise ValueError("mixed-family range")
            out.append((1, a, b))
        else:
            bits, a = ipaddr.parse_prefix(s)
            out.append((0, a, bits))
    return out


def _match_addr(ms, buf, off, alen):
    for m in ms:
        a = m[1]
        if len(a) != alen:
            continue
        if m[0] == 0:
            if ip.in_prefix(buf, off, a, m[2]):
                return True
        elif ip.cmp_at(buf, off, a) >= 0 and ip.cmp_at(buf, off, m[2]) <= 0:
            return True
    return False


def merge(filters):
    """NetMap.filters ({name: rule list}) -> one rule list, in name order."""
    out = []
    for k in sorted(filters or {}):
        v = filters[k]
        if isinstance(v, list):
            out.extend(v)
    return out


def compile_rules(rules):
    """JSON rules -> list of (protos, srcs, dsts); dsts = [(matchers, first, last)]."""
    out = []
    if rules is None:
        return out
    if not isinstance(rules, list):
        raise ValueError("PacketFilter must be a list")
    for r in rules:
        if not isinstance(r, dict):
            raise ValueError("bad rule")
        if r.get("SrcBits"):
            raise ValueError("deprecated SrcBits")
        dps = r.get("DstPorts") or []
        if not dps:
            continue        # CapGrant-only (or empty) rule: allows no traffic
        protos = tuple(x for x in (r.get("IPProto") or ()) if isinstance(x, int) and 0 <= x <= 255)
        if not r.get("IPProto"):
            protos = DEFAULT_PROTOS
        srcs = _addr_set(r.get("SrcIPs") or [])
        dsts = []
        for d in dps:
            if not isinstance(d, dict) or d.get("Bits"):
                raise ValueError("bad DstPorts entry")
            pr = d.get("Ports") or {}
            first = pr.get("First", 0)
            last = pr.get("Last", first)
            if not isinstance(first, int) or not isinstance(last, int):
                raise ValueError("bad port range")
            dsts.append((_addr_set([d.get("IP", "")]), first, last))
        if srcs and dsts:
            out.append((protos, srcs, dsts))
    return out


class Filter:
    def __init__(self, flows=FLOWS):
        self.rules = []
        self.addrs = []                  # our own addresses (bytes, 4 or 16)
        self.accepted = self.denied = self.not_ours = self.out_dropped = 0
        self.denied_tcp = self.denied_udp = 0    # SYNs / datagrams no rule allowed
        self.gen = 0                     # bumped on every rule change
        # reverse-flow table: our outbound UDP (src ip, dst ip, sport, dport)
        self._n = flows
        self._fa = bytearray(flows * 33)   # alen, src[16], dst[16]
        self._fp = [0] * flows             # (sport << 16) | dport
        self._fs = [0] * flows             # LRU stamp, 0 = free
        self._stamp = 0

    def set_rules(self, rules):
        self.rules = compile_rules(rules)
        self.gen += 1

    def set_addresses(self, addrs):
        self.addrs = [a if isinstance(a, bytes) else ipaddr.parse_ip(a.split("/")[0]) for a in addrs]

    def is_ours(self, buf, off, alen):
        for a in self.addrs:
            if len(a) == alen and ip.eq_at(buf, off, a):
                return True
        return False

    def _rule_match(self, p, proto, port, full_range):
        buf = p.buf
        for protos, srcs, dsts in self.rules:
            if proto >= 0 and proto not in protos:
                continue
            if not _match_addr(srcs, buf, p.src, p.alen):
                continue
            for ms, first, last in dsts:
                if not _match_addr(ms, buf, p.dst, p.alen):
                    continue
                if port < 0:
                    if not full_range or (first == 0 and last == 65535):
                        return True
                elif first <= port <= last:
                    return True
        return False

    def check(self, p):
        """Accept (True) or drop (False) an inbound parsed packet; counts both."""
        ok = self._check(p)
        if ok:
            self.accepted += 1
        else:
            self.denied += 1
        return ok

    def _check(self, p):
        buf = p.buf
        if not self.is_ours(buf, p.dst, p.alen):
            self.not_ours += 1
            return False
        proto = p.proto
        if proto == ip.P_TSMP:
            return True
        if proto == ip.P_ICMP or proto == ip.P_ICMP6:
            if p.l4len < 4:
                return False
            t = buf[p.l4]
            if t in (_ICMP_OK4 if proto == ip.P_ICMP else _ICMP_OK6):
                return True
            return self._rule_match(p, -1, -1, False)
        if proto == ip.P_TCP:
            if p.l4len < 20:
                return False
            if (buf[p.l4 + 13] & 0x12) != 0x02:   # not a pure SYN
                return True
            if self._rule_match(p, ip.P_TCP, ip.u16(buf, p.l4 + 2), False):
                return True
            self.denied_tcp += 1
            return False
        if proto == ip.P_UDP or proto == 132:
            if p.l4len < 8:
                return False
            if self._flow_find(p) >= 0:
                return True
            if self._rule_match(p, proto, ip.u16(buf, p.l4 + 2), False):
                return True
            if proto == ip.P_UDP:
                self.denied_udp += 1
            return False
        return self._rule_match(p, proto, -1, True)

    # ---- outbound
    def outbound(self, p):
        """Check a parsed outbound packet: False if its source is not ours.

        Records UDP flows so that replies are accepted."""
        if not self.is_ours(p.buf, p.src, p.alen):
            self.out_dropped += 1
            return False
        if p.proto == ip.P_UDP and p.l4len >= 8:
            self._flow_add(p)
        return True

    def _flow_find(self, p):
        """Index of the outbound flow that p (inbound) answers, or -1."""
        buf = p.buf
        key = (ip.u16(buf, p.l4 + 2) << 16) | ip.u16(buf, p.l4)   # our sport, their port
        if key not in self._fp:                                  # fast miss (C-speed scan)
            return -1
        fa = self._fa
        al = p.alen
        for i in range(self._n):
            if self._fs[i] and self._fp[i] == key and fa[i * 33] == al:
                b = i * 33 + 1
                ok = True
                for j in range(al):
                    if fa[b + j] != buf[p.dst + j] or fa[b + 16 + j] != buf[p.src + j]:
                        ok = False
                        break
                if ok:
                    self._touch(i)
                    return i
        return -1

    def _touch(self, i):
        self._stamp += 1
        if self._stamp >= 0x3FFFFFF:
            self._renumber()
        self._fs[i] = self._stamp

    def _renumber(self):
        order = sorted(range(self._n), key=lambda k: self._fs[k])
        n = 0
        for k in order:
            if self._fs[k]:
                n += 1
                self._fs[k] = n
        self._stamp = n

    def _flow_add(self, p):
        buf = p.buf
        key = (ip.u16(buf, p.l4) << 16) | ip.u16(buf, p.l4 + 2)
        fa = self._fa
        al = p.alen
        victim = 0
        for i in range(self._n):
            if self._fs[i] and self._fp[i] == key and fa[i * 33] == al \
                    and ip.eq_at(fa, i * 33 + 1, _sl(buf, p.src, al)) \
                    and ip.eq_at(fa, i * 33 + 17, _sl(buf, p.dst, al)):
                self._touch(i)
                return
            if self._fs[i] < self._fs[victim]:
                victim = i
        b = victim * 33
        fa[b] = al
        for j in range(al):
            fa[b + 1 + j] = buf[p.src + j]
            fa[b + 17 + j] = buf[p.dst + j]
        self._fp[victim] = key
        self._touch(victim)

    def flows(self):
        return sum(1 for s in self._fs if s)


def _sl(buf, off, n):
    return bytes(buf[off:off + n])
