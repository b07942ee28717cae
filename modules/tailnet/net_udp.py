# UDP sockets of the tailnet netstack: bounded per-socket queues of
# preallocated slots. Receiving into a slot swaps packet buffers with the
# netstack's pool, so the warm receive path copies and allocates nothing.
import errno
import tailnet.ip as ip  # not "from . import": tailnet.__getattr__ breaks it on MicroPython
import tailnet.ipaddr as ipaddr  # not "from . import": tailnet.__getattr__ breaks it on MicroPython

EMSGSIZE = 90


class Slot:
    """One queued datagram: payload = buf[off:off+n], from addr at buf[src:src+alen]."""

    def __init__(self):
        self.buf = None
        self.off = 0
        self.n = 0
        self.src = 0
        self.alen = 0
        self.sport = 0

    def payload(self):
        return bytes(self.buf[self.off:self.off + self.n])

    def addr(self):
        return ipaddr.fmt_ip(self.buf[self.src:self.src + self.alen])


class UdpSocket:
    def __init__(self, ns, port, qmax=4):
        self.ns = ns
        self.port = port
        self._q = [Slot() for _ in range(qmax)]
        self._head = 0
        self._count = 0
        self.dropped = 0
        self.received = 0
        self.closed = False

    # ---- called by the netstack (hot path, no allocation)
    def _deliver(self, p):
        """Queue parsed datagram p (its buffer comes from / goes to the netstack pool)."""
        q = self._q
        if self._count == len(q):
            self.dropped += 1
            return False
        b = self.ns._take(p)
        if b is None:
            self.dropped += 1
            return False
        s = q[(self._head + self._count) % len(q)]
        s.buf = b
        s.off = p.l4 + 8
        s.n = ip.u16(p.buf, p.l4 + 4) - 8
        s.src = p.src
        s.alen = p.alen
        s.sport = ip.u16(p.buf, p.l4)
        self._count += 1
        self.received += 1
        return True

    # ---- user API
    def pending(self):
        return self._count

    def recv_slot(self):
        """The oldest queued datagram (a Slot) or None; give it back with release()."""
        if not self._count:
            return None
        s = self._q[self._head]
        self._head = (self._head + 1) % len(self._q)
        self._count -= 1
        return s

    def release(self, s):
        if s.buf is not None:
            self.ns._give(s.buf)
            s.buf = None

    def recvfrom(self):
        """-> (payload bytes, (addr str, port)) or None when the queue is empty."""
        s = self.recv_slot()
        if s is None:
            return None
        r = (s.payload(), (s.addr(), s.sport))
        self.release(s)
        return r

    def sendto(self, data, addr, port):
        if self.closed:
            raise OSError(errno.EBADF)
        dst = addr if isinstance(addr, (bytes, bytearray)) else ipaddr.parse_ip(addr)
        dst = bytes(dst)
        src = self.ns.src_for(dst)
        hl = ip.header_len(6 if len(dst) == 16 else 4)
        n = len(data)
        if hl + 8 + n > self.ns.mtu:
            raise OSError(EMSGSIZE)
        out = bytearray(hl + 8 + n)
        ip.put_header(out, src, dst, ip.P_UDP, 8 + n)
        ip.put16(out, hl, self.port)
        ip.put16(out, hl + 2, port)
        ip.put16(out, hl + 4, 8 + n)
        out[hl + 8:] = data
        ip.set_l4_csum(out, hl, len(dst), ip.P_UDP, 8 + n, 6)
        return self.ns.output(out)

    def close(self):
        while self._count:
            self.release(self.recv_slot())
        self.closed = True
        self.ns._unbind_udp(self)
