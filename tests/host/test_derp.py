"""DERP frame codec (modules/tailnet/derp.py) on CPython: ClientInfo/ServerInfo boxes
checked against libsodium (PyNaCl), frame reassembly over arbitrary read boundaries,
limits, and property tests showing hostile streams end in ERROR/None, never a raise."""
import json
import os
import struct
import sys

import pytest
from hypothesis import given, settings, strategies as st
from nacl.public import Box, PrivateKey

from mpy import MICROPYTHON, REPO, run_mpy

sys.path.insert(0, os.path.join(REPO, "modules"))
from tailnet import derp, derp_client  # noqa: E402

PROPS = settings(max_examples=300, derandomize=True, deadline=None, database=None)
NODE = PrivateKey(bytes(range(1, 33)))
SERVER = PrivateKey(bytes(range(201, 233)))


def fr(t, payload=b""):
    return struct.pack(">BI", t, len(payload)) + payload


def collect(p, data, chunks):
    """Feed `data` split at `chunks` boundaries; return [(type, payload)]."""
    out = []
    pos = 0
    cuts = sorted(set(c for c in chunks if 0 < c < len(data))) + [len(data)]
    for c in cuts:
        while pos < c:
            pos += p.feed(data[pos:c])
            while True:
                t = p.next()
                if t is None:
                    break
                out.append((t, bytes(p.payload()) if t != derp.ERROR else None))
                if t == derp.ERROR:
                    return out
    return out


def test_server_key_magic():
    key = bytes(SERVER.public_key)
    assert derp.parse_server_key(derp.MAGIC + key) == key
    assert derp.parse_server_key(derp.MAGIC + key + b"extra") == key
    assert derp.parse_server_key(b"DERP\xf0\x9f\x94\x92" + key) is None
    assert derp.parse_server_key(derp.MAGIC + key[:31]) is None


def test_client_info_opens_with_libsodium():
    nonce = bytes(range(24))
    f = derp.client_info(bytes(NODE), bytes(NODE.public_key), bytes(SERVER.public_key), nonce=nonce)
    t, ln = struct.unpack(">BI", f[:5])
    assert t == derp.CLIENT_INFO and ln == len(f) - 5
    p = bytes(f[5:])
    assert p[:32] == bytes(NODE.public_key) and p[32:56] == nonce
    msg = Box(SERVER, PrivateKey(bytes(NODE)).public_key).decrypt(p[56:], p[32:56])
    assert json.loads(msg) == {"version": 2, "CanAckPings": True}


def test_server_info_from_libsodium_opens():
    nonce = os.urandom(24)
    boxed = Box(SERVER, NODE.public_key).encrypt(b'{"version":2}', nonce)
    info = derp.open_server_info(bytes(boxed), bytes(NODE), bytes(SERVER.public_key))
    assert info == {"version": 2}
    bad = bytearray(boxed)
    bad[30] ^= 1
    assert derp.open_server_info(bytes(bad), bytes(NODE), bytes(SERVER.public_key)) is None
    notjson = Box(SERVER, NODE.public_key).encrypt(b"[1,2", nonce)
    assert derp.open_server_info(bytes(notjson), bytes(NODE), bytes(SERVER.public_key)) is None
    assert derp.open_server_info(b"short", bytes(NODE), bytes(SERVER.public_key)) is None


def test_builders():
    dst = b"d" * 32
    f = derp.send_packet(dst, b"hello")
    assert bytes(f) == fr(derp.SEND_PACKET, dst + b"hello")
    buf = bytearray(100)
    assert derp.send_packet_into(buf, dst, b"xy") == 5 + 34
    assert bytes(buf[:39]) == fr(derp.SEND_PACKET, dst + b"xy")
    with pytest.raises(ValueError):
        derp.send_packet_into(bytearray(10), dst, b"xy")
    with pytest.raises(ValueError):
        derp.send_packet(dst, bytes(65537))
    assert bytes(derp.note_preferred(True)) == fr(7, b"\x01")
    assert bytes(derp.note_preferred(False)) == fr(7, b"\x00")
    assert bytes(derp.ping(b"12345678")) == fr(0x12, b"12345678")
    assert bytes(derp.pong(b"12345678")) == fr(0x13, b"12345678")


def test_decoders():
    k = b"k" * 32
    src, pkt = derp.parse_recv_packet(memoryview(k + b"data"))
    assert bytes(src) == k and bytes(pkt) == b"data"
    assert derp.parse_recv_packet(b"x" * 31) is None
    assert derp.parse_peer_gone(k) == (k, 0)
    assert derp.parse_peer_gone(k + b"\x01") == (k, 1)
    ip = bytes(15) + b"\x01"
    assert derp.parse_peer_present(k + ip + b"\x01\x02\x05") == (k, ip, 0x102, 5)
    assert derp.parse_peer_present(k) == (k, None, 0, 0)
    assert derp.parse_restarting(struct.pack(">II", 5000, 60000)) == (5000, 60000)
    assert derp.parse_restarting(b"1234") is None
    assert derp.parse_health(b"") == "" and derp.parse_health(b"\xff\xfe") == "?"


@given(st.lists(st.integers(0, 400), max_size=12))
@PROPS
def test_reassembly_any_boundaries(chunks):
    frames = [
        fr(derp.SERVER_KEY, derp.MAGIC + b"s" * 32),
        fr(derp.SERVER_INFO, b"i" * 60),
        fr(0x42, b"unknown frame type, skipped" * 3),
        fr(derp.RECV_PACKET, b"k" * 32 + b"p" * 100),
        fr(derp.KEEP_ALIVE),
        fr(derp.PING, b"12345678"),
        fr(0x0A, b""),  # ForwardPacket is mesh-only: skipped
        fr(derp.HEALTH, b"bad"),
        fr(derp.RECV_PACKET, b"k" * 32),  # empty packet
    ]
    data = b"".join(frames)
    p = derp.FrameParser(256)
    got = collect(p, data, chunks)
    want = [(f[0], f[5:]) for f in frames if f[0] not in (0x42, 0x0A)]
    assert got == want
    assert p.stats["skipped"] == 2


def test_unknown_frame_bigger_than_buffer_is_skipped():
    p = derp.FrameParser(128)
    data = fr(0x77, os.urandom(5000)) + fr(derp.PONG, b"abcdefgh")
    assert collect(p, data, range(0, len(data), 100)) == [(derp.PONG, b"abcdefgh")]


def test_packet_bigger_than_small_buffer_is_dropped_not_fatal():
    p = derp.FrameParser(1024)
    data = fr(derp.RECV_PACKET, b"k" * 32 + bytes(3000)) + fr(derp.KEEP_ALIVE)
    assert collect(p, data, range(0, len(data), 512)) == [(derp.KEEP_ALIVE, b"")]
    assert p.stats["too_big"] == 1 and not p.broken


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack(">BI", derp.RECV_PACKET, 32 + 65537),
        struct.pack(">BI", derp.KEEP_ALIVE, 1) + b"x",
        struct.pack(">BI", derp.PING, 1000),
        struct.pack(">BI", 0x99, (1 << 20) + 1),
    ],
)
def test_oversize_frames_break_the_stream(frame):
    p = derp.FrameParser()
    p.feed(frame)
    assert p.next() == derp.ERROR and p.broken and p.stats["oversize"] == 1
    assert p.next() == derp.ERROR  # stays broken until reset()
    p.reset()
    p.feed(fr(derp.KEEP_ALIVE))
    assert p.next() == derp.KEEP_ALIVE


@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=6))
@PROPS
def test_garbage_stream_never_raises(data, chunks):
    p = derp.FrameParser(300)
    got = collect(p, data, chunks)
    errors = [t for t, _ in got if t == derp.ERROR]
    # every outcome is counted: frames delivered, and exactly one oversize per broken stream
    assert p.stats["frames"] == len(got) - len(errors)
    assert p.broken == bool(errors) == (p.stats["oversize"] == 1)
    for t, payload in got:
        assert t == derp.ERROR or t in derp._KNOWN
        if t == derp.SERVER_KEY:
            derp.parse_server_key(payload)
        elif t == derp.SERVER_INFO:
            assert derp.open_server_info(payload, bytes(NODE), bytes(SERVER.public_key)) is None
        elif t == derp.RECV_PACKET:
            derp.parse_recv_packet(memoryview(payload))
        elif t in (derp.PING, derp.PONG):
            derp.parse_ping(payload)
        elif t == derp.PEER_GONE:
            derp.parse_peer_gone(payload)
        elif t == derp.PEER_PRESENT:
            derp.parse_peer_present(payload)
        elif t == derp.RESTARTING:
            derp.parse_restarting(payload)
        elif t == derp.HEALTH:
            derp.parse_health(payload)


def test_backoff_shape():
    assert derp_client.backoff_ms(1, rnd=1.0) == 10
    assert derp_client.backoff_ms(10, rnd=1.0) == 1000
    assert derp_client.backoff_ms(100, rnd=1.0) == 5000
    assert derp_client.backoff_ms(100, rnd=0.0) == 2500
    assert 2500 <= derp_client.backoff_ms(1000) <= 5000


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_micropython_parser_matches_and_allocation_per_packet_is_small():
    """The same stream parsed inside MicroPython, read like a socket (readinto the
    parser's free space). The steady-state receive path allocates only the two memoryview
    slices it hands out (space() per read, payload() per frame): measured with the GC
    disabled and bounded here."""
    frames = fr(derp.RECV_PACKET, b"k" * 32 + b"p" * 200) * 20 + fr(0x55, b"zz") + fr(derp.KEEP_ALIVE)
    code = (
        "import gc, io, binascii\n"
        "from tailnet import derp\n"
        "data = binascii.unhexlify(%r)\n"
        "p = derp.FrameParser(1024)\n"
        "sock = io.BytesIO(data)\n"
        "n = [0, 0]\n"
        "gc.collect(); gc.disable(); a0 = gc.mem_alloc()\n"
        "while True:\n"
        "    k = sock.readinto(p.space())\n"
        "    if not k:\n"
        "        break\n"
        "    p.advance(k)\n"
        "    while True:\n"
        "        t = p.next()\n"
        "        if t is None:\n"
        "            break\n"
        "        if t == derp.RECV_PACKET:\n"
        "            n[0] += len(p.payload())\n"
        "        n[1] += 1\n"
        "a1 = gc.mem_alloc(); gc.enable()\n"
        "print(n[0], n[1], p.stats['skipped'], (a1 - a0) // n[1])\n" % frames.hex()
    )
    out = run_mpy(code).stdout.split()
    assert out[:3] == ["4640", "21", "1"]
    print("bytes allocated per frame:", out[3])
    assert int(out[3]) <= 160


# Firmware preamble of the two TLS tests below: non-blocking TLS socket `s`, DerpClient `dc`.
TLS_DERP_CLIENT = r"""
import asyncio, socket, tls, micropython
from tailnet import derp_client
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = tls.CERT_REQUIRED
ctx.load_verify_locations(open(CA, 'rb').read())
raw = socket.socket()
raw.connect(socket.getaddrinfo('127.0.0.1', PORT)[0][-1])
s = ctx.wrap_socket(raw, server_hostname='localhost')
s.setblocking(False)
dc = derp_client.DerpClient('127.0.0.1', PORT, bytes(range(1, 33)), tls=True)
"""


SEND_NOW_TLS = TLS_DERP_CLIENT + r"""
dc._w = asyncio.StreamReader(s)   # what _open_tls gives the session: a Stream over the TLS socket
dc.state = derp_client.CONNECTED
dst = bytes(range(100, 132))
pkts = [bytes([4, 0, 0, 0]) + bytes([i]) * n for i, n in ((1, 28), (2, 1200), (3, 92))]
for p in pkts:                    # warm: one of each size
    assert dc.send_now(dst, memoryview(p))
def burst():
    micropython.heap_lock()
    try:
        ok = 0
        for k in range(20):
            for p in pkts:
                ok += dc.send_now(dst, p)
    finally:
        micropython.heap_unlock()
    return ok
ok = burst()
print("SENT", ok, dc.stats["tx_packets"], len(dc._w.out_buf))
s.close()
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_send_now_over_tls_allocates_nothing(tmp_path):
    """DerpClient.send_now on the firmware over a real TLS connection (mbedtls via the
    `tls` module) under micropython.heap_lock(): frame built in the preallocated buffer,
    encrypted and written by the ssl module without touching the heap. A CPython TLS
    server reads the SendPacket frames back and checks every byte."""
    import socket
    import ssl
    import threading

    sys.path.insert(0, os.path.join(REPO, "tools"))
    from testnet import make_ca

    paths = make_ca(str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    data = bytearray()

    def serve():
        c, _ = ls.accept()
        s = ctx.wrap_socket(c, server_side=True)
        while True:
            b = s.recv(65536)
            if not b:
                break
            data.extend(b)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    out = run_mpy("CA = %r\nPORT = %d\n" % (paths["ca.der"], ls.getsockname()[1]) + SEND_NOW_TLS,
                  timeout=60).stdout
    th.join(10)
    ls.close()
    assert "SENT 60 63 0" in out, out
    dst = bytes(range(100, 132))
    frames = []
    pos = 0
    while pos + 5 <= len(data):  # client->server frames, as the DERP server reads them
        t, ln = struct.unpack(">BI", data[pos:pos + 5])
        frames.append((t, bytes(data[pos + 5:pos + 5 + ln])))
        pos += 5 + ln
    assert pos == len(data)
    want = [bytes([4, 0, 0, 0]) + bytes([i]) * n for i, n in ((1, 28), (2, 1200), (3, 92))] * 21
    assert len(frames) == 63 and all(t == derp.SEND_PACKET for t, _ in frames), [t for t, _ in frames][:5]
    assert [pl[:32] for _, pl in frames] == [dst] * 63
    assert [pl[32:] for _, pl in frames] == want


RX_NOW_TLS = TLS_DERP_CLIENT + r"""
sums = [0, 0, 0]   # packets, bytes, byte sum (computed in the callback: no allocation)
def on_packet(src, pkt):
    sums[0] += 1
    sums[1] += len(pkt)
    sums[2] += pkt[0] + pkt[len(pkt) - 1] + src[0] + src[31]
dc.on_packet = on_packet
def rx(locked):
    # read until the server's marker count is reached (the server writes in bursts)
    while True:
        if locked:
            micropython.heap_lock()
        try:
            out = dc.rx_now(s)
        finally:
            if locked:
                micropython.heap_unlock()
        assert out is None
        if sums[0] >= WANT[0]:
            return
        select_wait()
import select
poller = select.poll()
poller.register(raw, select.POLLIN)
def select_wait():
    poller.poll(2000)
WANT = [3]
rx(False)                # warm: one frame of each size
print("WARM", sums[0], sums[1])
WANT[0] = 3 + 60
import time
time.sleep(1.5)   # all 60 frames arrived: a frame only partly arrived at read time would
rx(True)          # cost one memoryview (the read position is not the frame start)
print("RX", sums[0], sums[1], sums[2], dc.stats["rx_packets"], dc.parser.stats["frames"])
s.close()
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_rx_now_over_tls_allocates_nothing(tmp_path):
    """DerpClient.rx_now on the firmware over a real TLS connection under
    micropython.heap_lock(): RecvPacket frames written by a CPython TLS server are read
    frame by frame into the parser's buffer (need()) and handed to on_packet as cached
    views - nothing allocated per frame once each length was seen."""
    import socket
    import ssl
    import threading

    sys.path.insert(0, os.path.join(REPO, "tools"))
    from testnet import make_ca

    paths = make_ca(str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    src = bytes(range(100, 132))
    pkts = [bytes([4, 0, 0, 0]) + bytes([i]) * n for i, n in ((1, 28), (2, 1200), (3, 92))]
    frames = [fr(derp.RECV_PACKET, src + p) for p in pkts]

    def serve():
        c, _ = ls.accept()
        s = ctx.wrap_socket(c, server_side=True)
        s.sendall(b"".join(frames))                 # warm-up
        import time
        time.sleep(0.2)
        for k in range(20):                         # 60 frames in 20 TLS writes, split
            blob = b"".join(frames)                 # across record/segment boundaries
            s.sendall(blob[:700])
            s.sendall(blob[700:])
        s.settimeout(20)
        try:
            s.recv(1)     # open until the client closes
        except OSError:
            pass
        s.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    out = run_mpy("CA = %r\nPORT = %d\n" % (paths["ca.der"], ls.getsockname()[1]) + RX_NOW_TLS,
                  timeout=60).stdout
    th.join(10)
    ls.close()
    n = sum(len(p) for p in pkts)
    want = sum(p[0] + p[-1] + src[0] + src[31] for p in pkts)
    assert "WARM 3 %d" % n in out, out
    assert "RX 63 %d %d 63 63" % (21 * n, 21 * want) in out, out


@PROPS
@given(st.lists(st.integers(1, 400), min_size=1, max_size=40))
def test_need_reads_frame_at_a_time(caps):
    """Reading at most need() bytes (as DerpClient.rx_now does) yields the same frames as
    any other read pattern; recv_packet() gives the source key and packet, whether the
    frame sits at the buffer start (cached views) or not (a read cut short)."""
    pk = [bytes([i]) * n for i, n in ((1, 0), (2, 300), (3, 77))]
    data = b"".join(fr(derp.RECV_PACKET, bytes([9 + i]) * 32 + p) for i, p in enumerate(pk))
    data = fr(0x55, b"x" * 700) + data + fr(derp.KEEP_ALIVE) + data   # unknown frame: skipped
    p = derp.FrameParser(512)
    pos, i, got = 0, 0, []
    while pos < len(data):
        t = p.next()
        if t is not None:
            assert t != derp.ERROR
            if t == derp.RECV_PACKET:
                assert p.recv_packet()
                got.append((bytes(p.src), bytes(p.pkt)))
            else:
                got.append(t)
            continue
        mv = p.space()
        n = min(p.need(), len(mv), caps[i % len(caps)], len(data) - pos)
        i += 1
        mv[:n] = data[pos:pos + n]
        pos += n
        p.advance(n)
    t = p.next()
    while t is not None:
        if t == derp.RECV_PACKET:
            assert p.recv_packet()
            got.append((bytes(p.src), bytes(p.pkt)))
        else:
            got.append(t)
        t = p.next()
    want = [(bytes([9 + i]) * 32, q) for i, q in enumerate(pk)]
    assert got == want + [derp.KEEP_ALIVE] + want
    assert p.stats["skipped"] == 1
