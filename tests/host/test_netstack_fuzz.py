"""Property tests: malformed IPv4/IPv6/ICMP/UDP/TCP/TSMP packets never raise out of the
netstack (CPython, hypothesis). Mutated packets get their checksums repaired half of the
time so that the deeper parsers (TCP options, state machine, UDP queues) are reached."""
import os
import sys

from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.all import ICMP, IP, TCP, UDP, IPv6, ICMPv6EchoRequest, raw

from mpy import REPO

sys.path.insert(0, os.path.join(REPO, "modules"))
sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
from tailnet import ip  # noqa: E402
from netstack_link import A4, A6, B4, B6, Link, pair  # noqa: E402

PROPS = settings(max_examples=1000, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

SEEDS = [
    raw(IP(src=B4, dst=A4) / UDP(sport=9, dport=7) / b"hello"),
    raw(IPv6(src=B6, dst=A6) / UDP(sport=9, dport=7) / b"hello"),
    raw(IP(src=B4, dst=A4) / TCP(sport=9, dport=80, flags="S", options=[("MSS", 1000), ("NOP", None),
                                                                       ("WScale", 3)])),
    raw(IPv6(src=B6, dst=A6) / TCP(sport=9, dport=80, flags="S")),
    raw(IP(src=B4, dst=A4) / TCP(sport=9, dport=80, flags="PA") / b"data"),
    raw(IP(src=B4, dst=A4) / ICMP(type=8) / b"ping"),
    raw(IPv6(src=B6, dst=A6) / ICMPv6EchoRequest(data=b"ping")),
    raw(IP(src=B4, dst=A4, proto=99) / b"p12345678"),
]


def fix_checksums(b):
    p = ip.Pkt()
    b = bytearray(b)
    if len(b) >= 20 and b[0] >> 4 == 4:
        hl = (b[0] & 15) * 4
        if 20 <= hl <= len(b):
            b[10] = b[11] = 0
            c = ip.finish(ip.csum(b, 0, hl, 0))
            b[10], b[11] = c >> 8, c & 255
    if ip.parse(p, b, 0, len(b)) == ip.OK:
        at = {ip.P_TCP: 16, ip.P_UDP: 6, ip.P_ICMP6: 2}.get(p.proto)
        if at is not None and p.l4len >= at + 2:
            b[p.l4 + at] = b[p.l4 + at + 1] = 0
            acc = ip.csum(b, p.src, 2 * p.alen, p.proto + p.l4len)
            c = ip.finish(ip.csum(b, p.l4, p.l4len, acc))
            b[p.l4 + at], b[p.l4 + at + 1] = c >> 8, c & 255
    return bytes(b)


def stack():
    a, b = pair()
    link = Link(a, b)
    lst = a.tcp_listen(80)
    a.udp(7)
    c = b.tcp_connect(A4, 80, 0)            # an established connection to attack
    link.run(lambda: lst.q and c.established(), 5000)
    lst.accept()
    return a, b, link


mutation = st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=8)


@PROPS
@given(seed=st.sampled_from(SEEDS), muts=mutation, cut=st.integers(0, 300), fix=st.booleans(),
       extra=st.binary(max_size=40))
def test_mutated_packets_never_raise(seed, muts, cut, fix, extra):
    a, b, link = stack()
    pk = bytearray(seed + extra)
    for i, v in muts:
        if i < len(pk):
            pk[i] = v
    pk = pk[:max(cut, 1)] if cut < len(pk) else pk
    if fix:
        pk = fix_checksums(pk)
    a.input(pk, 0, len(pk), 10)
    a.input(memoryview(bytes(pk)), 0, len(pk), 10)       # memoryview input works too
    a.tick(10_000)
    link.run(lambda: False, 50)
    a.stats()


@PROPS
@given(data=st.binary(max_size=120), ver=st.sampled_from([0x45, 0x46, 0x4F, 0x60, 0x00]))
def test_random_bytes_never_raise(data, ver):
    a, b, link = stack()
    pk = bytes([ver]) + data
    a.input(pk, 0, len(pk), 1)
    pk = fix_checksums(pk)
    a.input(pk, 0, len(pk), 1)
    a.input(pk, 0, min(len(pk), 19), 1)


@settings(PROPS, max_examples=400)
@given(flags=st.integers(0, 63), dseq=st.integers(-70000, 70000), dack=st.integers(-70000, 70000),
       wnd=st.integers(0, 65535), payload=st.binary(max_size=64),
       opts=st.binary(max_size=20))
def test_tcp_segments_against_established_connection(flags, dseq, dack, wnd, payload, opts):
    """Forged in-connection segments (valid checksums) never raise, and the stack keeps working."""
    a, b, link = stack()
    c = next(iter(b.tcp.conns))
    opts = opts + b"\x00" * (-len(opts) % 4)
    seg = IP(src=B4, dst=A4) / TCP(sport=c.lport, dport=80, seq=(c.snd_nxt + dseq) & 0xFFFFFFFF,
                                   ack=(c.rcv_nxt + dack) & 0xFFFFFFFF, flags=flags, window=wnd,
                                   options=[]) / payload
    pk = bytearray(raw(seg))
    if opts:
        pk = pk[:40] + opts + pk[40:]
        pk[32] = ((20 + len(opts)) // 4) << 4
        pk[2:4] = len(pk).to_bytes(2, "big")
        pk = fix_checksums(pk)
    a.input(pk, 0, len(pk), 20)
    link.run(lambda: False, 3000)
    # the stack still accepts a brand-new connection afterwards
    c2 = b.tcp_connect(A4, 80, link.now)
    assert link.run(lambda: c2.established(), 5000)


FW_FUZZ = r"""
import sys
sys.path.append(%(bench)r)
from netstack_link import *
# capture real traffic of a session (UDP, ICMP, TCP handshake, data, FIN) as seeds
a, b = pair()
link = Link(a, b)
seeds = []
orig = b.input
def cap(buf, off, n, now=None):
    seeds.append(bytes(buf[off:off + n]))
    orig(buf, off, n, now)
b.input = cap
b.udp(7)
l = b.tcp_listen(80)
a.udp(9).sendto(b"x" * 40, B6, 7)
a.ping(B4, 1)
c = a.tcp_connect(B4, 80, 0)
link.run(lambda: l.q, 1000)
s = l.accept()
c.send(b"y" * 3000)
c.close()
link.run(lambda: s.recv(5000) == b"", 1000)
b.input = orig
rng = Rng(99)
errors = 0
for k in range(%(n)d):
    p = bytearray(seeds[k %% len(seeds)])
    for j in range(1 + rng.next() %% 4):
        p[rng.next() %% len(p)] = rng.next() & 255
    if k %% 3 == 0:
        p = p[:rng.next() %% (len(p) + 1)]
    try:
        b.input(p, 0, len(p), link.now)
        b.tick(link.now + 5000)
    except Exception as e:
        errors += 1
        print("EXC", repr(e))
print("seeds", len(seeds) >= 8, "errors", errors)
"""


def test_firmware_mutated_packets_never_raise(micropython):
    from mpy import run_mpy
    p = run_mpy(FW_FUZZ % {"bench": os.path.join(REPO, "tools", "bench"), "n": 5000}, timeout=300)
    assert p.stdout.strip().split("\n")[-1] == "seeds True errors 0"
