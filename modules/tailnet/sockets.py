# tailnet sockets: the user API over the tailnet netstack, modelled on Go tsnet and
# MicroPython asyncio streams.
#
#   import tailnet
#   from tailnet import sockets as ts
#   tailnet.up(authkey, control_url=..., hostname="pico1")
#
#   async def handle(reader, writer):            # asyncio, like asyncio.start_server
#       line = await reader.readline()
#       writer.write(b"HTTP/1.0 200 OK\r\n\r\nhi\r\n"); await writer.drain()
#       writer.close(); await writer.wait_closed()
#   srv = await ts.start_server(handle, 80)
#   r, w = await ts.open_connection("peer1", 8080)  # by name or by tailnet IP
#
#   l = ts.listen(80); c = l.accept(); c.recv(512); c.send(b"..."); c.close()   # blocking
#   c = ts.dial("peer1", 8080)
#   u = ts.udp(5000); u.sendto(b"hi", ("100.64.0.2", 7)); data, addr = u.recvfrom()
#   ts.resolve("peer1") -> "100.64.0.2";  ts.whois("100.64.0.2") -> {"name": "peer1", ...}
#   ts.ping("peer1") -> round-trip ms
#
# Every call takes an optional node= (default: the node of tailnet.up()). The first call
# starts the data plane (WireGuard + DERP + disco) and the netstack if nobody did;
# configure(**kw) sets their options first (udp_port, bind, local_ips, max_tcp, ...).
# Errors are OSError with the usual errno: ECONNREFUSED, ETIMEDOUT, ECONNRESET,
# EADDRINUSE, EHOSTUNREACH (no route / unknown name), ENOTCONN, ENETDOWN (no tailnet).
import errno

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
try:
    from time import ticks_ms, ticks_diff
except ImportError:
    import time as _t

    def ticks_ms():
        return int(_t.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from tailnet import ipaddr
from tailnet import netmap as _nm

ENETDOWN = getattr(errno, "ENETDOWN", 100)   # not in MicroPython's errno (Linux value)
POLL_MS = 2                 # how often a waiting stream re-checks the netstack
CONNECT_TIMEOUT = 10        # s
_opts = {"dp": {}, "ns": {}}


async def _sleep_ms(ms):
    if hasattr(asyncio, "sleep_ms"):
        await asyncio.sleep_ms(ms)
    else:
        await asyncio.sleep(ms / 1000)


def configure(udp_port=None, bind="0.0.0.0", local_ips=(), cadata=None, max_tcp=4, max_peers=None,
              **ns_kw):
    """Options for the data plane and netstack started by the first socket call.
    max_peers: WireGuard peer slots (944 B each, default dataplane.MAX_PEERS); peers of the
    netmap beyond that many stay unreachable."""
    _opts["dp"] = {"udp_port": udp_port, "bind": bind, "local_ips": local_ips}
    if max_peers is not None:
        _opts["dp"]["max_peers"] = max_peers
    if cadata is not None:
        _opts["dp"]["cadata"] = cadata
    ns_kw["max_tcp"] = max_tcp
    _opts["ns"] = ns_kw


def _node(node):
    if node is None:
        import tailnet
        node = tailnet.current()
    if node is None:
        raise OSError(ENETDOWN, "call tailnet.up() first")
    return node


async def stack_async(node=None, timeout=60):
    """(dataplane, netstack) of the node, starting them if needed (node must come up)."""
    n = _node(node)
    t0 = ticks_ms()
    while True:
        dp = getattr(n, "dataplane", None)
        if dp is not None and dp._task is not None:
            break
        if dp is None and n.state == "Running" and not getattr(n, "_sk_starting", False):
            n._sk_starting = True
            try:
                from tailnet import dataplane
                kw = dict(_opts["dp"])
                kw.setdefault("cadata", n.cadata)
                dp = await dataplane.start(n, **kw)
                n.dataplane = dp
                derp = dp.transport.derp
                if derp is not None and not await derp.wait_connected(10000):
                    n.log("sockets: DERP not connected yet: %s" % (derp.last_error,), 0)
            finally:
                n._sk_starting = False
            continue
        if ticks_diff(ticks_ms(), t0) > timeout * 1000:
            raise OSError(ENETDOWN, "tailnet: no data plane (%s)" % (n.error or n.state))
        await _sleep_ms(50)
    if dp.ns is None:
        from tailnet.netstack import Netstack
        dp.attach_netstack(Netstack(**_opts["ns"]))
    return dp, dp.ns


def _run(coro):
    import tailnet
    return tailnet._run(coro)


# ---- names ----------------------------------------------------------------------
def _records(nm):
    if nm.self_node is not None:
        yield nm.self_node
    for r in nm.peers.values():
        yield r


def _short(fqdn):
    return fqdn.split(".")[0].lower()


def _info(rec, is_self, node):
    r = _nm.unpack(rec)
    fq = r[_nm.NAME].rstrip(".")
    return {"name": _short(fq), "fqdn": fq, "id": r[_nm.ID],
            "addresses": [ipaddr.fmt_ip(a) for _, a in ipaddr.unpack_prefixes(r[_nm.ADDRS])],
            "node_key": "nodekey:" + "".join("%02x" % b for b in r[_nm.KEY]),
            "online": r[_nm.ONLINE], "self": is_self,
            "user": node.user if is_self else None}


def resolve(name, node=None, family=4):
    """Tailnet IP (str) of a node by short name or MagicDNS FQDN; an IP is returned as is.
    family 4 or 6 picks the address family (the other one if the node has only that)."""
    try:
        b = ipaddr.parse_ip(name)
        return ipaddr.fmt_ip(b)
    except (ValueError, TypeError, IndexError):
        pass
    n = _node(node)
    want = name.rstrip(".").lower()
    for rec in _records(n.netmap):
        fq = _nm.unpack(rec)[_nm.NAME].rstrip(".").lower()
        if fq and (want == fq or want == _short(fq)):
            addrs = [a for _, a in _nm.rec_addresses(rec)]
            addrs.sort(key=lambda a: 0 if len(a) == (4 if family == 4 else 16) else 1)
            if addrs:
                return ipaddr.fmt_ip(addrs[0])
    raise OSError(errno.EHOSTUNREACH, "unknown tailnet name: %s" % name)


def whois(addr, node=None):
    """The node owning a tailnet address ("ip" or (ip, port)) as a dict: name, fqdn, id,
    addresses, node_key, online, self, user (known for ourselves only); None if unknown."""
    if isinstance(addr, tuple):
        addr = addr[0]
    b = bytes(ipaddr.parse_ip(addr)) if isinstance(addr, str) else bytes(addr)
    n = _node(node)
    for rec in _records(n.netmap):
        for _, a in _nm.rec_addresses(rec):
            if bytes(a) == b:
                return _info(rec, rec is n.netmap.self_node, n)
    return None


def _dst(dp, host, node):
    ip = resolve(host, node)
    d = bytes(ipaddr.parse_ip(ip))
    if d not in [bytes(a) for a in dp.my] and dp.route(d) is None:
        raise OSError(errno.EHOSTUNREACH, "no tailnet peer has %s" % ip)
    return ip, d


# ---- TCP streams --------------------------------------------------------------------
class Stream:
    """A TCP connection as an asyncio stream (reader and writer in one object, like
    MicroPython's asyncio.Stream)."""

    def __init__(self, dp, conn):
        self.dp = dp
        self.c = conn
        self._buf = b""          # read ahead (readline)
        self._out = []           # written, not yet drained

    def get_extra_info(self, name):
        c = self.c
        if name == "peername":
            return (ipaddr.fmt_ip(c.raddr), c.rport)
        if name == "sockname":
            return (ipaddr.fmt_ip(c.laddr), c.lport)
        return None

    async def _recv(self, n):
        """Up to n bytes (b"" at EOF), waiting for data."""
        if self._buf:
            d, self._buf = self._buf[:n], self._buf[n:]
            return d
        while True:
            d = self.c.recv(n)
            if d is not None:
                self.dp.flush()              # window updates
                return d
            await _sleep_ms(POLL_MS)

    async def read(self, n=-1):
        if n >= 0:
            return await self._recv(n if n else 0) if n else b""
        parts = []
        while True:
            d = await self._recv(4096)
            if not d:
                return b"".join(parts)
            parts.append(d)

    async def readinto(self, buf):
        d = await self._recv(len(buf))
        buf[:len(d)] = d
        return len(d)

    async def readexactly(self, n):
        parts = []
        while n > 0:
            d = await self._recv(n)
            if not d:
                raise EOFError
            parts.append(d)
            n -= len(d)
        return b"".join(parts)

    async def readline(self):
        line = b""
        while True:
            d = await self._recv(512)
            if not d:
                return line
            i = d.find(b"\n")
            if i >= 0:
                self._buf = d[i + 1:] + self._buf
                return line + d[:i + 1]
            line += d

    def write(self, b):
        if b:
            self._out.append(bytes(b))

    async def drain(self):
        c = self.c
        while self._out:
            d = self._out[0]
            k = c.send(d)              # raises OSError (ECONNRESET, ...) on a dead connection
            self.dp.flush()
            if k == len(d):
                self._out.pop(0)
            else:
                self._out[0] = d[k:]
                await _sleep_ms(POLL_MS)

    async def awrite(self, b):
        self.write(b)
        await self.drain()

    def close(self):
        try:
            if self._out:                 # best effort: what fits now goes before the FIN
                for d in self._out:
                    self.c.send(d)
                self._out = []
        except OSError:
            pass
        self.c.close()
        self.dp.flush()

    async def wait_closed(self, timeout=5):
        """Wait until the FIN (after all data) is acknowledged, at most timeout s."""
        t0 = ticks_ms()
        while self.c.state not in (0, 6, 10) and ticks_diff(ticks_ms(), t0) < timeout * 1000:
            await _sleep_ms(POLL_MS * 5)

    aclose = wait_closed

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()


class Server:
    """What start_server() returns: close() / wait_closed(), async with support."""

    def __init__(self, dp, lst, cb):
        self.dp = dp
        self.l = lst
        self.cb = cb
        self.task = asyncio.create_task(self._serve())

    async def _serve(self):
        while True:
            c = self.l.accept()
            if c is None:
                await _sleep_ms(POLL_MS * 5)
                continue
            s = Stream(self.dp, c)
            asyncio.create_task(self._handle(s))

    async def _handle(self, s):
        try:
            await self.cb(s, s)
        except Exception as e:
            self.dp.node.log("sockets: handler failed: %r" % (e,), 1)
            s.c.abort()
            self.dp.flush()

    def close(self):
        self.task.cancel()
        self.l.close()
        self.dp.flush()

    async def wait_closed(self):
        try:
            await self.task
        except BaseException:
            pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()


async def start_server(cb, port, backlog=2, node=None):
    """Serve TCP port on our tailnet addresses: cb(reader, writer) per connection."""
    dp, ns = await stack_async(node)
    return Server(dp, ns.tcp_listen(port, backlog), cb)


async def _connect(dp, ns, host, port, timeout, node):
    ip, d = _dst(dp, host, node)
    c = ns.tcp_connect(d, port, ticks_ms())
    dp.flush()
    t0 = ticks_ms()
    while not c.established():
        if c.err:
            raise OSError(c.err)
        if c.state == 0:
            raise OSError(errno.ECONNREFUSED)
        if ticks_diff(ticks_ms(), t0) > timeout * 1000:
            c.abort()
            raise OSError(errno.ETIMEDOUT)
        await _sleep_ms(POLL_MS)
    return c


async def open_connection(host, port, timeout=CONNECT_TIMEOUT, node=None):
    """Connect to host (tailnet IP, short name or FQDN) -> (reader, writer)."""
    dp, ns = await stack_async(node)
    s = Stream(dp, await _connect(dp, ns, host, port, timeout, node))
    return s, s


# ---- blocking forms ----------------------------------------------------------------
class Socket:
    """A blocking TCP connection (dial() / Listener.accept())."""

    def __init__(self, stream):
        self.s = stream

    def send(self, b):
        self.s.write(b)
        _run(self.s.drain())
        return len(b)

    sendall = write = send

    def recv(self, n=1024):
        return _run(self.s._recv(n))

    read = recv

    def readline(self):
        return _run(self.s.readline())

    def close(self):
        self.s.close()
        _run(self.s.wait_closed())

    def getpeername(self):
        return self.s.get_extra_info("peername")


class Listener:
    def __init__(self, dp, lst):
        self.dp = dp
        self.l = lst

    def accept(self, timeout=None):
        """-> (Socket, (ip, port)); OSError(ETIMEDOUT) after timeout s."""
        async def wait():
            t0 = ticks_ms()
            while True:
                c = self.l.accept()
                if c is not None:
                    return c
                if timeout is not None and ticks_diff(ticks_ms(), t0) > timeout * 1000:
                    raise OSError(errno.ETIMEDOUT)
                await _sleep_ms(POLL_MS * 5)
        s = Stream(self.dp, _run(wait()))
        return Socket(s), s.get_extra_info("peername")

    def close(self):
        self.l.close()


def listen(port, backlog=2, node=None):
    """Blocking TCP listener on our tailnet addresses (for simple main.py scripts)."""
    dp, ns = _run(stack_async(node))
    return Listener(dp, ns.tcp_listen(port, backlog))


def dial(host, port, timeout=CONNECT_TIMEOUT, node=None):
    """Blocking TCP connection to host:port on the tailnet -> Socket."""
    async def go():
        dp, ns = await stack_async(node)
        return Stream(dp, await _connect(dp, ns, host, port, timeout, node))
    return Socket(_run(go()))


# ---- UDP ---------------------------------------------------------------------------
class Datagram:
    def __init__(self, dp, sock, node):
        self.dp = dp
        self.s = sock
        self.node = node
        self.port = sock.port

    def sendto(self, data, addr):
        """addr = (host, port); host may be a name. Returns len(data)."""
        ip = resolve(addr[0], self.node)
        if not self.s.sendto(data, ip, addr[1]):
            raise OSError(errno.ENOBUFS)
        self.dp.flush()
        return len(data)

    def poll(self):
        """-> (data, (ip, port)) or None without waiting."""
        return self.s.recvfrom()

    async def arecvfrom(self, timeout=None):
        t0 = ticks_ms()
        while True:
            r = self.s.recvfrom()
            if r is not None:
                return r
            if timeout is not None and ticks_diff(ticks_ms(), t0) > timeout * 1000:
                raise OSError(errno.ETIMEDOUT)
            await _sleep_ms(POLL_MS)

    def recvfrom(self, timeout=None):
        """Blocking: -> (data, (ip, port)); OSError(ETIMEDOUT) after timeout s."""
        r = self.s.recvfrom()
        return r if r is not None else _run(self.arecvfrom(timeout))

    def close(self):
        self.s.close()


async def udp_async(port=0, qmax=4, node=None):
    dp, ns = await stack_async(node)
    return Datagram(dp, ns.udp(port, qmax), node)


def udp(port=0, qmax=4, node=None):
    """A UDP endpoint on our tailnet addresses (port 0: an ephemeral one)."""
    return _run(udp_async(port, qmax, node))


# ---- ping --------------------------------------------------------------------------
_seq = [0]


async def ping_async(host, timeout=3, node=None):
    """ICMP echo to host over the tailnet -> round-trip ms; OSError(ETIMEDOUT)."""
    dp, ns = await stack_async(node)
    ip, d = _dst(dp, host, node)
    _seq[0] = (_seq[0] + 1) & 0xFFFF
    seq = _seq[0]
    t0 = ticks_ms()
    ns.ping(d, seq)
    dp.flush()
    while ns.pong(seq) is None:
        if ticks_diff(ticks_ms(), t0) > timeout * 1000:
            raise OSError(errno.ETIMEDOUT)
        await _sleep_ms(POLL_MS)
    return ticks_diff(ticks_ms(), t0)


def ping(host, timeout=3, node=None):
    return _run(ping_async(host, timeout, node))
