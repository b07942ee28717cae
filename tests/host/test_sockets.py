"""tailnet.sockets in the host firmware, without a tailnet: two real Netstacks wired back to
back (a minimal stand-in for the data plane moves their packets), a NetMap built from packed
records. Covers the asyncio streams (readline, readexactly, read to EOF, readinto,
peername), start_server/open_connection by name, ECONNREFUSED / EHOSTUNREACH / EADDRINUSE,
UDP sendto/recvfrom, resolve() and whois()."""
import pytest

from mpy import run_mpy

SETUP = r"""
import asyncio, errno
from tailnet import sockets as ts, ipaddr, netmap as nm
from tailnet.netstack import Netstack
ALLOW = [{"SrcIPs": ["*"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 65535}}]}]

def rec(i, name, addrs):
    r = nm.new_record()
    r[nm.ID] = i
    r[nm.KEY] = bytes([i]) * 32
    r[nm.ADDRS] = ipaddr.pack_prefixes(addrs)
    r[nm.NAME] = name
    return nm.pack(r)

class Link:            # stands in for DataPlane: what one netstack sends, the other receives
    def __init__(self, node, addrs):
        self.node = node
        self.ns = Netstack(addrs)
        self.ns.set_filter(ALLOW)
        self.my = [ipaddr.parse_ip(a) for a in addrs]
        self._task = True
        self.other = None
    def route(self, dst):
        return 1 if bytes(dst) in self.other.my else None
    def flush(self):
        p = self.ns.pop_out()
        while p is not None:
            self.other.ns.input(p, 0, len(p), 0)
            self.other.flush()
            p = self.ns.pop_out()

class Node:
    def __init__(self, me, peers, addrs, user):
        self.netmap = nm.NetMap()
        self.netmap.self_node = me
        for r in peers:
            self.netmap.peers[nm.rec_id(r)] = r
        self.state = "Running"
        self.user = user
        self.cadata = None
        self.dataplane = Link(self, addrs)
    def log(self, msg, level=1):
        print("log:", msg)

a_rec = rec(1, "alpha.tail.example.com.", ["100.64.0.1/32", "fd7a:115c:a1e0::1/128"])
b_rec = rec(2, "beta.tail.example.com.", ["100.64.0.2/32", "fd7a:115c:a1e0::2/128"])
A = Node(a_rec, [b_rec], ["100.64.0.1", "fd7a:115c:a1e0::1"], "alice")
B = Node(b_rec, [a_rec], ["100.64.0.2", "fd7a:115c:a1e0::2"], "bob")
A.dataplane.other, B.dataplane.other = B.dataplane, A.dataplane
"""


def mpy(code):
    p = run_mpy(SETUP + code, timeout=60)
    return p.stdout


def test_resolve_and_whois():
    out = mpy(r"""
print(ts.resolve("beta", A), ts.resolve("BETA.tail.example.com.", A), ts.resolve("beta", A, family=6))
print(ts.resolve("100.64.0.9", A), ts.resolve("alpha", A))
w = ts.whois(("100.64.0.2", 80), A)
print(w["name"], w["fqdn"], w["addresses"], w["self"], w["user"], w["id"])
w = ts.whois("fd7a:115c:a1e0::1", A)
print(w["name"], w["self"], w["user"])
print(ts.whois("100.64.0.77", A))
try:
    ts.resolve("gamma", A)
except OSError as e:
    print("gamma", e.errno == errno.EHOSTUNREACH)
""")
    assert out.split("\n")[:5] == [
        "100.64.0.2 100.64.0.2 fd7a:115c:a1e0::2",
        "100.64.0.9 100.64.0.1",
        "beta beta.tail.example.com ['100.64.0.2', 'fd7a:115c:a1e0::2'] False None 2",
        "alpha True alice",
        "None",
    ], out
    assert "gamma True" in out


def test_streams_and_errors():
    out = mpy(r"""
async def handler(r, w):
    peer = w.get_extra_info("peername")
    line = await r.readline()
    rest = await r.readexactly(5)
    w.write(b"got " + line.strip() + rest + b" from " + peer[0].encode() + b"\n")
    w.write(b"x" * 10000)
    await w.drain()
    w.close()
    await w.wait_closed()

async def main():
    srv = await ts.start_server(handler, 80, node=B)
    try:
        await ts.start_server(handler, 80, node=B)
    except OSError as e:
        print("inuse", e.errno == errno.EADDRINUSE)
    for host in ("beta", "fd7a:115c:a1e0::2"):
        r, w = await ts.open_connection(host, 80, node=A)
        w.write(b"hello\nworld")
        await w.drain()
        print(host, (await r.readline()).decode().strip(), w.get_extra_info("peername"))
        buf = bytearray(100)
        k = await r.readinto(buf)
        rest = await r.read()
        print("body", k + len(rest), bytes(buf[:k]) + rest == b"x" * 10000)
        print("eof", await r.read(10) == b"")
        w.close()
        await w.wait_closed()
    try:
        await ts.open_connection("100.99.0.1", 81, node=A)
    except OSError as e:
        print("unreach", e.errno == errno.EHOSTUNREACH)
    r, w = await ts.open_connection("beta", 80, node=A)
    w.write(b"x\n")          # readexactly(5) wants 5 bytes after the line; we send 2 and close
    w.write(b"ab")
    await w.drain()
    w.close()
    try:       # the handler's readexactly(5) raises EOFError: the server aborts (RST)
        print("short", await r.readline())
    except OSError as e:
        print("reset", e.errno == errno.ECONNRESET)
    srv.close()
    await srv.wait_closed()
    ua = await ts.udp_async(5000, node=A)
    ub = await ts.udp_async(6000, node=B)
    ua.sendto(b"dgram", ("beta", 6000))
    d, addr = await ub.arecvfrom(1)
    ub.sendto(d.upper(), addr)
    print("udp", await ua.arecvfrom(1))
    try:
        await ub.arecvfrom(0.05)
    except OSError as e:
        print("udp timeout", e.errno == errno.ETIMEDOUT)
    print("done")

asyncio.run(main())
""")
    lines = out.split("\n")
    assert "inuse True" in lines, out
    assert "beta got helloworld from 100.64.0.1 ('100.64.0.2', 80)" in lines, out
    assert "fd7a:115c:a1e0::2 got helloworld from fd7a:115c:a1e0::1 ('fd7a:115c:a1e0::2', 80)" in lines, out
    assert lines.count("body 10000 True") == 2 and lines.count("eof True") == 2, out
    assert "unreach True" in lines and "reset True" in lines
    assert "log: sockets: handler failed: EOFError()" in lines, out
    assert "udp (b'DGRAM', ('100.64.0.2', 6000))" in lines, out
    assert "udp timeout True" in lines and "done" in lines, out


def test_connect_refused_by_netstack():
    out = mpy(r"""
async def main():
    try:
        await ts.open_connection("beta", 81, node=A, timeout=2)
    except OSError as e:
        print("refused", e.errno == errno.ECONNREFUSED)
asyncio.run(main())
""")
    assert "refused True" in out, out


@pytest.mark.parametrize("heap", ["128K"])
def test_streams_small_heap(heap):
    """Both netstacks, a connection and 64 KiB through it inside a 128 KiB heap."""
    p = run_mpy(SETUP + r"""
async def handler(r, w):
    n = 0
    while True:
        d = await r.read(1024)
        if not d:
            break
        n += len(d)
    w.write(("%d\n" % n).encode())
    await w.drain()
    w.close()

async def main():
    await ts.start_server(handler, 80, node=B)
    r, w = await ts.open_connection("beta", 80, node=A)
    blk = b"y" * 1024
    for _ in range(64):
        w.write(blk)
        await w.drain()
    w.c.close()          # half-close: FIN after the data, reply still readable
    A.dataplane.flush()
    print("count", (await r.readline()).decode().strip())

asyncio.run(main())
""", heapsize=heap, timeout=60)
    assert "count 65536" in p.stdout, p.stdout


def test_blocking_forms():
    """listen/accept, dial, send/recv/readline/close, udp recvfrom timeout: no asyncio code."""
    out = mpy(r"""
l = ts.listen(7000, node=B)
c = ts.dial("beta.tail.example.com", 7000, node=A)   # the netstack completes the handshake
s, addr = l.accept(timeout=1)
print("accepted", addr, c.getpeername())
c.send(b"line one\nrest")
print("readline", s.readline())
s.send(b"pong" * 1000)
got = b""
while len(got) < 4000:
    got += c.recv(1500)
print("recv", len(got), got == b"pong" * 1000)
c.close()
print("after close", s.recv(100), s.recv(100))
s.close()
try:
    l.accept(timeout=0.1)
except OSError as e:
    print("accept timeout", e.errno == errno.ETIMEDOUT)
l.close()
u = ts.udp(node=A)
try:
    u.recvfrom(0.05)
except OSError as e:
    print("recvfrom timeout", e.errno == errno.ETIMEDOUT)
""")
    lines = out.split("\n")
    assert lines[0].startswith("accepted ('100.64.0.1', ") and lines[0].endswith(") ('100.64.0.2', 7000)"), out
    assert "readline b'line one\\n'" in lines and "recv 4000 True" in lines, out
    assert "after close b'rest' b''" in lines, out
    assert "accept timeout True" in lines and "recvfrom timeout True" in lines, out
