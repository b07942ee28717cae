"""Issue #6: a UDP datagram round trip works in both directions, with a real tailscaled peer.

Peer -> node: a userspace tailscaled has no UDP client of its own, so the peer runs with
`--socks5-server` (tools/testnet.py add_peer(socks5=True)) and a CPython SOCKS5 client
(UDP ASSOCIATE, RFC 1928; tailscaled's net/socks5 relays the datagrams through its
netstack into the tailnet) sends datagrams to the node's tailnet.sockets udp(PORT)
endpoint over IPv4 and IPv6; the node echoes each one back to the sender; the client
checks every echo byte for byte.
Node -> peer: the node then sends to a UDP echo service behind the peer (tailscaled
forwards tailnet UDP to its loopback) and gets the echo back.

Both over DERP only (derp_only testnet, node without a UDP socket) and over the direct
path (node with a UDP socket; `tailscale ping` reports the direct address). Afterwards
tailscaled's status names the path it used (CurAddr = the node's socket, or DERP only)."""
import json
import os
import socket
import subprocess
import sys

import pytest

from mpy import MICROPYTHON, REPO
from test_sockets_interop import Proc, node_env

sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
from dataplane_harness import ECHO_SERVER  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.slow]

NODE_PORT = 7777
SIZES = [1, 64, 512, 1200]       # 1200 + 28 fits the 1280-byte tailnet MTU over IPv4 and IPv6
ROUNDS = int(os.environ.get("TAILNET_UDP_ROUNDS", "5"))    # datagrams per size and family

# Node: echo datagrams from the peer until "END" (or 120 s of silence), then one round trip of its own to the peer.
NODE = r"""
import json
import tailnet
from tailnet import sockets as ts
ca = open(CFG["ca"], "rb").read()
if CFG["udp"]:
    ts.configure(udp_port=CFG["udp"], bind="127.0.0.1")
n = tailnet.up(CFG["authkey"], CFG["url"], "mpudp", CFG["state"], timeout=60, verbose=0, cadata=ca)
u = ts.udp(CFG["port"])
print("READY", " ".join(a.split("/")[0] for a in n.netmap.addresses()))
while True:
    try:
        d, a = u.recvfrom(120)
    except OSError:
        break
    if d == b"END":
        break
    u.sendto(d, a)
    print("ECHOED", len(d), a[0], a[1])
dp, ns = tailnet._run(ts.stack_async())
print("STATS", json.dumps({"ns": ns.stats(), "dp": dp.stats, "sock": [u.s.received, u.s.dropped],
                           "ms": dp.transport.conn.stats}))
u.close()
c = ts.udp()
ok = False
for i in range(5):
    c.sendto(b"node-to-peer %d" % i, (CFG["peer"], CFG["peer_port"]))
    try:
        d, a = c.recvfrom(5)
    except OSError:
        continue
    ok = d == b"node-to-peer %d" % i and a[1] == CFG["peer_port"]
    break
print("NODE_UDP", ok, i)
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
async def idle():
    await asyncio.sleep(120)
tailnet._run(idle())     # keep the data plane up for the path check; killed by the test
"""

# SOCKS5 UDP ASSOCIATE client (runs inside the testnet namespace): argv = socks port,
# JSON list of [dst ip, dst port, size, tries]. Prints one JSON line: [late duplicate echoes
# (of resent datagrams), [[ip, size, ok, echoed len, attempts, rtt ms], ...]].
CLIENT = r"""
import ipaddress, json, os, socket, struct, sys, time
port, jobs = int(sys.argv[1]), json.loads(sys.argv[2])
t = socket.create_connection(("127.0.0.1", port), timeout=10)
t.sendall(b"\x05\x01\x00")
assert t.recv(2) == b"\x05\x00"
t.sendall(b"\x05\x03\x00\x01" + bytes(4) + bytes(2))       # UDP ASSOCIATE, any client addr
r = t.recv(4)
assert r[:2] == b"\x05\x00", r
alen = {1: 4, 4: 16}[r[3]]
rest = t.recv(alen + 2)
relay = (str(ipaddress.ip_address(rest[:alen])), struct.unpack(">H", rest[alen:])[0])
u = socket.socket(socket.AF_INET if alen == 4 else socket.AF_INET6, socket.SOCK_DGRAM)
u.settimeout(3)
out = []
OLD = set()
stale = 0
for ip, dport, size, tries in jobs:
    a = ipaddress.ip_address(ip)
    hdr = b"\0\0\0" + (b"\x01" if a.version == 4 else b"\x04") + a.packed + struct.pack(">H", dport)
    payload = os.urandom(size)
    for _ in range(1000):           # unique per destination, or its echo would look stale
        if hdr + payload not in OLD:
            break
        payload = os.urandom(size)
    res = None
    for k in range(tries):
        t0 = time.time()
        u.sendto(hdr + payload, relay)
        try:
            while True:
                d = u.recv(4096)
                # the relay prefixes the sender's address (the same header as ours)
                if d in OLD:            # late echo of an earlier resent datagram
                    stale += 1
                    continue
                break
        except socket.timeout:
            continue
        res = [d == hdr + payload, len(d) - len(hdr), k + 1, round((time.time() - t0) * 1000, 1)]
        if not res[0]:
            res.append([d[:40].hex(), (hdr + payload)[:40].hex()])
        break
    OLD.add(hdr + payload)
    out.append([ip, size] + (res or [False, 0, tries, None]))
u.sendto(hdr + b"END", relay)
print(json.dumps([stale, out]))
"""


def socks_udp(net, peer, jobs, timeout=300):
    p = net.run([sys.executable, "-c", CLIENT, str(peer.socks5), json.dumps(jobs)], timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def node_seen(peer, name="mpudp"):
    me = [v for v in (peer.status().get("Peer") or {}).values() if v.get("HostName") == name]
    return me and me[0].get("Relay") == "headscale"


def path(peer, ip):
    r = peer.cli("ping", "--c", "10", "--timeout", "3s", ip, check=False, timeout=60)
    return r.stdout + r.stderr


@pytest.mark.parametrize("route", ["derp", "direct"])
def test_peer_initiated_udp_round_trip(tmp_path, micropython, route):
    from testnet import Testnet

    with Testnet(derp_only=(route == "derp")) as net:
        peer = net.add_peer("peer1", socks5=True)
        peer_port = net.port(socket.SOCK_DGRAM)
        echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(peer_port)])
        node_udp = net.port(socket.SOCK_DGRAM) if route == "direct" else None
        jobs = [[fam, NODE_PORT, size, 8 if i == 0 else 3]
                for fam in ("v4", "v6") for size in SIZES for i in range(ROUNDS)]
        cfg = {"authkey": net.authkey(), "url": net.control_url, "state": str(tmp_path / "s"),
               "ca": net.ca_der, "udp": node_udp, "port": NODE_PORT,
               "peer": peer.ip4, "peer_port": peer_port}
        node = Proc(net.exec_prefix + [MICROPYTHON, "-c", "CFG = %r\n%s" % (cfg, NODE)], node_env())
        try:
            ip4, ip6 = node.wait("READY", 120).split()[1:3]
            for j in jobs:
                j[0] = ip4 if j[0] == "v4" else ip6
            # the peer knows the node and its home DERP region (reported by the node to control)
            net.wait_for(lambda: node_seen(peer), timeout=30, what="node and its DERP home in peer status")
            via = ""
            if route == "direct":
                want = "via 127.0.0.1:%d" % node_udp
                for _ in range(5):
                    via = path(peer, ip4)
                    if want in via:
                        break
                assert want in via, via
            stale, res = socks_udp(net, peer, jobs)
            bad = [r for r in res if not r[2]]
            if bad:
                print("FAILED DATAGRAMS", len(bad), bad[:6])
                print("ALL [ip, size, attempts, ms]:", [r[:2] + r[4:6] for r in res])
                print("NODE:\n" + "\n".join(ln for ln in node.lines if not ln.startswith("ECHOED")))
                print("NODE ECHOED 1-byte:", sum(1 for ln in node.lines if ln.startswith("ECHOED 1 ")))
                print("PEER LOG:\n" + net.logs(peer.name, 80))
            assert not bad, (len(bad), bad[:6])
            for r in res:
                assert r[3] == r[1], r          # echoed length = sent length
            # node -> peer round trip
            assert node.wait("NODE_UDP", 60).split()[1] == "True", node.lines[-20:]
            # the node saw each datagram from the peer's own tailnet addresses
            echoed = [ln.split() for ln in node.lines if ln.startswith("ECHOED ")]
            assert len(echoed) >= len(jobs), echoed    # more if a lost echo made the client resend
            assert {e[2] for e in echoed} == {peer.ip4, peer.ip6}, echoed
            assert {int(e[1]) for e in echoed} == set(SIZES), echoed
            st = json.loads([ln for ln in node.lines if ln.startswith("STATS ")][0][6:])
            assert st["ns"]["rx_csum"] == 0 and st["ns"]["rx_bad"] == 0 and st["sock"][1] == 0, st
            ms = st["ms"]      # the node's magicsock: where the WireGuard datagrams came in
            if route == "direct":
                assert ms["wg_in"] - ms["derp_in"] >= len(jobs), ms     # WireGuard over UDP
            else:
                assert ms["derp_in"] >= len(jobs) and ms["udp_in"] == 0, ms
            # the path the peer used: tailscaled's view of the node
            me = [v for v in peer.status()["Peer"].values() if v.get("HostName") == "mpudp"]
            assert me, peer.cli("status")
            cur, relay = me[0].get("CurAddr", ""), me[0].get("Relay", "")
            if route == "direct":
                assert cur == "127.0.0.1:%d" % node_udp, me
            else:
                assert cur == "" and relay == "headscale", me
            rtts = sorted(r[5] for r in res if r[4] == 1)
            print("%s: node magicsock counters %s" % (route, ms))
            print("%s: first datagram echoed after %d attempt(s) (3 s timeout each), last one %.1f ms" % (
                route, res[0][4], res[0][5]))
            print("%s: %d peer-initiated datagrams echoed (v4+v6, %s bytes), %d retries; "
                  "%d late duplicate echoes; RTT ms min %.1f median %.1f max %.1f (SOCKS5 relay included); peer's path: %s" % (
                      route, len(res), SIZES, sum(r[4] - 1 for r in res), stale, rtts[0],
                      rtts[len(rtts) // 2], rtts[-1], cur or "DERP " + relay))
        finally:
            node.kill()
            echo.kill()
            echo.wait()
