# tailnet: the one UDP socket magicsock uses for WireGuard, disco and STUN (asyncio,
# MicroPython and CPython). Addresses inside tailnet are (ip16, port) tuples.
# MIT license

import socket

try:
    import asyncio
    from asyncio import core as _core  # MicroPython: wait on the poller directly

    def _wait_readable(s):
        yield _core._io_queue.queue_read(s)

except ImportError:  # CPython
    import asyncio

    _core = None

from tailnet import disco, stun

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"


_FROM = {}  # recvfrom() address -> (ip16, port), bounded: no allocation for known senders


def from_sockaddr(a):
    """recvfrom() address (tuple, or raw sockaddr bytes on the unix port) -> (ip16, port)."""
    r = _FROM.get(a)
    if r is None:
        r = _from_sockaddr(a)
        if len(_FROM) >= 16:
            _FROM.clear()
        _FROM[a] = r
    return r


def _from_sockaddr(a):
    if isinstance(a, tuple):
        return disco.ip16(a[0]), a[1]
    a = bytes(a)
    fam = a[0] | (a[1] << 8)
    port = (a[2] << 8) | a[3]
    if fam == 2:  # AF_INET
        return _V4MAPPED + a[4:8], port
    return a[8:24], port  # AF_INET6


def text(addr):
    ip = disco.unmap(addr[0])
    if len(ip) == 4:
        return "%s:%d" % (stun.ip_str(ip), addr[1])
    return "[%s]:%d" % (stun.ip_str(ip), addr[1])


class UDP:
    def __init__(self, host="0.0.0.0", port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(socket.getaddrinfo(host, port)[0][-1])
        self.sock.setblocking(False)
        self.port = port
        self._sa = {}  # (ip16, port) -> sockaddr, bounded
        self.stats = {"rx": 0, "tx": 0, "tx_err": 0}

    def sockaddr(self, addr):
        sa = self._sa.get(addr)
        if sa is None:
            if len(self._sa) > 64:
                self._sa.clear()
            ip = disco.unmap(addr[0])
            if len(ip) != 4:
                raise ValueError("IPv4 only")
            sa = self._sa[addr] = socket.getaddrinfo(stun.ip_str(ip), addr[1])[0][-1]
        return sa

    def sendto(self, addr, payload):
        try:
            self.sock.sendto(payload, self.sockaddr(addr))
            self.stats["tx"] += 1
        except OSError:
            self.stats["tx_err"] += 1

    async def recvfrom(self, n=2048):
        while True:
            if _core is not None:
                await _wait_readable(self.sock)
                try:
                    data, a = self.sock.recvfrom(n)
                except OSError:
                    continue
            else:
                data, a = await asyncio.get_running_loop().sock_recvfrom(self.sock, n)
            self.stats["rx"] += 1
            return data, from_sockaddr(a)

    def close(self):
        self.sock.close()


async def recv_loop(udp, conn, on_stun=None):
    """Feed every datagram into magicsock.Conn; STUN responses go to on_stun(data)."""
    while True:
        data, addr = await udp.recvfrom()
        k = conn.udp_recv(addr, data)
        if k == disco.KIND_STUN and on_stun is not None:
            on_stun(data)


async def stun_probe(udp, host, port, tries=3, timeout_ms=1000):
    """One STUN binding from the shared socket (no recv loop may run meanwhile).
    Returns ((ip16, port) mapped, rtt_ms) or None."""
    try:
        from time import ticks_ms, ticks_diff
    except ImportError:
        import time

        def ticks_ms():
            return int(time.monotonic() * 1000)

        def ticks_diff(a, b):
            return a - b

    from tailnet import crypto

    dst = (disco.ip16(host), port)
    for _ in range(tries):
        txid = crypto.random(12)
        t0 = ticks_ms()
        udp.sendto(dst, stun.request(txid))
        while ticks_diff(ticks_ms(), t0) < timeout_ms:
            try:
                data, _ = await asyncio.wait_for(udp.recvfrom(), timeout_ms / 1000)
            except asyncio.TimeoutError:
                break
            r = stun.parse_response(data, txid)
            if r is not None:
                return (disco.ip16(r[1]), r[2]), ticks_diff(ticks_ms(), t0)
    return None
