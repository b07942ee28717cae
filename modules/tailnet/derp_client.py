# tailnet: DERP client runner (asyncio; MicroPython and CPython).
# MIT license
#
# One connection to one DERP node, kept up forever: HTTP/1.1 upgrade (plain or TLS),
# ServerKey -> ClientInfo -> ServerInfo, then a frame loop. Pings from the server are
# answered with Pongs; a silent connection (no bytes for read_timeout) is torn down;
# every failure closes the socket, resets the parser and retries with capped backoff.

try:
    import asyncio
except ImportError:  # very old MicroPython
    import uasyncio as asyncio

try:
    from time import ticks_ms, ticks_diff
except ImportError:  # CPython
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


from tailnet import crypto, derp

DISCONNECTED = 0
CONNECTING = 1
CONNECTED = 2


def backoff_ms(attempt, cap_ms=5000, rnd=None):
    """Tailscale's util/backoff shape: attempt^2 * 10 ms, capped, with 50-100% jitter."""
    base = min(cap_ms, attempt * attempt * 10)
    r = rnd if rnd is not None else crypto.random(1)[0] / 255
    return int(base * (0.5 + 0.5 * r))


def tls_context(insecure=False, cadata=None):
    """SSLContext: CPython `ssl` or MicroPython's built-in `tls`. cadata = CA cert (DER)
    to verify against; insecure = no verification (DERPNode InsecureForTests)."""
    try:
        import ssl

        if insecure:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        return ssl.create_default_context(cadata=cadata)
    except ImportError:
        pass
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.verify_mode = tls.CERT_NONE
    else:
        ctx.verify_mode = tls.CERT_REQUIRED
        if cadata is not None:
            ctx.load_verify_locations(cadata)
    return ctx


try:
    from asyncio import core as _core  # MicroPython

    def _wait_io(s, write=False):
        yield (_core._io_queue.queue_write(s) if write else _core._io_queue.queue_read(s))

except ImportError:  # CPython
    _core = None


async def _readinto(r, mv, raw=None):
    if raw is not None:
        # MicroPython TLS: read the TLS object without blocking, but wait for readability
        # on the raw socket (an fd), so the poller never falls back to 1 ms ioctl polling
        while True:
            n = r.s.readinto(mv)
            if n is not None:
                return n
            await _wait_io(raw)
    if hasattr(r, "readinto"):  # MicroPython Stream
        while True:
            n = await r.readinto(mv)
            if n is not None:
                return n
    data = await r.read(len(mv))  # CPython StreamReader
    mv[: len(data)] = data
    return len(data)


async def _open_tls(host, port, ctx, sni):
    """MicroPython: like asyncio.open_connection(ssl=ctx) but also returns the raw socket."""
    import socket

    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    raw = socket.socket(ai[0], ai[1], ai[2])
    raw.setblocking(False)
    try:
        raw.connect(ai[-1])
    except OSError as e:
        if e.errno != 115:  # EINPROGRESS
            raw.close()
            raise
    s = ctx.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False)
    s.setblocking(False)
    st = asyncio.StreamReader(s)
    try:
        await _wait_io(raw, True)
    except BaseException:
        s.close()
        raise
    return st, raw


async def _close(w):
    if w is None:
        return
    try:
        w.close()
        await w.wait_closed()
    except Exception:
        pass


class DerpClient:
    """Keeps one DERP connection. Callbacks (plain functions, must not block):
    on_packet(src_key_view, pkt_view) - views valid only during the call;
    on_peer_gone(key, reason); on_state(state); on_health(text)."""

    def __init__(self, host, port, node_priv, node_pub=None, *, tls=False, insecure=False,
                 cadata=None, server_name=None, path="/derp", preferred=True, bufsize=4096, txsize=2048,
                 read_timeout_ms=120000, ping_after_ms=60000, backoff_cap_ms=5000):
        self.host = host
        self.port = port
        self.node_priv = bytes(node_priv)
        self.node_pub = bytes(node_pub) if node_pub else crypto.x25519_base(self.node_priv)
        self.tls = tls
        self.insecure = insecure
        self.cadata = cadata
        self.server_name = server_name or host
        self.path = path
        self.preferred = preferred
        self.read_timeout_ms = read_timeout_ms
        self.ping_after_ms = ping_after_ms
        self.backoff_cap_ms = backoff_cap_ms
        self.parser = derp.FrameParser(bufsize)
        # bounded buffers: received packets larger than bufsize-37 are dropped and counted
        # (parser.stats["too_big"]); larger sends allocate a one-off frame
        self._tx = bytearray(txsize)
        self._txmv = memoryview(self._tx)
        self.on_packet = None
        self.on_peer_gone = None
        self.on_state = None
        self.on_health = None
        self.state = DISCONNECTED
        self.server_pub = None
        self.server_info = None
        self._w = None
        self._raw = None
        self._stop = False
        self._kick = False
        self._attempt = 0
        self._restart_ms = None
        self._last_rx = ticks_ms()
        self._pings = {}
        self._lock = asyncio.Lock()  # 8-byte data -> ticks sent (our pings to the server)
        self.rtt_ms = None
        self.stats = {"connects": 0, "failures": 0, "rx_packets": 0, "tx_packets": 0,
                      "tx_dropped": 0, "pings_answered": 0, "keepalives": 0}
        self.last_error = None

    # ---- public API -----------------------------------------------------------

    async def run(self):
        """Connect and reconnect until stop()."""
        while not self._stop:
            try:
                await self._session()
            except Exception as e:  # every failure ends in a full teardown and a retry
                self.last_error = repr(e)
                self.stats["failures"] += 1
            await self._teardown()
            if self._stop:
                break
            if self._restart_ms is not None:
                delay = self._restart_ms
                self._restart_ms = None
            else:
                self._attempt += 1
                delay = backoff_ms(self._attempt, self.backoff_cap_ms)
            await asyncio.sleep(delay / 1000)

    def stop(self):
        self._stop = True
        self._kick = True

    def reconnect(self):
        """Drop the current connection (it is re-established by run())."""
        self._kick = True

    async def send(self, dst, pkt):
        """SendPacket to node key `dst`. False if not connected (packet dropped)."""
        w = self._w
        if w is None or self.state != CONNECTED:
            self.stats["tx_dropped"] += 1
            return False
        async with self._lock:  # one writer at a time (MicroPython Stream.drain)
            if w is not self._w:
                self.stats["tx_dropped"] += 1
                return False
            if derp.HEADER_LEN + derp.KEY_LEN + len(pkt) <= len(self._tx):
                n = derp.send_packet_into(self._tx, dst, pkt)
                w.write(self._txmv[:n])
            else:
                w.write(derp.send_packet(dst, pkt))
            await w.drain()
        self.stats["tx_packets"] += 1
        return True

    async def ping_server(self):
        """Send a DERP Ping frame to the server; the Pong sets rtt_ms."""
        w = self._w
        if w is None:
            return False
        data = crypto.random(8)
        if len(self._pings) > 8:
            self._pings.clear()
        self._pings[data] = ticks_ms()
        await self._write(w, derp.ping(data))
        return True

    async def _write(self, w, frame):
        async with self._lock:
            w.write(frame)
            await w.drain()

    async def wait_connected(self, timeout_ms=10000):
        t0 = ticks_ms()
        while self.state != CONNECTED:
            if ticks_diff(ticks_ms(), t0) > timeout_ms:
                return False
            await asyncio.sleep(0.02)
        return True

    # ---- connection -------------------------------------------------------------

    def _set_state(self, st):
        if st != self.state:
            self.state = st
            if self.on_state:
                self.on_state(st)

    async def _session(self):
        self._set_state(CONNECTING)
        self._kick = False
        self.parser.reset()
        ssl = tls_context(self.insecure, self.cadata) if self.tls else None
        self._raw = None
        if ssl is not None and _core is not None:
            r, self._raw = await _open_tls(self.host, self.port, ssl, self.server_name)
            w = r
        elif ssl is not None:
            r, w = await asyncio.open_connection(self.host, self.port, ssl=ssl,
                                                 server_hostname=self.server_name)
        else:
            r, w = await asyncio.open_connection(self.host, self.port)
        self._w = w
        self._r = r
        hostport = self.server_name
        if self.port not in (80, 443):
            hostport = "%s:%d" % (hostport, self.port)
        w.write(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                 "User-Agent: tailnet\r\n\r\n" % (self.path, hostport)).encode())
        await w.drain()
        await asyncio.wait_for(self._read_upgrade(r), 10)
        await asyncio.wait_for(self._login(r, w), 10)
        self._attempt = 0
        self.stats["connects"] += 1
        self._set_state(CONNECTED)
        if self.preferred:
            await self._write(w, derp.note_preferred(True))
        rx = asyncio.create_task(self._rx_loop(r, w))
        err = None
        try:
            while not rx.done() and not self._kick:
                await asyncio.sleep(0.25)
                idle = ticks_diff(ticks_ms(), self._last_rx)
                if idle > self.read_timeout_ms:
                    raise OSError("derp: read timeout")
                if idle > self.ping_after_ms and not self._pings:
                    await self.ping_server()
        finally:
            if not rx.done():
                rx.cancel()
            try:
                await rx
            except asyncio.CancelledError:
                pass
            except Exception as e:  # the receive loop's failure is this session's failure
                err = e
        if err is not None:
            raise err

    async def _read_upgrade(self, r):
        line = await r.readline()
        if not line.startswith(b"HTTP/1.1 101"):
            raise OSError("derp: upgrade refused: %r" % line[:60])
        n = 0
        while True:
            line = await r.readline()
            if not line:
                raise OSError("derp: EOF in headers")
            if line in (b"\r\n", b"\n"):
                return
            n += 1
            if n > 32:
                raise OSError("derp: too many headers")

    async def _next_frame(self, r):
        p = self.parser
        while True:
            t = p.next()
            if t is not None:
                if t == derp.ERROR:
                    raise OSError("derp: bad frame stream")
                self._last_rx = ticks_ms()
                return t
            mv = p.space()
            n = await _readinto(r, mv, self._raw)
            if not n:
                raise OSError("derp: EOF")
            p.advance(n)

    async def _login(self, r, w):
        t = await self._next_frame(r)
        if t != derp.SERVER_KEY:
            raise OSError("derp: first frame %d is not ServerKey" % t)
        spub = derp.parse_server_key(self.parser.payload())
        if spub is None:
            self.parser.fail()
            raise OSError("derp: bad ServerKey magic")
        self.server_pub = spub
        self._shared = crypto.box_beforenm(spub, self.node_priv)
        await self._write(w, derp.client_info(self.node_priv, self.node_pub, spub))
        while True:
            t = await self._next_frame(r)
            if t == derp.SERVER_INFO:
                info = derp.open_server_info(self.parser.payload(), None, None, self._shared)
                if info is None:
                    self.parser.fail()
                    raise OSError("derp: bad ServerInfo box")
                self.server_info = info
                return
            out = self._handle(t)  # frames before ServerInfo are legal (e.g. Ping, Health)
            if out is not None:
                await self._write(w, out)

    async def _rx_loop(self, r, w):
        while True:
            t = await self._next_frame(r)
            out = self._handle(t)
            if out is not None:
                await self._write(w, out)

    def _handle(self, t):
        """Process one frame; returns a frame to send back (Pong) or None."""
        p = self.parser.payload()
        if t == derp.RECV_PACKET:
            sp = derp.parse_recv_packet(p)
            if sp is None:
                self.parser.fail()
                return None
            self.stats["rx_packets"] += 1
            if self.on_packet:
                self.on_packet(sp[0], sp[1])
        elif t == derp.KEEP_ALIVE:
            self.stats["keepalives"] += 1
        elif t == derp.PING:
            d = derp.parse_ping(p)
            if d is not None:
                self.stats["pings_answered"] += 1
                return derp.pong(d)
        elif t == derp.PONG:
            d = derp.parse_ping(p)
            t0 = self._pings.pop(d, None) if d is not None else None
            if t0 is not None:
                self.rtt_ms = ticks_diff(ticks_ms(), t0)
        elif t == derp.PEER_GONE:
            g = derp.parse_peer_gone(p)
            if g is not None and self.on_peer_gone:
                self.on_peer_gone(g[0], g[1])
        elif t == derp.HEALTH:
            if self.on_health:
                self.on_health(derp.parse_health(p))
        elif t == derp.RESTARTING:
            rs = derp.parse_restarting(p)
            if rs is not None:
                self._restart_ms = min(rs[0], 60000)
        # SERVER_KEY / SERVER_INFO again, PEER_PRESENT: ignored
        return None

    async def _teardown(self):
        w = self._w
        self._w = None
        self._r = None
        self._raw = None
        self._pings.clear()
        self._set_state(DISCONNECTED)
        await _close(w)
        self.parser.reset()
