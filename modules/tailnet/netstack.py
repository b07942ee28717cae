# Sans-I/O tailnet-side IP stack: decrypted packets in, packets to encrypt out.
#
#   ns = Netstack(["100.64.0.1", "fd7a:115c:a1e0::1"])
#   ns.set_filter(rules)                  # netmap PacketFilter (list of dicts)
#   buf = ns.rxbuf                        # decrypt into this buffer, then
#   ns.input(buf, off, n, now_ms)         # (any buffer works; rxbuf is zero-copy)
#   ns.tick(now_ms)                       # TCP timers
#   pkt = ns.pop_out()                    # next packet to encrypt and send, or None
#   s = ns.udp(port); c = ns.tcp_connect(dst, port); l = ns.tcp_listen(port)
import errno
import tailnet.ip as ip  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.icmp as icmp  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.net_udp as net_udp  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.tcp as tcp  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.pfilter as pfilter  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.ipaddr as ipaddr  # not "from . import": tailnet.__getattr__ breaks it on MicroPython


class Netstack:
    def __init__(self, addrs=(), mtu=ip.MTU, bufsize=1536, npool=8, max_tcp=4, outq=64):
        self.mtu = mtu
        self.filter = pfilter.Filter()
        self.filter.set_rules(None)
        self.set_addresses(addrs)
        self.bufsize = bufsize
        # UDP receive buffers, made by the first udp() socket. A fixed list and a count, not
        # pop()/append(): MicroPython shrinks (reallocates) a list that falls below half full.
        self._pool = [None] * npool
        self._nfree = 0
        self._npool = npool
        self.rxbuf = bytearray(bufsize)
        self._p = ip.Pkt()
        self._po = ip.Pkt()
        self._udp = {}
        self.tcp = tcp.Tcp(self, max_tcp)
        self._out = []
        self.outq_max = outq
        self.now = 0
        self._pings = {}          # (ident, seq) -> reply time or None (ping())
        # counters
        self.rx = self.rx_bad = self.rx_frag = self.rx_denied = 0
        self.rx_noport = self.rx_csum = self.tx = self.tx_drop = 0
        self.icmp_echo = self.tsmp = 0

    # ---- configuration
    def set_addresses(self, addrs):
        self.filter.set_addresses(addrs)
        self.addrs = self.filter.addrs

    def set_filter(self, rules):
        """Replace the inbound rules live (ValueError: bad filter, old rules kept)."""
        self.filter.set_rules(rules)

    def set_netmap_filters(self, filters):
        """Rules from NetMap.filters ({name: rules}); ValueError keeps the old rules."""
        self.filter.set_rules(pfilter.merge(filters))

    def src_for(self, dst):
        for a in self.addrs:
            if len(a) == len(dst):
                return a
        raise OSError(errno.EHOSTUNREACH)

    # ---- buffers
    def _take(self, p):
        """A UDP socket keeps p's packet: the buffer holding it (same offsets) or None."""
        if not self._nfree:
            return None
        self._nfree -= 1
        nb = self._pool[self._nfree]
        self._pool[self._nfree] = None
        buf = p.buf
        if buf is self.rxbuf:
            self.rxbuf = nb
            return buf
        if len(nb) < p.end:
            self._give(nb)
            return None
        nb[0:p.end] = buf[0:p.end]
        return nb

    def _give(self, buf):
        self._pool[self._nfree] = buf
        self._nfree += 1

    # ---- output
    def output(self, pkt):
        """Queue an outbound packet after the source check; returns True if queued."""
        p = self._po
        if ip.parse(p, pkt, 0, len(pkt)) != ip.OK or not self.filter.outbound(p):
            self.tx_drop += 1
            return False
        if len(self._out) >= self.outq_max:
            self.tx_drop += 1
            return False
        self._out.append(pkt)
        self.tx += 1
        return True

    def pop_out(self):
        return self._out.pop(0) if self._out else None

    def pending_out(self):
        return len(self._out)

    # ---- input
    def input(self, buf, off, n, now=None):
        """Process one decrypted inbound IP packet. Never raises on packet contents."""
        if now is not None:
            self.now = now
        if n == 0:
            return
        self.rx += 1
        if off < 0 or n < 0 or n > len(buf) - off:
            self.rx_bad += 1
            return
        p = self._p
        r = ip.parse(p, buf, off, n)
        if r != ip.OK:
            if r == ip.E_FRAG:
                self.rx_frag += 1
            else:
                self.rx_bad += 1
            return
        if not self.filter.check(p):
            self.rx_denied += 1
            return
        proto = p.proto
        if proto == ip.P_UDP:
            self._udp_in(p)
        elif proto == ip.P_TCP:
            if p.l4len < 20 or not ip.l4_ok(p):
                self.rx_csum += 1
                return
            self.tcp.input(p)
        elif proto == ip.P_ICMP or proto == ip.P_ICMP6:
            r = icmp.echo_reply(p)
            if r is not None:
                self.icmp_echo += 1
                self.output(r)
            elif self._pings:
                r = icmp.echo_reply_id(p)
                if r is not None and r in self._pings:
                    self._pings[r] = self.now
        elif proto == ip.P_TSMP:
            self.tsmp += 1
            r = icmp.tsmp_reply(p)
            if r is not None:
                self.output(r)

    def _udp_in(self, p):
        buf = p.buf
        ulen = ip.u16(buf, p.l4 + 4)
        if ulen < 8 or ulen > p.l4len:
            self.rx_bad += 1
            return
        if ulen < p.l4len:         # trailing bytes after the datagram: ignore them
            p.l4len = ulen
            p.end = p.l4 + ulen
        if (buf[p.l4 + 6] or buf[p.l4 + 7] or p.ver == 6) and not ip.l4_ok(p):
            self.rx_csum += 1
            return
        s = self._udp.get(ip.u16(buf, p.l4 + 2))
        if s is None:
            self.rx_noport += 1
            return
        s._deliver(p)

    def tick(self, now):
        self.now = now
        self.tcp.tick(now)

    # ---- sockets
    def udp(self, port=0, qmax=4):
        if port == 0:
            port = 49152
            while port in self._udp:
                port += 1
        if port in self._udp:
            raise OSError(errno.EADDRINUSE)
        s = net_udp.UdpSocket(self, port, qmax)
        self._udp[port] = s
        while self._npool:
            self._give(bytearray(self.bufsize))
            self._npool -= 1
        return s

    def _unbind_udp(self, s):
        if self._udp.get(s.port) is s:
            del self._udp[s.port]

    def tcp_listen(self, port, backlog=2):
        return self.tcp.listen(port, backlog)

    def tcp_connect(self, dst, port, now=None):
        if now is not None:
            self.now = now
        d = dst if isinstance(dst, (bytes, bytearray)) else ipaddr.parse_ip(dst)
        return self.tcp.connect(bytes(d), port)

    def ping(self, dst, seq, data=b"tailnet", ident=0x7A11):
        """Send an ICMP/ICMPv6 echo request; poll pong(seq) for the reply time."""
        d = bytes(dst if isinstance(dst, (bytes, bytearray)) else ipaddr.parse_ip(dst))
        if len(self._pings) >= 8:
            self._pings.pop(next(iter(self._pings)))
        self._pings[(ident, seq)] = None
        return self.output(icmp.echo_request(self.src_for(d), d, ident, seq, data))

    def pong(self, seq, ident=0x7A11):
        """The clock value when the reply to ping(seq) arrived, or None."""
        return self._pings.get((ident, seq))

    def stats(self):
        f = self.filter
        return {"rx": self.rx, "rx_bad": self.rx_bad, "rx_frag": self.rx_frag,
                "rx_denied": self.rx_denied, "rx_not_ours": f.not_ours,
                "rx_denied_tcp": f.denied_tcp, "rx_denied_udp": f.denied_udp,
                "rx_noport": self.rx_noport, "rx_csum": self.rx_csum, "tx": self.tx,
                "tx_drop": self.tx_drop, "tx_not_ours": f.out_dropped,
                "icmp_echo": self.icmp_echo, "tsmp": self.tsmp,
                "tcp_conns": self.tcp.count()}
