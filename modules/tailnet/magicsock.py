# tailnet: per-peer path selection (direct UDP vs DERP), sans-I/O with a driven clock.
# MIT license
#
# In the spirit of tailscale wgengine/magicsock/endpoint.go:
#  - a direct UDP address is used only after a disco Pong proves it, and is trusted for
#    TRUST_UDP ms after each such pong;
#  - while data flows (session active) the best address gets a heartbeat ping every
#    HEARTBEAT ms; when trust lapses, data goes to DERP (and to the last UDP address);
#  - all candidate endpoints are re-probed ("full ping") when there is no trusted path and
#    every UPGRADE_INTERVAL ms, each endpoint at most once per PING_INTERVAL;
#  - pings unanswered after PING_TIMEOUT are forgotten.
# Time is an int in ms from the caller (time.ticks_ms on a board); nothing here sleeps.
# Addresses are (ip16 bytes, port) tuples.

try:
    from micropython import const
    from time import ticks_add as _tadd, ticks_diff as _tdiff, ticks_ms as _ticks_ms
except ImportError:  # CPython
    import time as _time

    def const(x):
        return x

    def _tdiff(a, b):
        return a - b

    def _tadd(a, b):
        return a + b

    def _ticks_ms():
        return int(_time.monotonic() * 1000)


HEARTBEAT = const(3000)
TRUST_UDP = const(6500)
SESSION_ACTIVE = const(45000)
UPGRADE_INTERVAL = const(60000)
PING_TIMEOUT = const(5000)
PING_INTERVAL = const(5000)
MAX_ENDPOINTS = const(8)
MAX_PENDING = const(16)
CHECK_EVERY = const(1000)  # the send path looks for due pings at most this often

_NEVER = None


def _after(now, t, span):
    """True when t is unset or at least `span` ms have passed since t."""
    return t is None or _tdiff(now, t) >= span


class PeerPath:
    """Path state for one peer. The caller sends disco pings returned by pings_due(),
    feeds pongs to on_pong(), and asks route() where each WireGuard datagram goes."""

    def __init__(self, node_key=None):
        self.node_key = node_key
        self.best = None  # proven direct address
        self.best_latency = None  # ms
        self.trust_until = None  # ms timestamp
        self.eps = {}  # addr -> [last_ping_sent, last_pong, latency]
        self.pending = {}  # txid -> (addr, sent_at)
        self.last_send = None
        self.last_full_ping = None
        self.derp_latency = None
        self.check_at = 0  # next time the send path runs pings_due()
        self.cmm_at = None  # when we last sent this peer a CallMeMaybe
        self.stats = {"pings": 0, "pongs": 0, "timeouts": 0, "stray_pongs": 0, "switches": 0}

    # ---- endpoints -----------------------------------------------------------------

    def set_endpoints(self, addrs):
        """Replace the candidate set (from the netmap); keeps state of known ones."""
        new = {}
        for a in addrs:
            if len(new) >= MAX_ENDPOINTS:
                break
            new[a] = self.eps.get(a) or [_NEVER, _NEVER, None]
        if self.best is not None and self.best not in new and len(new) < MAX_ENDPOINTS:
            new[self.best] = self.eps.get(self.best) or [_NEVER, _NEVER, None]
        self.eps = new

    def add_candidate(self, addr):
        """An address learned from CallMeMaybe or from a peer's ping. True if new."""
        if addr in self.eps:
            return False
        if len(self.eps) >= MAX_ENDPOINTS:
            # evict a never-answering endpoint that is not the best one
            for a, st in self.eps.items():
                if a != self.best and st[1] is None:
                    del self.eps[a]
                    break
            else:
                return False
        self.eps[addr] = [_NEVER, _NEVER, None]
        return True

    def call_me_maybe(self, addrs, now):
        """Peer asked for a direct path: add its endpoints and ping them all now."""
        for a in addrs:
            self.add_candidate(a)
        self.last_full_ping = None
        for st in self.eps.values():
            st[0] = _NEVER
        return self.pings_due(now)

    # ---- decisions -----------------------------------------------------------------

    def trusted(self, now):
        return self.best is not None and self.trust_until is not None and _tdiff(self.trust_until, now) > 0

    def route(self, now):
        """Where to send one data packet: (udp addr or None, via_derp). Marks activity."""
        self.last_send = now
        if self.trusted(now):
            return self.best, False
        return self.best, True  # like tailscaled: last UDP address and DERP both

    def _want_full_ping(self, now):
        # only while data flows (or on first sight / CallMeMaybe), like tailscaled
        if not self.eps or (self.last_full_ping is not None and not self.active(now)):
            return False
        if self.last_full_ping is None or not self.trusted(now):
            return _after(now, self.last_full_ping, PING_INTERVAL)
        return _after(now, self.last_full_ping, UPGRADE_INTERVAL)

    def active(self, now):
        return self.last_send is not None and _tdiff(now, self.last_send) < SESSION_ACTIVE

    def pings_due(self, now, txid_fn=None):
        """List of (txid, addr) pings to send now (addr None = ping over DERP is not
        produced here; the caller may ping via DERP itself). txid_fn() -> 12 bytes."""
        return self._due(now, txid_fn) or []

    def _due(self, now, txid_fn=None):
        # pings_due() without allocating when nothing is due (returns the empty tuple)
        self.expire(now)
        out = _NONE  # a list only when something is due (no allocation otherwise)
        if self._want_full_ping(now):
            self.last_full_ping = now
            for a in self.eps:
                st = self.eps[a]
                if _after(now, st[0], PING_INTERVAL):
                    out = self._ping(a, st, now, out, txid_fn)
        elif self.best is not None and self.active(now):
            st = self.eps.get(self.best)
            if st is not None and _after(now, st[0], HEARTBEAT):
                out = self._ping(self.best, st, now, out, txid_fn)
        return out

    def _ping(self, addr, st, now, out, txid_fn):
        if len(self.pending) >= MAX_PENDING:
            return out
        txid = txid_fn() if txid_fn else _txid()
        st[0] = now
        self.pending[txid] = (addr, now)
        self.stats["pings"] += 1
        if out is _NONE:
            out = []
        out.append((txid, addr))
        return out

    def expire(self, now):
        if self.pending:
            for txid in [t for t, v in self.pending.items() if _tdiff(now, v[1]) >= PING_TIMEOUT]:
                del self.pending[txid]
                self.stats["timeouts"] += 1
        if self.best is not None and not self.trusted(now):
            st = self.eps.get(self.best)
            # the best path lost trust and its last pong is old: forget it (back to DERP)
            if st is None or _after(now, st[1], TRUST_UDP + PING_TIMEOUT):
                self.best = None
                self.best_latency = None

    def on_pong(self, txid, now, src=None):
        """A Pong for one of our pings arrived (src: where it came from; None = DERP).
        Returns True if it was ours."""
        p = self.pending.pop(bytes(txid), None)
        if p is None:
            self.stats["stray_pongs"] += 1
            return False
        addr, sent = p
        if src is not None and src != addr:
            self.stats["stray_pongs"] += 1
            return False
        self.stats["pongs"] += 1
        lat = _tdiff(now, sent)
        st = self.eps.get(addr)
        if st is not None:
            st[1] = now
            st[2] = lat
        if self.best is None or self.best == addr or not self.trusted(now) or lat * 10 < self.best_latency * 9:
            if self.best != addr:
                self.stats["switches"] += 1
            self.best = addr
            self.best_latency = lat
        if self.best == addr:
            self.trust_until = _tadd(now, TRUST_UDP)
        return True

    def on_derp_pong(self, sent, now):
        self.derp_latency = _tdiff(now, sent)

    def on_ping_from(self, addr, now):
        """The peer pinged us from `addr` over UDP: a candidate worth probing back."""
        self.add_candidate(addr)


_NONE = ()  # shared empty result of pings_due()


def _txid():
    from tailnet import crypto

    return crypto.random(12)


class Paths:
    """Bounded table of PeerPath by node key."""

    def __init__(self, max_peers=32):
        self.max_peers = max_peers
        self.peers = {}

    def get(self, node_key, create=True):
        node_key = bytes(node_key)
        p = self.peers.get(node_key)
        if p is None and create and len(self.peers) < self.max_peers:
            p = self.peers[node_key] = PeerPath(node_key)
        return p

    def remove(self, node_key):
        self.peers.pop(bytes(node_key), None)

    def pings_due(self, now, txid_fn=None):
        out = []
        for k, p in self.peers.items():
            for txid, addr in p._due(now, txid_fn):
                out.append((k, txid, addr))
        return out


# ---- datagram glue (still sans-I/O: outputs go to an outbox) -------------------------

def _looks_wg(b):
    """disco.classify(b) == KIND_WG, decided without slicing (no allocation): a WireGuard
    message type 1..4 and three zero bytes can be neither STUN (b[1] == 1), Geneve
    (b[2] == 0x7A) nor disco (b[0] == 'T')."""
    return len(b) >= 4 and 1 <= b[0] <= 4 and b[1] == 0 and b[2] == 0 and b[3] == 0


VIA_DERP = const(0)
VIA_UDP = const(1)
MAX_OUTBOX = const(32)


class Conn:
    """Demultiplexes datagrams arriving over DERP or UDP, answers disco Pings, feeds
    Pongs and CallMeMaybe to the per-peer paths, and routes outgoing WireGuard packets.
    Everything to send is appended to `outbox` as (VIA_DERP, node_key, payload) or
    (VIA_UDP, (ip16, port), payload); a task drains it (see pump()). WireGuard
    datagrams received go to on_wg(node_key_or_None, addr_or_None, view)."""

    def __init__(self, node_pub, disco_priv, derp_region=0, disco_pub=None, clock=None):
        from tailnet import disco as _disco

        self._d = _disco
        self.node_pub = bytes(node_pub)
        self.disco = _disco.Disco(disco_priv, disco_pub)
        self.region = derp_region
        self.paths = Paths()
        self.by_disco = {}  # peer disco pub -> node key
        self.disco_of = {}  # node key -> disco pub
        self.outbox = []
        self._derp_pings = {}  # txid -> (node key, sent at)
        self.notify = None  # called when the outbox gains an item (pump() sets it)
        # immediate senders (pump() sets them): tx_udp(addr, payload) sends or drops;
        # tx_derp(node, payload) -> False when it cannot send now (then: outbox)
        self.tx_udp = None
        self.tx_derp = None
        self.on_wg = None
        self.my_eps = ()  # our endpoints [(ip, port)] (magicsock_run sets them): CallMeMaybe replies
        self.clock = clock
        self.stats = {"derp_in": 0, "udp_in": 0, "disco_in": 0, "wg_in": 0, "dropped": 0,
                      "pongs_sent": 0, "pings_sent": 0, "outbox_full": 0, "cmm_sent": 0}

    def now(self):
        if self.clock is not None:
            return self.clock()
        return _ticks_ms()

    def set_peers(self, peers):
        """peers: iterable of (node_key, disco_key or None, endpoints [(ip 4|16 bytes, port)]),
        e.g. netmap.NetMap.peer_paths()."""
        keep = {}
        self.by_disco = {}
        self.disco_of = {}
        for nk, dk, eps in peers:
            nk = bytes(nk)
            p = self.paths.peers.get(nk) or PeerPath(nk)
            ip16 = self._d.ip16
            p.set_endpoints([(ip16(a), port) for a, port in (eps or ())])
            keep[nk] = p
            if dk:
                self.by_disco[bytes(dk)] = nk
                self.disco_of[nk] = bytes(dk)
        self.paths.peers = keep
        self.disco.set_peers(self.by_disco.keys())

    def _out(self, via, dst, payload):
        """Send now when possible (warm path: no allocation, payload may be a transient
        view); else queue a copy for pump()."""
        if not self.outbox:
            if via == VIA_UDP:
                f = self.tx_udp
                if f is not None:
                    f(dst, payload)
                    return
            else:
                f = self.tx_derp
                if f is not None and f(dst, payload):
                    return
        if len(self.outbox) >= MAX_OUTBOX:
            self.stats["outbox_full"] += 1
            return
        self.outbox.append((via, dst, bytes(payload)))
        if self.notify is not None:
            self.notify()

    # ---- input -------------------------------------------------------------------

    def derp_recv(self, src_node, pkt):
        """src_node, pkt: views valid only during the call (DerpClient's buffer). A
        WireGuard datagram is handed on as is (no copy, no allocation): on_wg gets the
        key view and must copy what it keeps."""
        self.stats["derp_in"] += 1
        k = self._d.KIND_WG if _looks_wg(pkt) else self._d.classify(pkt)
        if k == self._d.KIND_DISCO:
            self._disco_in(bytes(pkt), None, bytes(src_node))
        elif k == self._d.KIND_WG:
            self.stats["wg_in"] += 1
            if self.on_wg:
                self.on_wg(src_node, None, pkt)
        else:
            self.stats["dropped"] += 1

    def udp_recv(self, addr, pkt):
        """addr: (ip16, port). STUN responses are the caller's business (KIND_STUN)."""
        self.stats["udp_in"] += 1
        k = self._d.KIND_WG if _looks_wg(pkt) else self._d.classify(pkt)
        if k == self._d.KIND_DISCO:
            self._disco_in(bytes(pkt), addr, None)
        elif k == self._d.KIND_WG:
            self.stats["wg_in"] += 1
            if self.on_wg:
                self.on_wg(None, addr, pkt)
        elif k != self._d.KIND_STUN:  # STUN is for the caller
            self.stats["dropped"] += 1
        return k

    def _disco_in(self, pkt, addr, derp_src):
        r = self.disco.open(pkt)
        if r is None:
            self.stats["dropped"] += 1
            return
        self.stats["disco_in"] += 1
        sender, msg = r
        node = self.by_disco.get(sender)
        if node is None or (derp_src is not None and derp_src != node):
            self.stats["dropped"] += 1  # disco key does not belong to that DERP sender
            return
        now = self.now()
        t = msg[0]
        if t == self._d.PING:
            if addr is None:
                src_ip, src_port = self._d.DERP_MAGIC_IP, self.region
            else:
                src_ip, src_port = addr
                p = self.paths.get(node)
                if p is not None:
                    p.on_ping_from(addr, now)
            pong = self.disco.seal(sender, self._d.pong(msg[1], src_ip, src_port))
            if addr is None:
                self._out(VIA_DERP, node, pong)
                self._punch_back(node, now)
            else:
                self._out(VIA_UDP, addr, pong)
            self.stats["pongs_sent"] += 1
        elif t == self._d.PONG:
            p = self.paths.get(node, False)
            if p is None:
                return
            if addr is None:  # over DERP: only our DERP pings are answered that way
                sent = self._derp_pings.pop(msg[1], None)
                if sent is not None and sent[0] == node:
                    p.on_derp_pong(sent[1], now)
            else:
                p.on_pong(msg[1], now, addr)
        elif t == self._d.CALL_ME_MAYBE and addr is None:  # only valid over DERP
            p = self.paths.get(node)
            if p is not None:
                for txid, a in p.call_me_maybe(msg[1], now):
                    self._send_ping(node, txid, a)
                self._answer_call_me_maybe(node, p, now)

    def _punch_back(self, node, now):
        # A disco ping over DERP while we have no direct path: the peer is probing (e.g.
        # `tailscale ping`, whose UDP pings our NAT has just dropped, and whose own
        # CallMeMaybe may come seconds later). Ping its endpoints now (opening our NAT)
        # and send our CallMeMaybe; rate-limited like _answer_call_me_maybe.
        p = self.paths.get(node, False)
        if p is None or not self.my_eps or p.trusted(now) or not _after(now, p.cmm_at, PING_INTERVAL):
            return
        for txid, a in p.call_me_maybe((), now):
            self._send_ping(node, txid, a)
        self._answer_call_me_maybe(node, p, now)

    def _answer_call_me_maybe(self, node, p, now):
        # The peer's pings (sent with its CallMeMaybe) reached our NAT before our pings
        # above opened it, so they were dropped, and tailscaled re-pings an endpoint only
        # every 5 s -- unless it gets a CallMeMaybe, which resets that. Ours goes over DERP,
        # after our UDP pings: its pings then find the NAT open (tools/bench/nat_shapes.py,
        # both behind NAT, idle: `tailscale ping` direct after 3 s instead of 5 s). At most
        # once per PING_INTERVAL per peer, so two nodes cannot loop.
        if not self.my_eps or not _after(now, p.cmm_at, PING_INTERVAL):
            return
        dk = self.disco_of.get(node)
        if dk is not None:
            p.cmm_at = now
            self._out(VIA_DERP, node, self.disco.seal(dk, self._d.call_me_maybe(self.my_eps)))
            self.stats["cmm_sent"] += 1

    def probe(self, node):
        """Ping a peer now: every endpoint over UDP and once over DERP (the DERP
        round trip lands in PeerPath.derp_latency)."""
        node = bytes(node)
        p = self.paths.get(node, False)
        dk = self.disco_of.get(node)
        if p is None or dk is None:
            return False
        now = self.now()
        for txid, a in p.call_me_maybe((), now):
            self._send_ping(node, txid, a)
        txid = _txid()
        if len(self._derp_pings) >= MAX_PENDING:
            self._derp_pings.clear()
        self._derp_pings[txid] = (node, now)
        self._out(VIA_DERP, node, self.disco.seal(dk, self._d.ping(txid, self.node_pub)))
        self.stats["pings_sent"] += 1
        return True

    def send_call_me_maybe(self, node, endpoints):
        """Ask a peer (over DERP, the only place it is accepted) to ping our endpoints
        [(ip, port)]; we ping its known endpoints at the same time (hole punching)."""
        node = bytes(node)
        dk = self.disco_of.get(node)
        if dk is None:
            return False
        self._out(VIA_DERP, node, self.disco.seal(dk, self._d.call_me_maybe(endpoints)))
        p = self.paths.get(node, False)
        if p is not None:
            p.cmm_at = self.now()
            for txid, a in p.call_me_maybe((), self.now()):
                self._send_ping(node, txid, a)
        return True

    def _send_ping(self, node, txid, addr):
        dk = self.disco_of.get(node)
        if dk is None:
            return
        pkt = self.disco.seal(dk, self._d.ping(txid, self.node_pub))
        self._out(VIA_UDP, addr, pkt)
        self.stats["pings_sent"] += 1

    # ---- output --------------------------------------------------------------------

    def send_wg(self, node, pkt):
        """Route one WireGuard datagram to peer `node` (bytes; best path, else DERP).
        Warm and with immediate senders set, nothing here allocates: the route is read
        in place (PeerPath.route() semantics) and due pings are looked for when the
        session wakes up and then at most every CHECK_EVERY ms."""
        if not isinstance(node, bytes):
            node = bytes(node)
        p = self.paths.peers.get(node)
        if p is None:
            p = self.paths.get(node)
            if p is None:
                self._out(VIA_DERP, bytes(node), pkt)
                return
        now = self.now()
        check = not p.active(now) or _tdiff(now, p.check_at) >= 0
        p.last_send = now
        udp = p.best
        if udp is not None:
            self._out(VIA_UDP, udp, pkt)
        if not p.trusted(now):  # like tailscaled: last UDP address and DERP both
            self._out(VIA_DERP, node, pkt)
        if check:
            p.check_at = _tadd(now, CHECK_EVERY)
            for txid, a in p._due(now):
                self._send_ping(node, txid, a)

    def tick(self):
        """Call about once a second: heartbeats and re-probes."""
        for node, txid, a in self.paths.pings_due(self.now()):
            self._send_ping(node, txid, a)


async def pump(conn, derp_client=None, udp_send=None):
    """Drain conn.outbox forever: DERP items through derp_client.send, UDP items through
    udp_send(addr, payload)."""
    import asyncio

    ev = asyncio.Event()
    conn.notify = ev.set
    conn.tx_udp = udp_send
    if derp_client is not None and hasattr(derp_client, "send_now"):
        conn.tx_derp = derp_client.send_now
    while True:
        ev.clear()
        while conn.outbox:
            via, dst, payload = conn.outbox.pop(0)
            try:
                if via == VIA_DERP and derp_client is not None:
                    await derp_client.send(dst, payload)
                elif via == VIA_UDP and udp_send is not None:
                    udp_send(dst, payload)
            except Exception:
                conn.stats["dropped"] += 1
        if not conn.outbox:
            await ev.wait()
