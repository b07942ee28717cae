"""tailnet.sockets (the user API) in the host firmware against a real tailscaled peer
(tools/testnet.py; node run inside the testnet's network namespace):
- examples/host_demo.py (under -X heapsize=HEAP) serves HTTP: the peer fetches it with `tailscale nc` over IPv4 and
  IPv6, the page names the caller (whois), and the node's ICMP pings to the peer are answered;
- the node dials services behind the peer (tailscaled in userspace mode forwards tailnet TCP
  to its loopback): blocking dial() by IP, open_connection() by short name and by FQDN,
  1 MiB download and upload with SHA-256 match, UDP echo through udp(), resolve()/whois(),
  and the errno conventions (ECONNREFUSED, EHOSTUNREACH, EADDRINUSE)."""
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from mpy import MICROPYTHON, REPO
from _proc import LineProc

sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
from dataplane_harness import ECHO_SERVER  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.slow]

MIB = 1 << 20
# A roomy cap: these tests are about behaviour. The demo scenario's heap floor is measured in
# test_demo_heap.py (the 40048-byte allocations seen at small caps on this 64-bit build are
# Debian mbedTLS 2.28's HAVEGE state inside each tls.SSLContext).
HEAP = os.environ.get("TAILNET_DEMO_HEAP", "256K")
BLOCK = bytes(range(256)) * 4 + b"tailnet"     # 1031 bytes: odd, so shifted data shows


def pattern(n):
    return (BLOCK * (n // len(BLOCK) + 1))[:n]


# CPython TCP service run inside the netns on 127.0.0.1 (reached through the peer):
#   "GET n\n" -> n pattern bytes;  "PUT n\n" + n bytes -> sha256 hex;  "HELLO\n" -> "hi <line>"
SERVICE = r"""
import hashlib, socket, sys, threading
BLOCK = bytes(range(256)) * 4 + b"tailnet"
def pattern(n):
    return (BLOCK * (n // len(BLOCK) + 1))[:n]
def handle(c):
    try:
        f = c.makefile("rb")
        w = f.readline().split()
        if w[0] == b"GET":
            c.sendall(pattern(int(w[1])))
        elif w[0] == b"PUT":
            h = hashlib.sha256(); n = int(w[1])
            while n:
                d = f.read(min(n, 65536))
                if not d:
                    break
                h.update(d); n -= len(d)
            c.sendall(h.hexdigest().encode() + b"\n")
        else:
            c.sendall(b"hi " + b" ".join(w) + b"\n")
    finally:
        c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"""

# The node: blocking forms first (tailnet.up, dial, udp), then asyncio streams.
NODE = r"""
import errno, hashlib, json, sys
import tailnet
from tailnet import sockets as ts
BLOCK = bytes(range(256)) * 4 + b"tailnet"
def out(*a):
    print(*a)
def retry(f, *a):
    for i in range(8):
        try:
            return f(*a)
        except OSError as e:
            out("RETRY", repr(e))
    return f(*a)
ca = open(CFG["ca"], "rb").read()
if CFG["udp"]:
    ts.configure(udp_port=CFG["udp"], bind="127.0.0.1")
n = tailnet.up(CFG["authkey"], CFG["url"], "mpsock", CFG["state"], timeout=60, verbose=0, cadata=ca)
out("UP", " ".join(a.split("/")[0] for a in n.netmap.addresses()))
peer = CFG["peer"]
ip = ts.resolve(peer)
out("RESOLVE", ip, ts.resolve(peer, family=6), ts.resolve(CFG["peer_fqdn"]))
w = ts.whois(ip)
out("WHOIS", json.dumps([w["name"], w["fqdn"], w["addresses"], w["self"]]))
me = ts.whois(n.netmap.addresses()[0].split("/")[0])
out("WHOAMI", me["name"], me["self"])
ms = retry(ts.ping, ip)
out("PING", ms)
# blocking dial by IP
c = retry(ts.dial, ip, CFG["port"])
c.send(b"HELLO blocking\n")
got = b""
while True:
    d = c.recv(100)
    if not d:
        break
    got += d
c.close()
out("DIAL", got.decode().strip())
# UDP echo
u = ts.udp()
u.sendto(b"ping-udp", (peer, CFG["udp_port"]))
d, a = u.recvfrom(5)
out("UDP", d.decode(), a[0] == ip, a[1] == CFG["udp_port"])
u.close()
# errors
def err(f, *a):
    try:
        f(*a)
        return "none"
    except OSError as e:
        return str(e.errno)
out("ERR refused", err(ts.dial, ip, CFG["closed_port"]), errno.ECONNREFUSED)
out("ERR noname", err(ts.resolve, "nosuchnode"), errno.EHOSTUNREACH)
out("ERR noroute", err(ts.dial, "100.100.100.100", 80), errno.EHOSTUNREACH)
l = ts.listen(8080)
out("ERR inuse", err(ts.listen, 8080), errno.EADDRINUSE)
l.close()

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

async def streams():
    r, w = await ts.open_connection(peer, CFG["port"])
    w.write(b"HELLO by-name\n")
    await w.drain()
    out("OPEN", (await r.readline()).decode().strip(), w.get_extra_info("peername")[0] == ip)
    w.close()
    await w.wait_closed()
    # 1 MiB download by FQDN
    r, w = await ts.open_connection(CFG["peer_fqdn"], CFG["port"])
    w.write(("GET %d\n" % CFG["size"]).encode())
    await w.drain()
    h = hashlib.sha256()
    total = 0
    buf = bytearray(4096)
    while True:
        k = await r.readinto(buf)
        if not k:
            break
        h.update(buf[:k])
        total += k
    w.close()
    out("DOWN", total, "".join("%02x" % b for b in h.digest()))
    # 1 MiB upload
    r, w = await ts.open_connection(ip, CFG["port"])
    w.write(("PUT %d\n" % CFG["size"]).encode())
    blk = BLOCK * 32
    left = CFG["size"]
    while left:
        k = min(left, len(blk))
        w.write(blk[:k])
        await w.drain()
        left -= k
    out("UP1M", (await r.readline()).decode().strip())
    w.close()
    await w.wait_closed()

tailnet._run(streams())
out("DONE")
tailnet.down()
"""


Proc = LineProc   # wait(prefix, timeout): the other interop tests import this name


def nc(net, peer, ip, port, request, timeout=30):
    """`tailscale nc` on the peer; stdin stays open until the node closes (nc exits on stdin EOF)."""
    from testnet import GOBIN
    cmd = [os.path.join(GOBIN, "tailscale"), "--socket=" + peer.sock, "nc", ip, str(port)]
    p = subprocess.Popen(net.exec_prefix + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    p.stdin.write(request)
    p.stdin.flush()
    t = threading.Timer(timeout, p.kill)
    t.start()
    data = p.stdout.read()
    t.cancel()
    p.stdin.close()
    p.wait()
    return data


def node_env():
    return dict(os.environ, MICROPYPATH=".frozen")


def test_peer_fetches_page_served_by_example(tmp_path, micropython):
    from testnet import Testnet

    with Testnet(peers=1) as net:
        peer = net.peers[0]
        env = dict(node_env(), TAILNET_AUTHKEY=net.authkey(), TAILNET_CONTROL_URL=net.control_url,
                   TAILNET_CA=net.ca_der, TAILNET_HOSTNAME="mpweb", TAILNET_PING=peer.name,
                   TAILNET_RUN_SECONDS="90", TAILNET_STATE=str(tmp_path / "node.state"))
        node = Proc(net.exec_prefix + [MICROPYTHON, "-X", "heapsize=" + HEAP,
                                       os.path.join(REPO, "examples", "host_demo.py")], env)
        try:
            up = node.wait("up: ", 90).split()
            ip4, ip6 = up[3], up[4]
            ping = node.wait("ping: %s (" % peer.name, 60)
            assert "answered" in ping, node.lines
            net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
            for ip in (ip4, ip6):
                resp = b""
                for _ in range(5):
                    t0 = time.time()
                    resp = nc(net, peer, ip, 80, b"GET / HTTP/1.0\r\n\r\n")
                    if resp:
                        break
                    time.sleep(1)
                print("tailscale nc %s 80: %d bytes in %.2f s" % (ip, len(resp), time.time() - t0))
                head, _, body = resp.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.0 200 OK"), (resp, node.lines[-20:])
                assert body.startswith(b"Hello peer1 (%s)" % peer.ip4.encode() if ip == ip4 else
                                       b"Hello peer1 (%s)" % peer.ip6.encode()), body
                assert b"Content-Length: %d" % len(body) in head
            print(ping)
        finally:
            node.kill()


@pytest.mark.parametrize("path", ["derp", "udp"])
def test_node_dials_services_behind_peer(tmp_path, micropython, path):
    """path: the data plane DERP only, or with a UDP socket (direct path once disco finds it)."""
    from testnet import Testnet

    with Testnet(peers=1) as net:
        peer = net.peers[0]
        port = net.port()
        udp_port = net.port(socket.SOCK_DGRAM)
        closed = port + 1
        svc = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", SERVICE, str(port)])
        echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(udp_port)])
        fqdn = peer.status()["Self"]["DNSName"].rstrip(".")
        cfg = {"authkey": net.authkey(), "url": net.control_url, "state": str(tmp_path / "s"),
               "ca": net.ca_der, "peer": peer.name, "peer_fqdn": fqdn, "port": port,
               "udp_port": udp_port, "closed_port": closed, "size": MIB,
               "udp": net.port(socket.SOCK_DGRAM) if path == "udp" else None}
        node = Proc(net.exec_prefix + [MICROPYTHON, "-c", "CFG = %r\n%s" % (cfg, NODE)], node_env())
        try:
            node.wait("UP", 90)
            assert node.wait("RESOLVE", 10).split()[1:] == [peer.ip4, peer.ip6, peer.ip4]
            w = node.wait("WHOIS", 10)
            assert w == 'WHOIS ["peer1", "%s", ["%s", "%s"], false]' % (fqdn, peer.ip4, peer.ip6), w
            assert node.wait("WHOAMI", 10) == "WHOAMI mpsock True"
            print(node.wait("PING", 60))
            assert node.wait("DIAL", 60) == "DIAL hi HELLO blocking"
            assert node.wait("UDP", 30) == "UDP ping-udp True True"
            for what in ("refused", "noname", "noroute", "inuse"):
                f = node.wait("ERR " + what, 60).split()
                assert f[2] == f[3], (what, f, node.lines[-20:])
            assert node.wait("OPEN", 60) == "OPEN hi HELLO by-name True"
            t0 = time.time()
            down = node.wait("DOWN", 180).split()
            t1 = time.time()
            assert down[1:] == [str(MIB), hashlib.sha256(pattern(MIB)).hexdigest()], down
            up = node.wait("UP1M", 180).split()
            t2 = time.time()
            assert up[1] == hashlib.sha256(pattern(MIB)).hexdigest(), up
            print(path, "1 MiB node <- peer in %.1f s (%.0f KiB/s), node -> peer in %.1f s (%.0f KiB/s)" % (
                t1 - t0, 1024 / (t1 - t0), t2 - t1, 1024 / (t2 - t1)))
            node.wait("DONE", 30)
        finally:
            node.kill()
            for p in (svc, echo):
                p.kill()
                p.wait()
