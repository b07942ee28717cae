# tailnet: DERP frame codec (sans-I/O).
# MIT license
#
# Frames (tailscale derp/derp.go): type(1) | length BE32 (payload only) | payload.
# FrameParser keeps one fixed buffer; frames of unknown type are skipped by length even
# when larger than the buffer; a known frame larger than its limit is a protocol error
# (the connection must be dropped). Nothing here raises on hostile input.

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


import json

from tailnet import crypto

SERVER_KEY = const(0x01)
CLIENT_INFO = const(0x02)
SERVER_INFO = const(0x03)
SEND_PACKET = const(0x04)
RECV_PACKET = const(0x05)
KEEP_ALIVE = const(0x06)
NOTE_PREFERRED = const(0x07)
PEER_GONE = const(0x08)
PEER_PRESENT = const(0x09)
PING = const(0x12)
PONG = const(0x13)
HEALTH = const(0x14)
RESTARTING = const(0x15)

ERROR = const(-1)  # FrameParser.next() result: stream is broken, reconnect

MAGIC = b"DERP\xf0\x9f\x94\x91"
PROTOCOL_VERSION = const(2)
HEADER_LEN = const(5)
KEY_LEN = const(32)
NONCE_LEN = const(24)
MAX_PACKET = const(65536)
MAX_FRAME = const(1 << 20)  # Go client: frames > 1 MiB are an error
MAX_INFO = const(16384)  # our own bound for ServerInfo JSON boxes (Go: 1 MiB)
DEFAULT_BUF = const(MAX_PACKET + KEY_LEN + HEADER_LEN)

PEER_GONE_DISCONNECTED = const(0)
PEER_GONE_NOT_HERE = const(1)

_KNOWN = (SERVER_KEY, SERVER_INFO, RECV_PACKET, KEEP_ALIVE, PEER_GONE, PEER_PRESENT,
          PING, PONG, HEALTH, RESTARTING)


def _limit(t):
    # largest payload accepted for a known server->client frame type
    if t == RECV_PACKET:
        return KEY_LEN + MAX_PACKET
    if t == SERVER_INFO:
        return MAX_INFO
    if t == HEALTH:
        return 4096
    if t == KEEP_ALIVE:
        return 0
    return 256


class FrameParser:
    """Incremental frame reader over one preallocated buffer.

    I/O loop:  mv = p.space(); n = sock.readinto(mv); p.advance(n)
               while True: t = p.next(); if t is None: break ... use p.payload()
    Allocation-free once warm (DerpClient.rx_now): readinto(p.space(), p.need()) -- one
    frame at a time, always at the buffer start -- and recv_packet() for RecvPacket.
    The payload view is valid until the next space()/next() call."""

    def __init__(self, size=DEFAULT_BUF):
        if size < 64:
            raise ValueError("buffer too small")
        self.buf = bytearray(size)
        self._mv = memoryview(self.buf)
        # views made once: the free space after a frame header, the source key of a
        # RecvPacket frame at the buffer start, its packet by length (Views: bounded cache)
        self._mv5 = self._mv[HEADER_LEN:]
        self._key = self._mv[HEADER_LEN:HEADER_LEN + KEY_LEN]
        self._pv = Views(self.buf, HEADER_LEN + KEY_LEN)
        self.src = None  # recv_packet(): views valid until the next space()/next()
        self.pkt = None
        self.stats = {"frames": 0, "skipped": 0, "oversize": 0, "too_big": 0, "malformed": 0}
        self.reset()

    def reset(self):
        self._rd = 0  # start of unconsumed bytes
        self._wr = 0  # end of valid bytes
        self._skip = 0  # bytes of an unknown frame still to discard
        self._plo = 0
        self._phi = 0
        self.broken = False

    def space(self):
        """Writable view for the next read (compacting when the tail runs short)."""
        rd = self._rd
        if rd:
            if rd == self._wr:
                self._rd = self._wr = 0
            elif len(self.buf) - self._wr < (len(self.buf) >> 2):
                self._compact()
        wr = self._wr
        if wr == 0:  # no allocation on the frame-at-a-time read path (need())
            return self._mv
        if wr == HEADER_LEN:
            return self._mv5
        return self._mv[wr:]

    def need(self):
        """Bytes still missing for the current frame (header, then payload; or the rest of
        a skipped frame) when next() returned None. Reading at most this many keeps each
        frame at the buffer start: space() and recv_packet() then allocate nothing."""
        if self._skip:
            return self._skip
        avail = self._wr - self._rd
        if avail < HEADER_LEN:
            return HEADER_LEN - avail
        b = self.buf
        r = self._rd
        ln = (b[r + 1] << 24) | (b[r + 2] << 16) | (b[r + 3] << 8) | b[r + 4]
        n = HEADER_LEN + ln - avail
        return n if n > 0 else len(b)

    def _compact(self):
        rd, wr = self._rd, self._wr
        n = wr - rd
        buf = self.buf
        # forward copy in non-overlapping chunks (slice assignment may be a memcpy)
        i = 0
        while i < n:
            c = min(rd, n - i)
            buf[i : i + c] = self._mv[rd + i : rd + i + c]
            i += c
        self._rd = 0
        self._wr = n

    def advance(self, n):
        self._wr += n

    def feed(self, data):
        """Copy bytes in; returns how many were taken (less than len(data) when full)."""
        mv = self.space()
        n = min(len(mv), len(data))
        mv[:n] = data[:n]
        self._wr += n
        return n

    def next(self):
        """Next complete frame type, None if more bytes are needed, or ERROR."""
        if self.broken:
            return ERROR
        while True:
            if self._skip:
                n = min(self._skip, self._wr - self._rd)
                self._rd += n
                self._skip -= n
                if self._skip:
                    return None
            avail = self._wr - self._rd
            if avail < HEADER_LEN:
                return None
            b = self.buf
            r = self._rd
            t = b[r]
            ln = (b[r + 1] << 24) | (b[r + 2] << 16) | (b[r + 3] << 8) | b[r + 4]
            if ln > MAX_FRAME:
                self.stats["oversize"] += 1
                self.broken = True
                return ERROR
            if t not in _KNOWN:
                self.stats["skipped"] += 1
                self._rd += HEADER_LEN
                self._skip = ln
                continue
            if ln > _limit(t):
                self.stats["oversize"] += 1
                self.broken = True
                return ERROR
            if HEADER_LEN + ln > len(b):
                # legal but larger than this device's buffer: drop it, keep the stream
                self.stats["too_big"] += 1
                self._rd += HEADER_LEN
                self._skip = ln
                continue
            if avail < HEADER_LEN + ln:
                return None
            self._plo = r + HEADER_LEN
            self._phi = self._plo + ln
            self._rd = self._phi
            self.stats["frames"] += 1
            return t

    def payload(self):
        return self._mv[self._plo : self._phi]

    def recv_packet(self):
        """The current RecvPacket frame -> True with self.src (key view) and self.pkt
        (packet view) set, False if malformed (shorter than a key). No allocation when
        the frame is at the buffer start (read with need()) and its length was seen."""
        lo, hi = self._plo, self._phi
        if hi - lo < KEY_LEN:
            return False
        if lo != HEADER_LEN:
            self.src = self._mv[lo : lo + KEY_LEN]
            self.pkt = self._mv[lo + KEY_LEN : hi]
            return True
        self.src = self._key
        self.pkt = self._pv.view(hi - lo - KEY_LEN)
        return True

    def fail(self):
        """Mark a frame whose contents were invalid; the stream is then broken."""
        self.stats["malformed"] += 1
        self.broken = True


# ---- frame builders ----------------------------------------------------------


def header(out, t, ln, off=0):
    out[off] = t
    out[off + 1] = (ln >> 24) & 0xFF
    out[off + 2] = (ln >> 16) & 0xFF
    out[off + 3] = (ln >> 8) & 0xFF
    out[off + 4] = ln & 0xFF


def frame(t, payload=b""):
    out = bytearray(HEADER_LEN + len(payload))
    header(out, t, len(payload))
    out[HEADER_LEN:] = payload
    return out


class _Cut:  # MicroPython has no slice() constructor: _CUT[i:j] is slice(i, j)
    def __getitem__(self, k):
        return k


CUT = _Cut()
_KEY_SLICE = CUT[HEADER_LEN:HEADER_LEN + KEY_LEN]


class Views:
    """Exact-length memoryviews of buf[off:off + n] and slice objects slice(off, off + n),
    made once per length n and kept (at most cap of each): the warm packet paths get
    exact-size objects without a heap allocation per packet (MicroPython allocates a
    memoryview for mv[i:j] and a slice object for b[i:j] = x)."""

    def __init__(self, buf, off=0, cap=48):
        self.mv = memoryview(buf)
        self.off = off
        self.cap = cap
        self.v = {}
        self.s = {}

    def view(self, n):
        v = self.v.get(n)
        if v is None:
            v = self.mv[self.off:self.off + n]
            if len(self.v) < self.cap:
                self.v[n] = v
        return v

    def cut(self, n):
        sl = self.s.get(n)
        if sl is None:
            sl = CUT[self.off:self.off + n]
            if len(self.s) < self.cap:
                self.s[n] = sl
        return sl


def send_packet_into(out, dst, pkt, psl=None):
    """SendPacket frame written into `out`; returns its length. psl: a ready
    slice(37, 37 + len(pkt)) -> no allocation at all (MicroPython builds a heap slice
    object for every `a[i:j] = b` otherwise)."""
    n = len(pkt)
    if len(dst) != KEY_LEN or n > MAX_PACKET:
        raise ValueError("bad key or packet too large")
    total = HEADER_LEN + KEY_LEN + n
    if len(out) < total:
        raise ValueError("out too small")
    header(out, SEND_PACKET, KEY_LEN + n)
    out[_KEY_SLICE] = dst
    out[psl if psl is not None else CUT[HEADER_LEN + KEY_LEN:total]] = pkt
    return total


def send_packet(dst, pkt):
    out = bytearray(HEADER_LEN + KEY_LEN + len(pkt))
    send_packet_into(out, dst, pkt)
    return out


def note_preferred(preferred):
    return frame(NOTE_PREFERRED, b"\x01" if preferred else b"\x00")


def ping(data8):
    if len(data8) != 8:
        raise ValueError("ping data must be 8 bytes")
    return frame(PING, data8)


def pong(data8):
    if len(data8) != 8:
        raise ValueError("pong data must be 8 bytes")
    return frame(PONG, data8)


def client_info(node_priv, node_pub, server_pub, info=None, nonce=None):
    """ClientInfo frame: node pub | nonce | box(JSON) with key = box_beforenm(server, node)."""
    if info is None:
        info = {"version": PROTOCOL_VERSION, "CanAckPings": True}
    msg = json.dumps(info).encode()
    if nonce is None:
        nonce = crypto.random(NONCE_LEN)
    key = crypto.box_beforenm(server_pub, node_priv)
    return frame(CLIENT_INFO, bytes(node_pub) + bytes(nonce) + crypto.secretbox_seal(key, nonce, msg))


# ---- payload decoders (return None on malformed input) -------------------------


def parse_server_key(p):
    """ServerKey payload -> server public key bytes, or None if the magic is wrong."""
    if len(p) < len(MAGIC) + KEY_LEN or bytes(p[: len(MAGIC)]) != MAGIC:
        return None
    return bytes(p[len(MAGIC) : len(MAGIC) + KEY_LEN])


def open_server_info(p, node_priv, server_pub, shared=None):
    """ServerInfo payload -> dict, or None if the box or JSON is bad."""
    if len(p) < NONCE_LEN + 16:
        return None
    try:
        key = shared if shared is not None else crypto.box_beforenm(server_pub, node_priv)
        msg = crypto.secretbox_open(key, bytes(p[:NONCE_LEN]), bytes(p[NONCE_LEN:]))
        if msg is None:
            return None
        d = json.loads(msg)
    except Exception:
        return None
    return d if isinstance(d, dict) else None


def parse_recv_packet(p):
    """RecvPacket payload -> (src key view, packet view) or None."""
    if len(p) < KEY_LEN:
        return None
    return p[:KEY_LEN], p[KEY_LEN:]


def parse_peer_gone(p):
    """-> (key bytes, reason) or None."""
    if len(p) < KEY_LEN:
        return None
    return bytes(p[:KEY_LEN]), (p[KEY_LEN] if len(p) > KEY_LEN else PEER_GONE_DISCONNECTED)


def parse_peer_present(p):
    """-> (key, ip16 or None, port, flags) or None."""
    if len(p) < KEY_LEN:
        return None
    ip, port, flags = None, 0, 0
    if len(p) >= KEY_LEN + 18:
        ip = bytes(p[KEY_LEN : KEY_LEN + 16])
        port = (p[KEY_LEN + 16] << 8) | p[KEY_LEN + 17]
        if len(p) > KEY_LEN + 18:
            flags = p[KEY_LEN + 18]
    return bytes(p[:KEY_LEN]), ip, port, flags


def parse_ping(p):
    """Ping/Pong payload -> 8 bytes or None."""
    if len(p) < 8:
        return None
    return bytes(p[:8])


def parse_restarting(p):
    """-> (reconnect_in_ms, try_for_ms) or None."""
    if len(p) < 8:
        return None
    a = (p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
    b = (p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7]
    return a, b


def parse_health(p):
    """-> problem text ('' = healthy)."""
    try:
        return bytes(p).decode()
    except Exception:
        return "?"
