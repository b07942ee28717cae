# Small sans-I/O TCP for the tailnet netstack (driven by Netstack.input/tick).
#
# Features: active/passive open, MSS option (clamped for MTU 1280), receive
# window equal to free receive-buffer space, a small bounded out-of-order queue
# (OOO_MAX segments, kept only inside the advertised window, so receive buffer
# plus queue stay within rcvbuf) reported to the peer as SACK blocks when its
# SYN permits SACK, go-back-N retransmission on RTO (RFC 6298 estimator, Karn),
# fast retransmit after DUPTHRESH duplicate ACKs with NewReno partial-ACK
# retransmission, zero-window probing, FIN/RST, short bounded TIME_WAIT,
# keep-alive; the ACK field of segments outside our window is still used
# (RFC 793 "special allowance", needed when our window is zero). Not
# implemented: window scaling, timestamps, acting on the peer's SACK blocks,
# congestion control beyond a fixed in-flight cap, urgent data.
import errno
import tailnet.ip as ip  # not "from . import": tailnet.__getattr__ breaks it on MicroPython

CLOSED = 0
LISTEN = 1
SYN_SENT = 2
SYN_RCVD = 3
ESTABLISHED = 4
FIN_WAIT1 = 5
FIN_WAIT2 = 6
CLOSE_WAIT = 7
CLOSING = 8
LAST_ACK = 9
TIME_WAIT = 10
NAMES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT1",
         "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")

FIN = 1
SYN = 2
RST = 4
PSH = 8
ACK = 16
M32 = 0xFFFFFFFF

RTO_INIT = 1000
RTO_MIN = 200
RTO_MAX = 30000
MAX_RETRIES = 8
TIME_WAIT_MS = 2000
MAX_FLIGHT = 4            # segments in flight at most (no congestion control)
RCVBUF = 4096
SNDBUF = 4096
KA_INTVL = 5000
KA_PROBES = 4
DUPTHRESH = 2             # with at most MAX_FLIGHT segments out, 3 dup ACKs are rare
OOO_MAX = 4               # out-of-order segments kept per connection (0: drop them)


def lt(a, b):
    return ((a - b) & M32) > 0x7FFFFFFF


def le(a, b):
    return a == b or lt(a, b)


def sub(a, b):
    return (a - b) & M32


def _isn():
    try:
        import os
        b = os.urandom(4)
    except Exception:
        import time
        b = time.ticks_us().to_bytes(4, "big") if hasattr(time, "ticks_us") else b"\1\2\3\4"
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) & M32


def mss_for(alen, mtu):
    return mtu - (40 if alen == 4 else 60)


class Conn:
    def __init__(self, tcp, laddr, raddr, lport, rport):
        self.tcp = tcp
        self.laddr = laddr
        self.raddr = raddr
        self.lport = lport
        self.rport = rport
        self.state = CLOSED
        self.listener = None
        iss = tcp.isn()
        self.snd_una = self.snd_nxt = self.snd_max = iss
        self.iss = iss
        self.snd_wnd = 0
        self.wl1 = self.wl2 = 0
        self.rcv_nxt = 0
        self.rbuf = bytearray()
        self.rcap = tcp.rcvbuf
        self.sbuf = bytearray()
        self.scap = tcp.sndbuf
        self.fin_req = self.fin_sent = self.rfin = False
        self.fin_seq = 0          # valid once fin_sent (FIN has a sequence number)
        self.oow_at = -100000     # last answer to an out-of-window segment
        self.my_mss = mss_for(len(raddr), tcp.ns.mtu)
        self.mss = min(536, self.my_mss)
        self.srtt = 0
        self.rttvar = 0
        self.rto = RTO_INIT
        self.rtx_at = None
        self.retries = 0
        self.rtt_seq = None
        self.rtt_t = 0
        self.tw_at = 0
        self.err = 0
        self.dupacks = 0
        self.recover = None       # snd_max at a fast retransmit (NewReno recovery)
        self.last_rx = tcp.ns.now
        self.ka_idle = 0          # keep-alive idle time in ms (0 = off)
        self.ka_sent = 0
        self.retransmits = 0
        self.last_wnd = 0
        self.ooo = None           # out-of-order segments: [[seq, bytes, fin], ...] by seq
        self.sack_ok = tcp.sack   # we offer SACK in our SYN; off unless the peer's SYN has it

    # ---- user API
    def send(self, data):
        """Queue up to len(data) bytes; returns how many were accepted."""
        if self.err:
            raise OSError(self.err)
        if self.fin_req or self.state not in (ESTABLISHED, CLOSE_WAIT, SYN_SENT, SYN_RCVD):
            raise OSError(errno.ENOTCONN)
        n = min(len(data), self.scap - len(self.sbuf))
        if n > 0:
            self.sbuf.extend(data[:n] if n < len(data) else data)
            self._push(False)
        return n

    def send_space(self):
        return self.scap - len(self.sbuf)

    def recv(self, n=4096):
        """Up to n bytes; b"" at end of stream; None if nothing yet (raises on reset)."""
        if self.rbuf:
            before = self._rwnd()
            k = min(n, len(self.rbuf))
            d = bytes(self.rbuf[:k])
            self.rbuf[0:k] = b""
            after = self._rwnd()
            if before < self.my_mss <= after or (before == 0 and after):
                self._ack()            # window update
            return d
        if self.err:
            raise OSError(self.err)
        if self.rfin:
            return b""
        return None

    def readable(self):
        return len(self.rbuf)

    def established(self):
        return self.state >= ESTABLISHED

    def unsent(self):
        return len(self.sbuf)

    def close(self):
        """Graceful close: FIN after the queued data."""
        if self.state in (SYN_SENT, CLOSED):
            self._drop(0)
            return
        if not self.fin_req:
            self.fin_req = True
            self._push(False)

    def abort(self):
        if self.state not in (CLOSED, SYN_SENT, TIME_WAIT):
            self._seg(self._aseq(), 0, RST, b"", 0, 0)
        self._drop(errno.ECONNABORTED)

    def state_name(self):
        return NAMES[self.state]

    # ---- internals
    def _rwnd(self):
        return min(self.rcap - len(self.rbuf), 65535)

    def _seg(self, seq, ack, flags, data, off, n, opt=None):
        t = self.tcp
        alen = len(self.raddr)
        hl = 20 if alen == 4 else 40
        tl = 20 + (len(opt) if opt else 0)
        out = bytearray(hl + tl + n)
        ip.put_header(out, self.laddr, self.raddr, ip.P_TCP, tl + n)
        ip.put16(out, hl, self.lport)
        ip.put16(out, hl + 2, self.rport)
        ip.put32(out, hl + 4, seq)
        ip.put32(out, hl + 8, ack)
        out[hl + 12] = (tl // 4) << 4
        out[hl + 13] = flags
        w = self._rwnd()
        self.last_wnd = w
        ip.put16(out, hl + 14, w)
        if opt:
            out[hl + 20:hl + tl] = opt
        if n:
            out[hl + tl:hl + tl + n] = data[off:off + n]
        ip.set_l4_csum(out, hl, alen, ip.P_TCP, tl + n, 16)
        t.ns.output(out)

    def _aseq(self):
        """Sequence number for a pure ACK: never past a FIN the peer has not acknowledged
        (gVisor, tailscaled's stack, resets a closed-for-reading connection on a segment
        beyond its rcv_nxt, which an ACK after a lost FIN would be)."""
        if self.fin_sent and self.snd_una != ((self.fin_seq + 1) & M32):
            return self.fin_seq
        return self.snd_max

    def _ack(self):
        self._seg(self._aseq(), self.rcv_nxt, ACK, b"", 0, 0, self._sack())

    def _sack(self):
        """SACK option (RFC 2018) for the out-of-order queue, up to 3 blocks, or None."""
        q = self.ooo
        if not q or not self.sack_ok:
            return None
        blocks = []
        for e in q:
            a = e[0]
            b = (a + len(e[1])) & M32
            if blocks and le(a, blocks[-1][1]):
                if lt(blocks[-1][1], b):
                    blocks[-1][1] = b
            elif len(blocks) < 3:
                blocks.append([a, b])
        o = bytearray(4 + 8 * len(blocks))
        o[0] = o[1] = 1                          # NOP NOP
        o[2] = 5
        o[3] = 2 + 8 * len(blocks)
        for i, (a, b) in enumerate(blocks):
            ip.put32(o, 4 + 8 * i, a)
            ip.put32(o, 8 + 8 * i, b)
        return o

    def _syn(self):
        if self.retries == 0:                    # RTT sample from the first SYN only (Karn)
            self.rtt_seq = self.iss
            self.rtt_t = self.tcp.ns.now
        o = bytearray(8 if self.sack_ok else 4)      # MSS [, NOP NOP SACK-permitted]
        o[0] = 2
        o[1] = 4
        ip.put16(o, 2, self.my_mss)
        if self.sack_ok:
            o[4:8] = b"\x01\x01\x04\x02"
        if self.state == SYN_SENT:
            self._seg(self.iss, 0, SYN, b"", 0, 0, o)
        else:
            self._seg(self.iss, self.rcv_nxt, SYN | ACK, b"", 0, 0, o)
        self.snd_nxt = self.snd_max = (self.iss + 1) & M32
        self._arm()

    def _arm(self):
        if self.rtx_at is None:
            self.rtx_at = self.tcp.ns.now + self.rto

    def _push(self, force):
        if self.state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, CLOSING, LAST_ACK):
            return
        wnd = self.snd_wnd
        if force and wnd == 0:
            wnd = 1                      # zero-window probe
        wnd = min(wnd, MAX_FLIGHT * self.mss)
        while True:
            if self.fin_sent and self.snd_nxt == ((self.fin_seq + 1) & M32):
                return
            off = sub(self.snd_nxt, self.snd_una)
            avail = len(self.sbuf) - off
            room = wnd - off
            if avail > 0 and room > 0:
                n = min(avail, room, self.mss)
                flags = ACK | (PSH if n == avail else 0)
                self._seg(self.snd_nxt, self.rcv_nxt, flags, self.sbuf, off, n)
                if self.rtt_seq is None:
                    self.rtt_seq = self.snd_nxt
                    self.rtt_t = self.tcp.ns.now
                self.snd_nxt = (self.snd_nxt + n) & M32
                if lt(self.snd_max, self.snd_nxt):
                    self.snd_max = self.snd_nxt
                self._arm()
                continue
            if avail <= 0 and self.fin_req:
                if not self.fin_sent:
                    self.fin_seq = self.snd_nxt
                    self.fin_sent = True
                    if self.state == ESTABLISHED:
                        self.state = FIN_WAIT1
                    elif self.state == CLOSE_WAIT:
                        self.state = LAST_ACK
                if self.snd_nxt == self.fin_seq:
                    self._seg(self.snd_nxt, self.rcv_nxt, FIN | ACK, b"", 0, 0)
                    self.snd_nxt = (self.snd_nxt + 1) & M32
                    if lt(self.snd_max, self.snd_nxt):
                        self.snd_max = self.snd_nxt
                    self._arm()
            elif avail > 0 and self.snd_wnd == 0:
                self._arm()                  # persist timer
            return

    def _drop(self, err):
        if err and not self.err:
            self.err = err
        self.state = CLOSED
        self.rtx_at = None
        self.tcp._remove(self)

    def _rtt(self, ack):
        if self.rtt_seq is None or not lt(self.rtt_seq, ack):
            return
        r = self.tcp.ns.now - self.rtt_t
        self.rtt_seq = None
        if r < 0:
            return
        if self.srtt == 0:
            self.srtt = r
            self.rttvar = r // 2
        else:
            self.rttvar = (3 * self.rttvar + abs(self.srtt - r)) // 4
            self.srtt = (7 * self.srtt + r) // 8
        self.rto = max(RTO_MIN, min(RTO_MAX, self.srtt + max(10, 4 * self.rttvar)))

    def tick(self, now):
        if self.state == TIME_WAIT:
            if now - self.tw_at >= 0:
                self._drop(0)
            return
        if self.rtx_at is not None and now - self.rtx_at >= 0:
            self._timeout(now)
            return
        if self.ka_idle and self.state == ESTABLISHED and self.rtx_at is None:
            idle = now - self.last_rx
            if idle >= self.ka_idle + self.ka_sent * KA_INTVL:
                if self.ka_sent >= KA_PROBES:
                    self._drop(errno.ETIMEDOUT)
                    return
                self.ka_sent += 1
                self._seg((self.snd_una - 1) & M32, self.rcv_nxt, ACK, b"", 0, 0)

    def _timeout(self, now):
        self.rtx_at = None
        self.retries += 1
        if self.retries > MAX_RETRIES:
            self._drop(errno.ETIMEDOUT)
            return
        self.retransmits += 1
        self.rto = min(self.rto * 2, RTO_MAX)
        self.rtt_seq = None
        self.recover = None
        if self.state in (SYN_SENT, SYN_RCVD):
            self._syn()
            return
        self.snd_nxt = self.snd_una            # go back N (the FIN too, if unacked)
        self._push(True)
        if self.snd_nxt != self.snd_una:
            self._arm()

    # ---- segment arrival
    def input(self, buf, flags, seq, ack, wnd, doff, dlen, mss):
        self.last_rx = self.tcp.ns.now
        self.ka_sent = 0
        st = self.state
        if st == SYN_SENT:
            self._in_syn_sent(flags, seq, ack, wnd, mss)
            return
        if st == SYN_RCVD and flags & SYN and not flags & ACK and seq == sub(self.rcv_nxt, 1):
            self._syn()                              # their SYN again: our SYN-ACK was lost
            return
        seglen = dlen + (1 if flags & FIN else 0) + (1 if flags & SYN else 0)
        rw = self._rwnd()
        if seglen == 0:
            ok = seq == self.rcv_nxt or (le(self.rcv_nxt, seq) and lt(seq, (self.rcv_nxt + rw) & M32))
        else:
            end = (seq + seglen) & M32
            ok = lt(self.rcv_nxt, end) and lt(seq, (self.rcv_nxt + max(rw, 1)) & M32)
        if not ok:
            # RFC 793: with a zero (or small) window no segment is acceptable, "but special
            # allowance should be made to accept valid ACKs": take the ACK field (else a peer
            # whose ACKs carry a seq beyond our window, e.g. its window probes, never gets
            # its ACKs through and both ends stall)
            if flags & ACK and not flags & (RST | SYN) and st != SYN_RCVD and st != TIME_WAIT \
                    and le(ack, self.snd_max):
                if not self._in_ack(flags, seq, ack, wnd, -1):
                    return
                if self.state == CLOSED:
                    return
                self._push(False)
            # re-ACK duplicates; answer other out-of-window segments (old pure ACKs,
            # keep-alive probes) at most every 200 ms so that ACKs never ping-pong
            now = self.tcp.ns.now
            if not flags & RST and (seglen or now - self.oow_at >= 200):
                self.oow_at = now
                self._ack()
            return
        if flags & RST:
            if st == SYN_RCVD and self.listener is not None:
                self._drop(0)
            else:
                self._drop(errno.ECONNRESET)
            return
        if flags & SYN:
            self._ack()                            # challenge ACK (RFC 5961)
            return
        if not flags & ACK:
            return
        if st == SYN_RCVD:
            if ack != self.snd_nxt:
                self._seg(ack, 0, RST, b"", 0, 0)
                return
            self._established(seq, ack, wnd)
            if self.listener is not None:
                self.listener._ready(self)
        elif not self._in_ack(flags, seq, ack, wnd, dlen):
            return
        if self.state == CLOSED:
            return
        if seglen:
            self._in_data(buf, flags, seq, doff, dlen)
        self._push(False)

    def _established(self, seq, ack, wnd):
        self.state = ESTABLISHED
        self.snd_una = ack
        self.snd_wnd = wnd
        self.wl1 = seq
        self.wl2 = ack
        self.retries = 0
        self.rtx_at = None
        self._rtt(ack)

    def _in_syn_sent(self, flags, seq, ack, wnd, mss):
        if flags & ACK and ack != self.snd_nxt:
            if not flags & RST:
                self._seg(ack, 0, RST, b"", 0, 0)
            return
        if flags & RST:
            if flags & ACK:
                self._drop(errno.ECONNREFUSED)
            return
        if not flags & SYN:
            return
        self.rcv_nxt = (seq + 1) & M32
        self.mss = min(mss, self.my_mss)
        self.sack_ok = self.sack_ok and self.tcp._sackp
        if flags & ACK:
            self._established(seq, ack, wnd)
            self._ack()
            self._push(False)
        else:
            self.state = SYN_RCVD                    # simultaneous open
            self.rtx_at = None
            self._syn()

    def _in_ack(self, flags, seq, ack, wnd, dlen):
        if lt(self.snd_max, ack):
            self._ack()
            return False
        if lt(self.snd_una, ack):
            n = sub(ack, self.snd_una)
            fin_acked = self.fin_sent and ack == ((self.fin_seq + 1) & M32)
            d = n - (1 if fin_acked else 0)
            if d > 0:
                self.sbuf[0:d] = b""
            self.snd_una = ack
            self.retries = 0
            self.dupacks = 0
            self._rtt(ack)
            if self.recover is not None:
                if lt(ack, self.recover) and self.sbuf:      # partial ACK: the next hole
                    self._seg(ack, self.rcv_nxt, ACK, self.sbuf, 0, min(self.mss, len(self.sbuf)))
                    self.retransmits += 1
                    self.rtt_seq = None
                else:
                    self.recover = None
            self.rtx_at = None
            if lt(self.snd_nxt, ack):
                self.snd_nxt = ack                     # acked beyond a go-back-N point
            if self.snd_una != self.snd_max:
                self._arm()
            if fin_acked:
                st = self.state
                if st == FIN_WAIT1:
                    self.state = FIN_WAIT2
                elif st == CLOSING:
                    self._time_wait()
                elif st == LAST_ACK:
                    self._drop(0)
                    return False
        elif ack == self.snd_una and dlen == 0 and not flags & FIN \
                and wnd == self.snd_wnd and self.snd_max != self.snd_una:
            self.dupacks += 1
            if self.dupacks == DUPTHRESH and self.recover is None:   # fast retransmit
                self.recover = self.snd_max
                self.retransmits += 1
                n = min(self.mss, len(self.sbuf))
                if n:
                    self._seg(self.snd_una, self.rcv_nxt, ACK, self.sbuf, 0, n)
                self.rtt_seq = None
        if wnd == 0:
            self.retries = 0                           # peer alive: persist forever
        if dlen < 0:                                   # segment outside our window: its
            if self.snd_wnd == 0 and wnd and le(self.wl2, ack):   # seq can't be trusted
                self.snd_wnd = wnd                     # for wl1; only reopen a zero window
        elif lt(self.wl1, seq) or (self.wl1 == seq and le(self.wl2, ack)):
            self.snd_wnd = wnd
            self.wl1 = seq
            self.wl2 = ack
        return True

    def _in_data(self, buf, flags, seq, doff, dlen):
        st = self.state
        if st == TIME_WAIT:
            if flags & FIN:
                self._ack()
                self.tw_at = self.tcp.ns.now + self.tcp.time_wait
            return
        if st not in (ESTABLISHED, FIN_WAIT1, FIN_WAIT2):
            self._ack()          # data after their FIN: ignore, re-ACK
            return
        if lt(self.rcv_nxt, seq):
            self._ooo_add(buf, flags, seq, doff, dlen)
            self._ack()          # out of order: duplicate ACK
            return
        if self._take(buf, seq, doff, dlen) and flags & FIN:
            self._fin_in(st)
        while self.ooo and le(self.ooo[0][0], self.rcv_nxt):
            e = self.ooo.pop(0)
            d = e[1]
            if self._take(d, e[0], 0, len(d)) and e[2]:
                self._fin_in(self.state)
        if not self.ooo:
            self.ooo = None
        self._ack()

    def _take(self, buf, seq, doff, dlen):
        """Append the new part of buf[doff:doff+dlen] (at seq <= rcv_nxt) that fits the
        window; True if the whole segment is now in (its FIN can be taken)."""
        skip = sub(self.rcv_nxt, seq)
        if skip > dlen:
            return False         # already had it all, FIN included
        take = min(dlen - skip, self._rwnd())
        if take > 0:
            a = doff + skip
            self.rbuf.extend(buf[a:a + take])
            self.rcv_nxt = (self.rcv_nxt + take) & M32
        return skip + max(take, 0) >= dlen and not self.rfin

    def _ooo_add(self, buf, flags, seq, doff, dlen):
        """Keep an out-of-order segment (trimmed to the advertised window), bounded."""
        room = sub((self.rcv_nxt + self._rwnd()) & M32, seq)
        if not OOO_MAX or not dlen or room > 0x7FFFFFFF or room == 0:
            return
        fin = flags & FIN and dlen <= room
        n = min(dlen, room)
        q = self.ooo
        if q is None:
            q = self.ooo = []
        i = 0
        while i < len(q) and lt(q[i][0], seq):
            i += 1
        if i < len(q) and q[i][0] == seq:
            if len(q[i][1]) >= n:
                return           # duplicate
            q.pop(i)
        if len(q) >= OOO_MAX:
            if i >= len(q):
                return           # keep the segments nearest the gap
            q.pop()
        q.insert(i, [seq, bytes(memoryview(buf)[doff:doff + n]), fin])

    def _fin_in(self, st):
        self.rcv_nxt = (self.rcv_nxt + 1) & M32
        self.rfin = True
        self.ooo = None
        if st == ESTABLISHED:
            self.state = CLOSE_WAIT
        elif st == FIN_WAIT1:
            if self.fin_sent and self.snd_una == ((self.fin_seq + 1) & M32):
                self._time_wait()
            else:
                self.state = CLOSING
        elif st == FIN_WAIT2:
            self._time_wait()

    def _time_wait(self):
        self.state = TIME_WAIT
        self.rtx_at = None
        self.tw_at = self.tcp.ns.now + self.tcp.time_wait


class Listener:
    def __init__(self, tcp, port, backlog):
        self.tcp = tcp
        self.port = port
        self.backlog = backlog
        self.q = []
        self.closed = False

    def _ready(self, c):
        self.q.append(c)

    def pending(self):
        n = 0
        for c in self.tcp.conns:
            if c.listener is self and c.state == SYN_RCVD:
                n += 1
        return n + len(self.q)

    def accept(self):
        """An established Conn or None."""
        while self.q:
            c = self.q.pop(0)
            c.listener = None
            if c.state != CLOSED or c.rbuf:
                return c
        return None

    def close(self):
        self.closed = True
        self.tcp.listeners.pop(self.port, None)
        for c in self.q:
            c.abort()
        self.q = []


class Tcp:
    def __init__(self, ns, max_conns=4):
        self.ns = ns
        self.max_conns = max_conns
        self.conns = []
        self.listeners = {}
        self.rcvbuf = RCVBUF
        self.sndbuf = SNDBUF
        self.time_wait = TIME_WAIT_MS
        self.isn = _isn
        self.sack = True          # offer/accept SACK-permitted: we send SACK blocks for
        self._sackp = False       # our out-of-order queue (we ignore the peer's blocks)
        self.rst_sent = self.refused = 0
        self._eport = 49152

    def count(self):
        return len(self.conns)

    def _remove(self, c):
        if c in self.conns:
            self.conns.remove(c)

    def _room(self):
        if len(self.conns) < self.max_conns:
            return True
        oldest = None
        for c in self.conns:             # reuse the oldest TIME_WAIT slot
            if c.state == TIME_WAIT and (oldest is None or c.tw_at - oldest.tw_at < 0):
                oldest = c
        if oldest is not None:
            oldest._drop(0)
            return True
        return False

    def listen(self, port, backlog=2):
        if port in self.listeners:
            raise OSError(errno.EADDRINUSE)
        l = Listener(self, port, backlog)
        self.listeners[port] = l
        return l

    def connect(self, dst, port):
        if not self._room():
            raise OSError(errno.ENOMEM)
        src = self.ns.src_for(dst)
        lport = self._eport
        for _ in range(16384):
            lport = 49152 + (lport - 49152 + 1) % 16384
            if not self._find(dst, port, lport):
                break
        self._eport = lport
        c = Conn(self, src, dst, lport, port)
        c.state = SYN_SENT
        self.conns.append(c)
        c._syn()
        return c

    def _find_pkt(self, p, sport, dport):
        buf = p.buf
        for c in self.conns:
            if c.lport == dport and c.rport == sport and len(c.raddr) == p.alen \
                    and ip.eq_at(buf, p.src, c.raddr) and ip.eq_at(buf, p.dst, c.laddr):
                return c
        return None

    def _find(self, raddr, rport, lport):
        for c in self.conns:
            if c.lport == lport and c.rport == rport and c.raddr == raddr:
                return c
        return None

    def input(self, p):
        buf = p.buf
        t = p.l4
        sport = ip.u16(buf, t)
        dport = ip.u16(buf, t + 2)
        seq = ip.u32(buf, t + 4)
        ack = ip.u32(buf, t + 8)
        hl = (buf[t + 12] >> 4) * 4
        flags = buf[t + 13] & 0x3F
        wnd = ip.u16(buf, t + 14)
        if hl < 20 or hl > p.l4len:
            return
        mss = _mss_opt(buf, t + 20, t + hl, 536 if p.alen == 4 else 1220)
        self._sackp = flags & SYN and _opt_at(buf, t + 20, t + hl, 4) >= 0
        doff = t + hl
        dlen = p.end - doff
        c = self._find_pkt(p, sport, dport)
        if c is not None:
            c.input(buf, flags, seq, ack, wnd, doff, dlen, mss)
            return
        l = self.listeners.get(dport)
        if l is not None and (flags & (SYN | ACK | RST)) == SYN:
            if l.pending() >= l.backlog or not self._room():
                self.refused += 1
                return                         # silently: the peer retries its SYN
            raddr = bytes(buf[p.src:p.src + p.alen])
            laddr = bytes(buf[p.dst:p.dst + p.alen])
            c = Conn(self, laddr, raddr, dport, sport)
            c.listener = l
            c.state = SYN_RCVD
            c.rcv_nxt = (seq + 1) & M32
            c.mss = min(mss, c.my_mss)
            c.sack_ok = self.sack and self._sackp
            c.snd_wnd = wnd
            c.wl1 = seq
            self.conns.append(c)
            c._syn()
            return
        if not flags & RST:
            self._reset(p, sport, dport, flags, seq, ack, dlen)

    def _reset(self, p, sport, dport, flags, seq, ack, dlen):
        """Answer a segment for no connection with RST (RFC 793)."""
        c = _RstSender(self, bytes(p.buf[p.dst:p.dst + p.alen]),
                       bytes(p.buf[p.src:p.src + p.alen]), dport, sport)
        self.rst_sent += 1
        if flags & ACK:
            c._seg(ack, 0, RST, b"", 0, 0)
        else:
            n = dlen + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
            c._seg(0, (seq + n) & M32, RST | ACK, b"", 0, 0)

    def tick(self, now):
        for c in self.conns[:]:
            c.tick(now)


class _RstSender(Conn):
    """Just enough of a connection for Conn._seg to build a RST for an unknown segment.
    (MicroPython classes have no __new__, so Conn's state is not created and skipped.)"""

    def __init__(self, tcp, laddr, raddr, lport, rport):
        self.tcp = tcp
        self.laddr = laddr
        self.raddr = raddr
        self.lport = lport
        self.rport = rport
        self.rbuf = b""
        self.rcap = 0


def _opt_at(buf, i, end, kind, size=0):
    """Offset of the first TCP option `kind` in buf[i:end] (with length byte == size and
    inside end, when size is given), or -1. Stops at End-of-list or a bad length."""
    while i < end:
        k = buf[i]
        if k == kind and (not size or (i + 1 < end and buf[i + 1] == size and i + size <= end)):
            return i
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= end or buf[i + 1] < 2:
            break
        i += buf[i + 1]
    return -1


def _mss_opt(buf, i, end, default):
    j = _opt_at(buf, i, end, 2, 4)
    if j < 0:
        return default
    v = (buf[j + 2] << 8) | buf[j + 3]
    return v if v >= 64 else default
