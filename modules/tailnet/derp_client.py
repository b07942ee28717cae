# tailnet: DERP client runner (asyncio; MicroPython and CPython).
# MIT license
#
# One connection to one DERP node, kept up forever: HTTP/1.1 upgrade (plain or TLS),
# ServerKey -> ClientInfo -> ServerInfo, then a frame loop. Pings from the server are
# answered with Pongs; a silent connection (no bytes for read_timeout) is torn down;
# every failure closes the socket, resets the parser and retries with capped backoff.
#
# Liveness (a dead uplink fails nothing locally: TCP just retransmits with growing gaps,
# so a 30 s outage would otherwise stall the old connection for ~25 s more after it ends):
#  - idle: no frame for ping_after_ms (60 s, the server's KeepAlive period) -> DERP Ping;
#  - busy: we wrote something and nothing came back for probe_ms (5 s) -> DERP Ping;
#  - a Ping with no frame at all in ping_timeout_ms (5 s) means the connection is dead:
#    torn down and dialled again (TCP connect bounded by connect_timeout_ms, 5 s), so a
#    link that comes back is used again within a few seconds of the backoff (cap 5 s).

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

    # One context for all TLS connections (control and DERP): each holds its own
    # entropy/DRBG/config state (40 KB of MicroPython heap with Debian's host mbedTLS).
    key = (insecure, cadata)
    if _tls_ctx[0] == key:
        return _tls_ctx[1]
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.verify_mode = tls.CERT_NONE
    else:
        ctx.verify_mode = tls.CERT_REQUIRED
        if cadata is not None:
            ctx.load_verify_locations(cadata)
    _tls_ctx[0] = key
    _tls_ctx[1] = ctx
    return ctx


_tls_ctx = [None, None]


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


def _nodelay(sock):
    """No Nagle on the DERP connection: with it, a small frame (a TCP ACK or window
    update of the tunnelled connection) written while our previous small frame is not yet
    acknowledged waits for the server's delayed ACK (~40 ms on Linux): every window round
    trip of a download over DERP took ~45 ms instead of a few. Best effort (lwIP ports may
    not offer the option)."""
    try:
        import socket
        import sys
        opt = getattr(socket, "TCP_NODELAY", None)
        if opt is None:     # the unix port has no constants: Linux's values
            if sys.platform != "linux":
                return
            opt = 1
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), opt, 1)
    except Exception:
        pass


async def _open_tls(host, port, ctx, sni):
    """MicroPython: like asyncio.open_connection(ssl=ctx) but also returns the raw socket."""
    import socket

    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    raw = socket.socket(ai[0], ai[1], ai[2])
    raw.setblocking(False)
    _nodelay(raw)
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
        # CPython waits for buffered data to drain: never on a dead link
        await asyncio.wait_for(w.wait_closed(), 2)
    except Exception:
        pass


class DerpClient:
    """Keeps one DERP connection. Callbacks (plain functions, must not block):
    on_packet(src_key_view, pkt_view) - views valid only during the call;
    on_peer_gone(key, reason); on_state(state); on_health(text)."""

    def __init__(self, host, port, node_priv, node_pub=None, *, tls=False, insecure=False,
                 cadata=None, server_name=None, path="/derp", preferred=True, bufsize=4096, txsize=2048,
                 read_timeout_ms=120000, ping_after_ms=60000, backoff_cap_ms=5000,
                 probe_ms=5000, ping_timeout_ms=5000, connect_timeout_ms=5000, pin=None):
        self.host = host
        self.port = port
        self.node_priv = bytes(node_priv)
        self.node_pub = bytes(node_pub) if node_pub else crypto.x25519_base(self.node_priv)
        self.tls = tls
        # pin: SHA-256 of the server certificate (DER), checked instead of a CA if no cadata
        self.pin = pin
        self.insecure = insecure or (pin is not None and cadata is None)
        self.cadata = cadata
        self.server_name = server_name or host
        self.path = path
        self.preferred = preferred
        self.read_timeout_ms = read_timeout_ms
        self.ping_after_ms = ping_after_ms
        self.backoff_cap_ms = backoff_cap_ms
        self.probe_ms = probe_ms
        self.ping_timeout_ms = ping_timeout_ms
        self.connect_timeout_ms = connect_timeout_ms
        self._tx_at = None    # ticks of our last write
        self._ping_at = None  # ticks of our oldest unanswered liveness ping
        self.parser = derp.FrameParser(bufsize)
        # bounded buffers: received packets larger than bufsize-37 are dropped and counted
        # (parser.stats["too_big"]); larger sends allocate a one-off frame
        self._tx = bytearray(txsize)
        self._txmv = memoryview(self._tx)
        self._pkt_at = derp.Views(self._tx, 37)   # .cut(n) = slice(37, 37 + n) (send_now)
        self._flushing = None
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
                      "tx_dropped": 0, "pings_answered": 0, "keepalives": 0, "probes": 0,
                      "dead": 0}
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

    def set_key(self, node_priv, node_pub=None):
        """A new node key (rotation): the connection is redialled and logs in with it."""
        self.node_priv = bytes(node_priv)
        self.node_pub = bytes(node_pub) if node_pub else crypto.x25519_base(self.node_priv)
        self._restart_ms = 0
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
            try:
                if derp.HEADER_LEN + derp.KEY_LEN + len(pkt) <= len(self._tx):
                    n = derp.send_packet_into(self._tx, dst, pkt, self._pkt_at.cut(len(pkt)))
                    w.write(self._txmv[:n])
                else:
                    w.write(derp.send_packet(dst, pkt))
                await w.drain()
            except OSError:  # the connection broke under us: the session loop redials
                self.stats["tx_dropped"] += 1
                return False
        self._tx_at = ticks_ms()
        self.stats["tx_packets"] += 1
        return True

    def send_now(self, dst, pkt):
        """SendPacket without waiting, for the warm data path (MicroPython): the frame is
        built in the preallocated tx buffer and written straight to the non-blocking
        socket; nothing is allocated unless the socket takes only part of it (the rest
        is then kept in the stream's out_buf and drained by a task).
        True: written, or dropped because not connected (counted). False: not now (a
        send() is in progress, bytes are pending, the packet is larger than the buffer,
        or CPython) - queue it and use send()."""
        w = self._w
        if w is None or self.state != CONNECTED:
            self.stats["tx_dropped"] += 1
            return True
        n = len(pkt)
        tot = n + 37  # HEADER_LEN + KEY_LEN
        if _core is None or self._lock.locked() or w.out_buf or tot > len(self._tx):
            return False
        derp.send_packet_into(self._tx, dst, pkt, self._pkt_at.cut(n))
        try:
            r = w.s.write(self._tx, tot)
        except OSError:
            self.stats["tx_dropped"] += 1  # broken: the receive side tears it down
            return True
        if r is None or r < tot:  # would block: TLS wants these exact bytes again later
            w.out_buf = bytes(self._txmv[r or 0:tot])
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.create_task(self._drain(w))
        self._tx_at = ticks_ms()
        self.stats["tx_packets"] += 1
        return True

    async def _drain(self, w):
        async with self._lock:
            try:
                await w.drain()
            except Exception:
                pass

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
        self._lock = asyncio.Lock()  # a writer stuck on the previous socket keeps the old one
        self.parser.reset()
        ssl = tls_context(self.insecure, self.cadata) if self.tls else None
        self._raw = None
        cto = self.connect_timeout_ms / 1000
        if ssl is not None and _core is not None:
            r, self._raw = await asyncio.wait_for(
                _open_tls(self.host, self.port, ssl, self.server_name), cto)
            w = r
        elif ssl is not None:  # CPython: connect + TLS handshake
            r, w = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, ssl=ssl, server_hostname=self.server_name), cto * 2)
        else:
            r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), cto)
            if _core is not None:   # MicroPython Stream (CPython's asyncio sets it itself)
                _nodelay(r.s)
        self._w = w
        self._r = r
        hostport = self.server_name
        if self.port not in (80, 443):
            hostport = "%s:%d" % (hostport, self.port)
        w.write(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
                 "User-Agent: tailnet\r\n\r\n" % (self.path, hostport)).encode())
        await w.drain()
        await asyncio.wait_for(self._read_upgrade(r), 10)
        if self.pin:
            from tailnet.control import check_pin
            check_pin(w, self.pin, "DERP")
        await asyncio.wait_for(self._login(r, w), 10)
        self._attempt = 0
        self._tx_at = self._ping_at = None
        self.stats["connects"] += 1
        self._set_state(CONNECTED)
        if self.preferred:
            await self._write(w, derp.note_preferred(True))
        rx = asyncio.create_task(self._rx_loop(r, w))
        err = None
        try:
            while not rx.done() and not self._kick:
                await asyncio.sleep(0.25)
                await self._liveness()
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

    async def _liveness(self):
        now = ticks_ms()
        idle = ticks_diff(now, self._last_rx)
        if idle > self.read_timeout_ms:
            raise OSError("derp: read timeout")
        pa = self._ping_at
        if pa is not None:
            if ticks_diff(self._last_rx, pa) >= 0:
                self._ping_at = None  # something arrived after the ping: alive
            elif ticks_diff(now, pa) > self.ping_timeout_ms:
                self.stats["dead"] += 1
                raise OSError("derp: no reply to ping in %d ms" % self.ping_timeout_ms)
            return
        tx = self._tx_at
        busy = tx is not None and ticks_diff(tx, self._last_rx) > 0 and idle > self.probe_ms
        if busy or idle > self.ping_after_ms:
            if busy:
                self.stats["probes"] += 1
            self._ping_at = now
            if not self._lock.locked():  # a stuck writer must not stall this check
                await self.ping_server()

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
        if _core is None:  # CPython
            while True:
                t = await self._next_frame(r)
                out = self._handle(t)
                if out is not None:
                    await self._write(w, out)
        s = r.s
        io = self._raw if self._raw is not None else s
        while True:
            out = self.rx_now(s, 32)
            if out is None:
                # nothing buffered anywhere (TLS included): wait for the raw socket. This
                # generator and asyncio's poll registration allocate, once per wake-up.
                await _wait_io(io)
            elif out is True:
                await asyncio.sleep(0)  # a flood must not starve the other tasks
            else:
                await self._write(w, out)

    def rx_now(self, s, budget=0):
        """MicroPython: read what the non-blocking socket (or TLS object) s has now, frame
        by frame (need(): each frame lands at the buffer start), and handle every frame.
        Returns None when s would block, True after `budget` frames (0: no limit) with
        possibly more to read, or a frame to write back (Pong). Raises OSError on EOF or a
        broken stream. Warm RecvPacket frames allocate nothing here."""
        p = self.parser
        while True:
            t = p.next()
            if t is not None:
                if t == derp.ERROR:
                    raise OSError("derp: bad frame stream")
                self._last_rx = ticks_ms()
                out = self._handle(t)
                if out is not None:
                    return out
                if budget:
                    budget -= 1
                    if not budget:
                        return True
                continue
            n = s.readinto(p.space(), p.need())
            if n is None:
                return None
            if not n:
                raise OSError("derp: EOF")
            p.advance(n)

    def _handle(self, t):
        """Process one frame; returns a frame to send back (Pong) or None."""
        if t == derp.RECV_PACKET:
            pr = self.parser
            if not pr.recv_packet():
                pr.fail()
                return None
            self.stats["rx_packets"] += 1
            if self.on_packet:
                self.on_packet(pr.src, pr.pkt)
            return None
        p = self.parser.payload()
        if t == derp.KEEP_ALIVE:
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
        self._tx_at = self._ping_at = None
        self._set_state(DISCONNECTED)
        await _close(w)
        self.parser.reset()
