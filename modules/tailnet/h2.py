# Minimal HTTP/2 client connection (RFC 9113), sans-I/O.
# Frame header: length 24 | type 8 | flags 8 | R+stream id 32 (all BE).
# feed(bytes) -> events; pending output is taken with take().
# Events: ("headers", sid, [(name, value)], end_stream) | ("data", sid, bytes, end_stream)
#         ("reset", sid, code) | ("goaway", last_sid, code, debug)
from tailnet import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA = 0
HEADERS = 1
PRIORITY = 2
RST_STREAM = 3
SETTINGS = 4
PUSH_PROMISE = 5
PING = 6
GOAWAY = 7
WINDOW_UPDATE = 8
CONTINUATION = 9
F_END_STREAM = 1
F_ACK = 1
F_END_HEADERS = 4
F_PADDED = 8
F_PRIORITY = 32
DEFAULT_WINDOW = 65535
MAX_FRAME = 16384         # what we accept (we never raise SETTINGS_MAX_FRAME_SIZE)
MAX_HEADER_BLOCK = 16384
MAX_WINDOW = 0x7FFFFFFF
E_PROTOCOL = 1
E_FLOW = 3
E_FRAME_SIZE = 6
E_COMPRESSION = 9


class H2Error(Exception):
    def __init__(self, msg, code=E_PROTOCOL):
        super().__init__(msg)
        self.code = code


def frame(ftype, flags, sid, payload=b""):
    n = len(payload)
    return bytes((n >> 16, (n >> 8) & 255, n & 255, ftype, flags)) + sid.to_bytes(4, "big") + payload


class _Stream:
    def __init__(self, window):
        self.send_window = window
        self.pending = b""        # request body not yet sent (flow control)
        self.end_pending = False
        self.recv_unacked = 0
        self.closed = False


class Connection:
    def __init__(self, recv_window=DEFAULT_WINDOW):
        self._out = []
        self._in = bytearray()
        self._dec = hpack.Decoder()
        self._streams = {}
        self._next_sid = 1
        self._peer_initial = DEFAULT_WINDOW
        self._peer_max_frame = 16384
        self.send_window = DEFAULT_WINDOW     # connection-level, towards the server
        self._recv_window = recv_window
        self._conn_unacked = 0
        self._hdr = None                      # (sid, end_stream, bytearray) while in CONTINUATION
        self.goaway = None
        self.settings_acked = False
        self._dleft = 0                       # bytes left of the DATA frame being passed on
        self._dsid = 0
        self._dflags = 0

    # ---- output
    def initiate(self):
        # SETTINGS: ENABLE_PUSH=0, MAX_HEADER_LIST_SIZE, INITIAL_WINDOW_SIZE (ours)
        s = b"\x00\x02\x00\x00\x00\x00" + b"\x00\x06" + MAX_HEADER_BLOCK.to_bytes(4, "big")
        s += b"\x00\x04" + self._recv_window.to_bytes(4, "big")
        self._out.append(PREFACE + frame(SETTINGS, 0, 0, s))
        if self._recv_window > DEFAULT_WINDOW:
            self._out.append(frame(WINDOW_UPDATE, 0, 0, (self._recv_window - DEFAULT_WINDOW).to_bytes(4, "big")))

    def take(self):
        """Bytes to write to the transport (b"" when none)."""
        if not self._out:
            return b""
        d = b"".join(self._out)
        self._out = []
        return d

    def request(self, method, path, authority, headers=(), body=b"", scheme="https"):
        """Open a stream; body is sent with END_STREAM (subject to flow control). Returns sid."""
        if self.goaway is not None:
            raise H2Error("connection is going away")
        sid = self._next_sid
        self._next_sid += 2
        hl = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path)]
        hl.extend(headers)
        block = hpack.encode(hl)
        if len(block) > self._peer_max_frame:
            raise H2Error("request headers too large")
        st = _Stream(self._peer_initial)
        self._streams[sid] = st
        self._out.append(frame(HEADERS, F_END_HEADERS | (0 if body else F_END_STREAM), sid, block))
        if body:
            st.pending = body
            st.end_pending = True
            self._flush(sid, st)
        return sid

    def _flush(self, sid, st):
        while st.pending:
            n = min(len(st.pending), st.send_window, self.send_window, self._peer_max_frame)
            if n <= 0:
                return
            chunk = st.pending[:n]
            st.pending = st.pending[n:]
            st.send_window -= n
            self.send_window -= n
            last = st.end_pending and not st.pending
            self._out.append(frame(DATA, F_END_STREAM if last else 0, sid, chunk))

    def reset(self, sid, code=8):
        self._out.append(frame(RST_STREAM, 0, sid, code.to_bytes(4, "big")))
        self._streams.pop(sid, None)

    def ping(self, opaque=b"tailnet!"):
        self._out.append(frame(PING, 0, 0, opaque))

    def close(self, code=0):
        last = max(0, self._next_sid - 2)
        self._out.append(frame(GOAWAY, 0, 0, last.to_bytes(4, "big") + code.to_bytes(4, "big")))

    def open_streams(self):
        return len(self._streams)

    # ---- input
    def feed(self, data):
        """Process received bytes; return a list of events (see module comment).
        Unpadded DATA payloads are passed on as they arrive (no 16 KiB frame buffer)."""
        buf = self._in
        buf.extend(data)
        ev = []
        while buf:
            if self._dleft:
                k = min(self._dleft, len(buf))
                self._dleft -= k
                self._data_part(bytes(memoryview(buf)[:k]), ev)   # one copy, not two
                buf[:k] = b""
                continue
            if len(buf) < 9:
                break
            n = (buf[0] << 16) | (buf[1] << 8) | buf[2]
            if n > MAX_FRAME:
                raise H2Error("frame too large (%d)" % n, E_FRAME_SIZE)
            ftype = buf[3]
            flags = buf[4]
            sid = int.from_bytes(bytes(buf[5:9]), "big") & MAX_WINDOW
            if ftype == DATA and not flags & F_PADDED and self._hdr is None:
                buf[:9] = b""
                self._data_start(flags, sid, n, ev)
                continue
            if len(buf) < 9 + n:
                break
            payload = bytes(buf[9:9 + n])
            buf[:9 + n] = b""
            self._frame(ftype, flags, sid, payload, ev)
        return ev

    def _data_start(self, flags, sid, n, ev):
        self._account(sid, n)
        self._dsid = sid
        self._dflags = flags
        self._dleft = n
        if not n:
            self._data_part(b"", ev)

    def _data_part(self, chunk, ev):
        sid = self._dsid
        end = bool(self._dflags & F_END_STREAM) and not self._dleft
        st = self._streams.get(sid)
        if st is not None and (chunk or end):
            if end:
                self._end(sid, st)
            ev.append(("data", sid, chunk, end))

    def _frame(self, ftype, flags, sid, p, ev):
        if self._hdr is not None and (ftype != CONTINUATION or sid != self._hdr[0]):
            raise H2Error("expected CONTINUATION")
        if ftype == DATA:
            self._on_data(flags, sid, p, ev)
        elif ftype == HEADERS:
            self._on_headers(flags, sid, p, ev)
        elif ftype == CONTINUATION:
            if self._hdr is None:
                raise H2Error("unexpected CONTINUATION")
            self._hdr[2].extend(p)
            if len(self._hdr[2]) > MAX_HEADER_BLOCK:
                raise H2Error("header block too large")
            if flags & F_END_HEADERS:
                h = self._hdr
                self._hdr = None
                self._emit_headers(h[0], h[1], h[2], ev)
        elif ftype == SETTINGS:
            self._on_settings(flags, sid, p)
        elif ftype == PING:
            if sid or len(p) != 8:
                raise H2Error("bad PING", E_FRAME_SIZE)
            if not flags & F_ACK:
                self._out.append(frame(PING, F_ACK, 0, p))
        elif ftype == WINDOW_UPDATE:
            self._on_window(sid, p)
        elif ftype == RST_STREAM:
            if len(p) != 4 or not sid:
                raise H2Error("bad RST_STREAM", E_FRAME_SIZE)
            if self._streams.pop(sid, None) is not None:
                ev.append(("reset", sid, int.from_bytes(p, "big")))
        elif ftype == GOAWAY:
            if len(p) < 8 or sid:
                raise H2Error("bad GOAWAY", E_FRAME_SIZE)
            last = int.from_bytes(p[:4], "big") & MAX_WINDOW
            self.goaway = last
            ev.append(("goaway", last, int.from_bytes(p[4:8], "big"), p[8:72]))
        elif ftype == PUSH_PROMISE:
            raise H2Error("PUSH_PROMISE with push disabled")
        # PRIORITY and unknown types are ignored

    def _strip_pad(self, flags, p):
        if flags & F_PADDED:
            if not p or p[0] >= len(p):
                raise H2Error("bad padding")
            p = p[1:len(p) - p[0]]
        return p

    def _account(self, sid, n):
        # flow control: count the whole frame (padding included) when its header arrives
        if not sid:
            raise H2Error("DATA on stream 0")
        self._conn_unacked += n
        if self._conn_unacked > self._recv_window:
            raise H2Error("connection flow control violated", E_FLOW)
        st = self._streams.get(sid)
        if st is not None:
            st.recv_unacked += n
            if st.recv_unacked > self._recv_window:
                raise H2Error("stream flow control violated", E_FLOW)
            if st.recv_unacked >= self._recv_window // 2:
                self._out.append(frame(WINDOW_UPDATE, 0, sid, st.recv_unacked.to_bytes(4, "big")))
                st.recv_unacked = 0
        if self._conn_unacked >= self._recv_window // 2:
            self._out.append(frame(WINDOW_UPDATE, 0, 0, self._conn_unacked.to_bytes(4, "big")))
            self._conn_unacked = 0

    def _on_data(self, flags, sid, p, ev):
        # padded DATA (never sent by Go): whole frame buffered
        self._account(sid, len(p))
        self._dsid = sid
        self._dflags = flags
        self._dleft = 0
        self._data_part(self._strip_pad(flags, p), ev)

    def _end(self, sid, st):
        st.closed = True
        if not st.pending:
            self._streams.pop(sid, None)

    def _on_headers(self, flags, sid, p, ev):
        if not sid:
            raise H2Error("HEADERS on stream 0")
        p = self._strip_pad(flags, p)
        if flags & F_PRIORITY:
            if len(p) < 5:
                raise H2Error("bad HEADERS priority")
            p = p[5:]
        end = bool(flags & F_END_STREAM)
        if flags & F_END_HEADERS:
            self._emit_headers(sid, end, p, ev)
        else:
            self._hdr = (sid, end, bytearray(p))

    def _emit_headers(self, sid, end, block, ev):
        try:
            hl = self._dec.decode(block)   # always decode: keeps the dynamic table in sync
        except hpack.HpackError as e:
            raise H2Error("hpack: " + str(e), E_COMPRESSION)
        st = self._streams.get(sid)
        if st is None:
            return
        if end:
            self._end(sid, st)
        ev.append(("headers", sid, hl, end))

    def _on_settings(self, flags, sid, p):
        if sid:
            raise H2Error("SETTINGS on a stream")
        if flags & F_ACK:
            if p:
                raise H2Error("SETTINGS ACK with payload", E_FRAME_SIZE)
            self.settings_acked = True
            return
        if len(p) % 6:
            raise H2Error("bad SETTINGS length", E_FRAME_SIZE)
        for i in range(0, len(p), 6):
            ident = (p[i] << 8) | p[i + 1]
            v = int.from_bytes(p[i + 2:i + 6], "big")
            if ident == 4:
                if v > MAX_WINDOW:
                    raise H2Error("bad INITIAL_WINDOW_SIZE", E_FLOW)
                delta = v - self._peer_initial
                self._peer_initial = v
                for st in self._streams.values():
                    st.send_window += delta
            elif ident == 5:
                if v < 16384 or v > 16777215:
                    raise H2Error("bad MAX_FRAME_SIZE")
                self._peer_max_frame = min(v, MAX_FRAME)
        self._out.append(frame(SETTINGS, F_ACK, 0))
        self._flush_all()

    def _on_window(self, sid, p):
        if len(p) != 4:
            raise H2Error("bad WINDOW_UPDATE", E_FRAME_SIZE)
        inc = int.from_bytes(p, "big") & MAX_WINDOW
        if not inc:
            raise H2Error("zero WINDOW_UPDATE")
        if not sid:
            self.send_window += inc
            if self.send_window > MAX_WINDOW:
                raise H2Error("window overflow", E_FLOW)
            self._flush_all()
            return
        st = self._streams.get(sid)
        if st is not None:
            st.send_window += inc
            self._flush(sid, st)

    def _flush_all(self):
        for sid in list(self._streams):
            st = self._streams[sid]
            if st.pending:
                self._flush(sid, st)
