"""Per-peer path selection (modules/tailnet/magicsock.py) with a driven clock:
direct only after a pong proves it, heartbeat while active, DERP fallback when trust
lapses, periodic re-probe, bounded tables. Also run inside MicroPython across a
ticks_ms wrap-around."""
import os
import sys

import pytest

from mpy import MICROPYTHON, REPO, run_mpy

sys.path.insert(0, os.path.join(REPO, "modules"))
from tailnet import magicsock as ms  # noqa: E402

A = (b"\x00" * 10 + b"\xff\xff" + bytes((10, 0, 0, 1)), 41641)
B = (b"\x00" * 10 + b"\xff\xff" + bytes((127, 0, 0, 1)), 41642)
C = (b"\x00" * 10 + b"\xff\xff" + bytes((192, 168, 0, 5)), 5)


class Ids:
    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1
        return self.n.to_bytes(12, "big")


def answer(p, pings, now, only=None):
    for txid, addr in pings:
        if only is None or addr in only:
            assert p.on_pong(txid, now, addr)


def test_no_endpoints_means_derp_only():
    p = ms.PeerPath(b"k" * 32)
    assert p.route(0) == (None, True)
    assert p.pings_due(0, Ids()) == []


def test_pong_proves_direct_path_then_heartbeat_then_fallback():
    p = ms.PeerPath()
    ids = Ids()
    p.set_endpoints([A, B])
    pings = p.pings_due(0, ids)
    assert sorted(a for _, a in pings) == sorted([A, B])
    assert p.route(10) == (None, True)  # nothing proven yet: DERP
    answer(p, pings, 20, only=[B])  # only B answers
    assert p.best == B and p.best_latency == 20
    assert p.route(30) == (B, False)
    # heartbeat: active session, 3 s after the last ping to B -> one ping to B only
    assert p.pings_due(2000, ids) == []
    hb = p.pings_due(3000, ids)
    assert [a for _, a in hb] == [B]
    answer(p, hb, 3010)
    assert p.trust_until == 3010 + ms.TRUST_UDP
    p.route(3020)
    # the direct path dies: no more pongs. Until trust lapses, UDP only.
    lost = p.pings_due(6020, ids)
    assert [a for _, a in lost] == [B]
    assert p.route(9000) == (B, False)
    # trust lapsed: data goes to DERP as well as the last UDP address, and all
    # endpoints are re-probed, each at most once per 5 s (B was pinged at 6020).
    assert p.route(9600) == (B, True)
    probe = p.pings_due(9600, ids)
    assert [a for _, a in probe] == [A]
    assert [a for _, a in p.pings_due(11100, ids)] == [B]
    # ...still nothing: the stale best address is forgotten, DERP only.
    p.route(15000)
    p.pings_due(15000, ids)
    assert p.best is None and p.route(15100) == (None, True)
    assert p.stats["timeouts"] >= 3


def drive(p, ids, t0, t1, lat):
    """Send data every second from t0 to t1; every ping gets a pong after lat[addr] ms."""
    t = t0
    while t < t1:
        p.route(t)
        for txid, addr in p.pings_due(t, ids):
            if lat.get(addr) is not None:
                assert p.on_pong(txid, t + lat[addr], addr)
        t += 1000
    return t


def test_faster_endpoint_wins_on_reprobe_with_hysteresis():
    p = ms.PeerPath()
    ids = Ids()
    p.set_endpoints([A, B])
    t = drive(p, ids, 0, 1000, {A: 50})  # only A answers at first
    assert p.best == A and p.stats["switches"] == 1
    # B starts answering, 4% faster than A: not enough to move (10% hysteresis)
    t = drive(p, ids, t, t + 2 * ms.UPGRADE_INTERVAL, {A: 50, B: 48})
    assert p.best == A and p.eps[B][2] == 48
    # B becomes much faster: taken at the next periodic re-probe, not before
    t = drive(p, ids, t, t + ms.UPGRADE_INTERVAL // 2, {A: 50, B: 5})
    t = drive(p, ids, t, t + ms.UPGRADE_INTERVAL, {A: 50, B: 5})
    assert p.best == B and p.stats["switches"] == 2
    assert p.route(t) == (B, False)


def test_stray_and_spoofed_pongs_are_ignored():
    p = ms.PeerPath()
    ids = Ids()
    p.set_endpoints([A])
    (txid, addr), = p.pings_due(0, ids)
    assert not p.on_pong(b"x" * 12, 5, A)
    assert not p.on_pong(txid, 5, C)  # right txid, wrong source
    assert p.best is None and p.stats["stray_pongs"] == 2
    assert not p.on_pong(txid, 6, A)  # the txid was consumed by the spoof attempt
    (txid, _), = p.call_me_maybe([], 6000)
    assert p.on_pong(txid, 6010, A) and p.best == A


def test_idle_peer_stops_probing_and_call_me_maybe_restarts():
    p = ms.PeerPath()
    ids = Ids()
    p.set_endpoints([A])
    answer(p, p.pings_due(0, ids), 10)
    p.route(10)
    t = 10
    sent = 0
    while t < 120000:
        t += 1000
        got = p.pings_due(t, ids)
        sent += len(got)
        answer(p, got, t + 1)
    assert 10 <= sent <= 16  # heartbeats only during the 45 s active window
    assert p.pings_due(130000, ids) == []
    got = p.call_me_maybe([C], 130000)
    assert sorted(a for _, a in got) == sorted([A, C])


def test_bounds():
    p = ms.PeerPath()
    p.set_endpoints([(bytes(16), i) for i in range(20)])
    assert len(p.eps) == ms.MAX_ENDPOINTS
    assert not p.add_candidate((bytes(16), 99)) is None
    assert len(p.eps) == ms.MAX_ENDPOINTS
    ids = Ids()
    for i in range(5):
        p.call_me_maybe([], i * 10000)
    assert len(p.pending) <= ms.MAX_PENDING
    t = ms.Paths(max_peers=2)
    assert t.get(b"a" * 32) and t.get(b"b" * 32)
    assert t.get(b"c" * 32) is None
    t.get(b"a" * 32).set_endpoints([A])
    assert [(k, a) for k, _, a in t.pings_due(0, ids)] == [(b"a" * 32, A)]


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_micropython_across_ticks_wrap():
    code = """
import time
from tailnet import magicsock as ms
A = (bytes(16), 1)
p = ms.PeerPath()
t0 = time.ticks_add(0, -2000)   # 2 s before ticks_ms wraps
n = [0]
def ids():
    n[0] += 1
    return n[0].to_bytes(12, 'big')
p.set_endpoints([A])
(txid, a), = p.pings_due(t0, ids)
t = time.ticks_add(t0, 30)
assert p.on_pong(txid, t, A)
assert p.route(t) == (A, False)
t = time.ticks_add(t0, 3000)  # after the wrap
assert p.route(t) == (A, False)
hb = p.pings_due(t, ids)
assert [x[1] for x in hb] == [A], hb
t = time.ticks_add(t0, 10000)
assert p.route(t) == (A, True)
print('ok', t < t0)
"""
    assert run_mpy(code).stdout.split() == ["ok", "True"]


def conns():
    from tailnet import crypto, disco

    clock = [1000]
    ends = []
    for i in range(2):
        npriv, dpriv = os.urandom(32), os.urandom(32)
        c = ms.Conn(crypto.x25519_base(npriv), dpriv, derp_region=999, clock=lambda: clock[0])
        ends.append(c)
    a, b = ends
    addr_a = (A[0], 1111)
    addr_b = (B[0], 2222)
    a.set_peers([(b.node_pub, b.disco.pub, [addr_b])])
    b.set_peers([(a.node_pub, a.disco.pub, [addr_a])])
    return a, b, addr_a, addr_b, clock, disco


def deliver(src, dst, src_addr, udp_ok=True):
    """Move src's outbox into dst (UDP items only when udp_ok); returns what moved."""
    moved = []
    while src.outbox:
        via, to, payload = src.outbox.pop(0)
        moved.append((via, to))
        if via == ms.VIA_DERP and to == dst.node_pub:
            dst.derp_recv(src.node_pub, payload)
        elif via == ms.VIA_UDP and udp_ok:
            dst.udp_recv(src_addr, payload)
    return moved


def test_conn_derp_ping_gets_derp_pong_with_magic_source():
    a, b, addr_a, addr_b, clock, disco = conns()
    txid = os.urandom(12)
    ping = a.disco.seal(b.disco.pub, disco.ping(txid, a.node_pub))
    b.derp_recv(a.node_pub, ping)
    (via, to, pong), = b.outbox
    assert via == ms.VIA_DERP and to == a.node_pub
    s, m = a.disco.open(pong)
    assert m == (disco.PONG, txid, disco.DERP_MAGIC_IP, 999)
    # the same disco packet relayed "from" another node key is rejected
    b.outbox.clear()
    b.derp_recv(os.urandom(32), ping)
    assert b.outbox == [] and b.stats["dropped"] == 1


def test_conn_finds_direct_path_and_falls_back_to_derp():
    a, b, addr_a, addr_b, clock, disco = conns()
    wg = b"\x04\x00\x00\x00" + bytes(28)
    got = []
    b.on_wg = lambda node, addr, pkt: got.append((node, addr))
    a.send_wg(b.node_pub, wg)  # nothing proven: DERP, plus pings to b's endpoint
    moved = deliver(a, b, addr_a)
    assert (ms.VIA_DERP, b.node_pub) in moved and (ms.VIA_UDP, addr_b) in moved
    assert got == [(a.node_pub, None)]
    deliver(b, a, addr_b)  # b's pong goes back over UDP
    clock[0] += 5
    a.send_wg(b.node_pub, wg)
    assert deliver(a, b, addr_a) == [(ms.VIA_UDP, addr_b)]
    assert got[-1] == (None, addr_a)
    # UDP now blocked: heartbeats go unanswered, trust lapses, DERP carries data again
    for _ in range(12):
        clock[0] += 1000
        a.send_wg(b.node_pub, wg)
        a.tick()
        deliver(a, b, addr_a, udp_ok=False)
        b.outbox.clear()
    assert a.paths.get(b.node_pub).best is None
    a.send_wg(b.node_pub, wg)
    assert (ms.VIA_DERP, b.node_pub) in deliver(a, b, addr_a, udp_ok=False)


def test_conn_call_me_maybe_over_derp_only():
    a, b, addr_a, addr_b, clock, disco = conns()
    new = (C[0], 3333)
    cmm = b.disco.seal(a.disco.pub, disco.call_me_maybe([new]))
    a.udp_recv(addr_b, cmm)  # over UDP: ignored
    assert a.outbox == []
    a.derp_recv(b.node_pub, cmm)
    assert sorted(to for _, to, _ in a.outbox) == sorted([addr_b, new])
    junk = bytes(200)
    assert a.udp_recv(addr_b, junk) == disco.KIND_UNKNOWN


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_micropython_heap_per_peer_path():
    """Heap cost of one peer's path state (3 endpoints, probed, one proven) in MicroPython."""
    code = """
import gc
from tailnet import magicsock as ms
N = 32
eps = [[(bytes(12) + bytes((10, i, j, 1)), 41641 + j) for j in range(3)] for i in range(N)]
keys = [bytes((i,)) * 32 for i in range(N)]
n = [0]
def ids():
    n[0] += 1
    return n[0].to_bytes(12, 'big')
gc.collect()
a0 = gc.mem_alloc()
t = ms.Paths(max_peers=N)
for i in range(N):
    p = t.get(keys[i])
    p.set_endpoints(eps[i])
    pings = p.pings_due(0, ids)
    p.on_pong(pings[0][0], 10, pings[0][1])
    p.route(20)
gc.collect()
print((gc.mem_alloc() - a0) // N)
"""
    per = int(run_mpy(code).stdout.split()[0])
    print("heap per peer path (3 endpoints, 2 pings pending, 1 proven): %d bytes" % per)
    assert per < 2048


def test_pump_drains_outbox_to_derp_and_udp():
    import asyncio

    a, b, addr_a, addr_b, clock, disco = conns()
    sent = []

    class D:
        async def send(self, dst, pkt):
            sent.append(("derp", dst))
            return True

    async def run():
        t = asyncio.create_task(ms.pump(a, D(), lambda addr, p: sent.append(("udp", addr))))
        await asyncio.sleep(0)
        a.send_wg(b.node_pub, b"\x04\x00\x00\x00" + bytes(28))  # DERP + ping to addr_b
        for _ in range(10):
            await asyncio.sleep(0)
        t.cancel()

    asyncio.run(run())
    assert ("derp", b.node_pub) in sent and ("udp", addr_b) in sent and not a.outbox


def test_dataplane_endpoint_report():
    from tailnet import magicsock_run

    class N:
        control_url = "https://x"
        reported = None

        def set_endpoints(self, eps, types):
            self.reported = (eps, types)

    dp = magicsock_run.DataPlane(N(), udp_port=41641, bind="127.0.0.1")
    assert dp.derp_tls and dp.local_ips == ("127.0.0.1",)
    dp.udp = object()
    assert dp.endpoints() == [("127.0.0.1:41641", 1)]
    dp.mapped = (b"\x00" * 10 + b"\xff\xff" + bytes((127, 0, 0, 1)), 41641)
    assert dp.endpoints() == [("127.0.0.1:41641", 1)]  # same as local: not repeated
    dp.mapped = (b"\x00" * 10 + b"\xff\xff" + bytes((203, 0, 113, 7)), 1234)
    dp._report_endpoints()
    assert dp.node.reported == (["127.0.0.1:41641", "203.0.113.7:1234"], [1, 2])
    assert magicsock_run._is_ip4("10.0.0.1") and not magicsock_run._is_ip4("localhost")
    assert not magicsock_run.DataPlane(N(), bind="0.0.0.0").local_ips


def test_conn_answers_call_me_maybe_after_its_pings_once_per_interval():
    a, b, addr_a, addr_b, clock, disco = conns()
    a.my_eps = [(C[0], 4444)]
    cmm = b.disco.seal(a.disco.pub, disco.call_me_maybe([]))
    a.derp_recv(b.node_pub, cmm)
    vias = [v for v, _, _ in a.outbox]
    assert vias == [ms.VIA_UDP, ms.VIA_DERP]  # ping b's endpoint first, then our CallMeMaybe
    assert b.disco.open(a.outbox[1][2])[1] == (disco.CALL_ME_MAYBE, [(C[0], 4444)])
    a.outbox.clear()
    clock[0] += 1000
    a.derp_recv(b.node_pub, cmm)  # within PING_INTERVAL: pings only
    assert [v for v, _, _ in a.outbox] == [ms.VIA_UDP]
    a.outbox.clear()
    clock[0] += ms.PING_INTERVAL
    a.derp_recv(b.node_pub, cmm)
    assert [v for v, _, _ in a.outbox] == [ms.VIA_UDP, ms.VIA_DERP]
    # two nodes: a's own CallMeMaybe is answered by b once, and a does not answer back
    a2, b2, _, _, clock2, _ = conns()
    a2.my_eps, b2.my_eps = [(A[0], 1111)], [(B[0], 2222)]
    a2.send_call_me_maybe(b2.node_pub, a2.my_eps)
    for _ in range(3):
        deliver(a2, b2, (A[0], 1111), udp_ok=False)
        deliver(b2, a2, (B[0], 2222), udp_ok=False)
    assert a2.outbox == [] and b2.outbox == []
    # no endpoints of our own (DERP only): nothing to offer, no answer
    b.outbox.clear()
    b.derp_recv(a.node_pub, a.disco.seal(b.disco.pub, disco.call_me_maybe([])))
    assert [v for v, _, _ in b.outbox] == [ms.VIA_UDP]


def test_conn_punches_back_on_derp_ping_without_direct_path():
    a, b, addr_a, addr_b, clock, disco = conns()
    b.my_eps = [(B[0], 2222)]

    def derp_ping():
        b.outbox.clear()
        b.derp_recv(a.node_pub, a.disco.seal(b.disco.pub, disco.ping(os.urandom(12), a.node_pub)))
        return [(v, to) for v, to, _ in b.outbox]

    # pong over DERP, then pings to a's endpoint (opening our NAT), then our CallMeMaybe
    assert derp_ping() == [(ms.VIA_DERP, a.node_pub), (ms.VIA_UDP, addr_a), (ms.VIA_DERP, a.node_pub)]
    assert a.disco.open(b.outbox[2][2])[1] == (disco.CALL_ME_MAYBE, [(B[0], 2222)])
    clock[0] += 1000
    assert derp_ping() == [(ms.VIA_DERP, a.node_pub)]  # rate-limited
    # with a proven direct path nothing more than the pong
    clock[0] += ms.PING_INTERVAL
    p = b.paths.get(a.node_pub)
    p.best, p.trust_until = addr_a, clock[0] + 10000
    assert derp_ping() == [(ms.VIA_DERP, a.node_pub)]
