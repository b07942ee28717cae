"""The minimal HTTP/2 client (modules/tailnet/h2.py) against the `h2` package as server:
settings, flow control over long bodies, PING, RST_STREAM, GOAWAY, concurrent streams,
and property tests of the frame parser."""
import h2.config
import h2.connection
import h2.events
import pytest
from hypothesis import given, settings, strategies as st

import _control_util  # noqa: F401
from tailnet import h2 as th2

PROPS = settings(max_examples=200, derandomize=True, deadline=None)


class Pair:
    def __init__(self):
        self.c = th2.Connection()
        self.s = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.s.initiate_connection()
        self.c.initiate()
        self.sev = []
        self.cev = []
        self.pump()

    def pump(self, cut=None):
        for _ in range(1000):
            a = self.c.take()
            b = self.s.data_to_send()
            if not a and not b:
                return
            if a:
                self.sev += self.s.receive_data(a)
            if b:
                if cut:
                    for i in range(0, len(b), cut):
                        self.cev += self.c.feed(b[i:i + cut])
                else:
                    self.cev += self.c.feed(b)

    def requests(self):
        return [e for e in self.sev if isinstance(e, h2.events.RequestReceived)]


def body_of(evs, sid):
    return b"".join(e[2] for e in evs if e[0] == "data" and e[1] == sid)


def test_request_response_with_flow_control():
    p = Pair()
    sid = p.c.request("POST", "/machine/map", "localhost", [("content-type", "application/json")], b'{"a":1}')
    p.pump()
    req = p.requests()[0]
    hd = dict(req.headers)
    assert hd[b":method"] == b"POST" and hd[b":path"] == b"/machine/map" and hd[b":scheme"] == b"https"
    data = [e for e in p.sev if isinstance(e, h2.events.DataReceived)]
    assert b"".join(e.data for e in data) == b'{"a":1}'
    assert any(isinstance(e, h2.events.StreamEnded) for e in p.sev)
    p.s.send_headers(sid, [(":status", "200"), ("content-type", "application/json")])
    big = bytes(range(256)) * 2000  # 512000 B: > 64 KiB needs WINDOW_UPDATEs on both levels
    sent = 0
    while sent < len(big):
        n = min(p.s.local_flow_control_window(sid), p.s.max_outbound_frame_size, len(big) - sent)
        assert n > 0, "client did not replenish the window"
        p.s.send_data(sid, big[sent:sent + n], end_stream=sent + n == len(big))
        sent += n
        p.pump(cut=1000)
    assert body_of(p.cev, sid) == big
    hs = [e for e in p.cev if e[0] == "headers"][0]
    assert (b":status", b"200") in hs[2]
    assert p.c.open_streams() == 0


def test_concurrent_streams_ping_reset_goaway():
    p = Pair()
    a = p.c.request("POST", "/machine/map", "h", (), b"x" * 10)
    b = p.c.request("POST", "/machine/register", "h", (), b"y")
    assert (a, b) == (1, 3)
    p.pump()
    p.s.send_headers(b, [(":status", "200")])
    p.s.send_data(b, b"reg", end_stream=True)
    p.s.send_headers(a, [(":status", "200")])
    p.s.send_data(a, b"map1")
    p.s.ping(b"12345678")
    p.pump()
    assert body_of(p.cev, b) == b"reg" and body_of(p.cev, a) == b"map1"
    assert any(isinstance(e, h2.events.PingAckReceived) for e in p.sev)
    p.s.reset_stream(a, 8)
    p.pump()
    assert ("reset", a, 8) in p.cev
    p.s.close_connection(last_stream_id=3)
    p.pump()
    assert [e for e in p.cev if e[0] == "goaway"][0][1] == 3
    with pytest.raises(th2.H2Error):
        p.c.request("POST", "/x", "h")


def test_large_request_body_waits_for_window():
    p = Pair()
    body = b"z" * 200000
    sid = p.c.request("POST", "/machine/map", "h", (), body)
    got = b""
    for _ in range(50):
        p.pump()
        got = b"".join(e.data for e in p.sev if isinstance(e, h2.events.DataReceived))
        for e in p.sev:
            if isinstance(e, h2.events.DataReceived) and not getattr(e, "_acked", False):
                p.s.acknowledge_received_data(e.flow_controlled_length, sid)
                e._acked = True
        if len(got) == len(body):
            break
    assert got == body


def test_oversized_frame_and_bad_frames():
    c = th2.Connection()
    with pytest.raises(th2.H2Error):
        c.feed(b"\x01\x00\x00\x00\x00\x00\x00\x00\x01")  # 65536 > 16384
    for bad in [th2.frame(th2.PING, 0, 1, b"12345678"), th2.frame(th2.SETTINGS, 0, 0, b"12345"),
                th2.frame(th2.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"),
                th2.frame(th2.CONTINUATION, 4, 1, b""), th2.frame(th2.PUSH_PROMISE, 4, 1, b"\0\0\0\2")]:
        with pytest.raises(th2.H2Error):
            th2.Connection().feed(bad)
    c = th2.Connection()
    sid = c.request("POST", "/", "h", (), b"")
    with pytest.raises(th2.H2Error):
        c.feed(th2.frame(th2.HEADERS, 4, sid, b"\xff\xff\xff\xff\xff\x7f"))  # bad HPACK


@PROPS
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 255), st.integers(0, 7),
                          st.binary(max_size=40)), max_size=12))
def test_random_frames_clean(frames):
    c = th2.Connection()
    c.request("POST", "/", "h", (), b"abc")
    c.request("POST", "/", "h", (), b"")
    try:
        for t, f, sid, p in frames:
            c.feed(th2.frame(t, f, sid, p))
    except th2.H2Error:
        pass
    assert isinstance(c.take(), bytes)


@PROPS
@given(st.binary(max_size=400), st.integers(1, 50))
def test_random_bytes_clean(data, cut):
    c = th2.Connection()
    try:
        for i in range(0, len(data), cut):
            c.feed(data[i:i + cut])
    except th2.H2Error:
        pass
