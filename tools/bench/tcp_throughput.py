#!/usr/bin/env python3
"""TCP bulk throughput over a real tailnet, our node side by side with tailscaled<->tailscaled,
in the same run, over DERP and over a direct UDP path.

    python3 tools/bench/tcp_throughput.py [--size BYTES] [--paths derp,direct] [--udp N]
                                          [--rcvbuf BYTES] [--json OUT]

For each path a fresh tools/testnet.py tailnet (real Headscale, its embedded DERP, two real
tailscaled peers in userspace-networking mode; `derp` = Testnet(derp_only=True), i.e. the peers
run with TS_DEBUG_NEVER_DIRECT_UDP and our node has no UDP socket). tailscaled in userspace
mode forwards incoming tailnet TCP to services on the loopback of its namespace, so a CPython
GET/PUT service (tests/host/test_sockets_interop.SERVICE) listens on 127.0.0.1:PORT in the netns
and is reached through peer2's tailnet address:

  * tailscaled <- tailscaled: `tailscale nc <peer2> PORT` on peer1, "GET n": n bytes to peer1;
  * tailscaled -> tailscaled: same, "PUT n" + n bytes, answer = SHA-256;
  * node <- peer2 / node -> peer2: the host firmware (build/host/micropython, tailnet.up +
    tailnet.sockets.dial) does the same GET and PUT to peer2.

UDP echo rate (--udp N, default 2000; 0 skips it): a UDP echo service on the netns loopback is
reached through peer2; the node sends N 64-byte datagrams with at most 8 outstanding
(tailnet.sockets.udp), and so does a CPython client through the SOCKS5 server (UDP ASSOCIATE) of
a third tailscaled, the way a userspace-networking tailscaled sends UDP into the tailnet.

Every transfer is checked (byte count and SHA-256; exit status 1 if one fails). Times are wall
clock from the request to the last byte / the answer, connection setup included for both (for
tailscaled also the start of the `tailscale nc` process, tens of ms). The path actually used is
read from `tailscale status --json` (CurAddr set = direct) and printed next to each figure.
--rcvbuf N sets the node's TCP buffers (default 4096: the node's download is window-bound).
"""
import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.join(REPO, "tests", "host"))
from testnet import GOBIN, Testnet  # noqa: E402
from test_sockets_interop import SERVICE, Proc, node_env, pattern  # noqa: E402
from mpy import MICROPYTHON  # noqa: E402
sys.path.insert(0, HERE)
from dataplane_harness import ECHO_SERVER  # noqa: E402

NODE = r"""
import hashlib, sys, time
import tailnet
from tailnet import sockets as ts
BLOCK = bytes(range(256)) * 4 + b"tailnet"
def hx(b):
    return "".join("%02x" % x for x in b)
ca = open(CFG["ca"], "rb").read()
if CFG["udp"]:
    ts.configure(udp_port=CFG["udp"], bind="127.0.0.1")
n = tailnet.up(CFG["authkey"], CFG["url"], "mpbench", CFG["state"], timeout=60, verbose=0, cadata=ca)
print("ME", n.netmap.addresses()[0].split("/")[0])
if CFG["rcvbuf"]:
    dp, ns = ts._run(ts.stack_async())
    ns.tcp.rcvbuf = ns.tcp.sndbuf = CFG["rcvbuf"]
ip = CFG["ip"]
for i in range(CFG["pings"]):
    try:
        print("PING", ts.ping(ip))
    except OSError as e:
        print("PING fail", e)
    time.sleep(0.3)
print("WARM")
import os
while True:                       # the benchmark reads the path in use, then says go
    try:
        os.stat(CFG["go"])
        break
    except OSError:
        time.sleep(0.1)
size = CFG["size"]
t = time.ticks_ms()
c = ts.dial(ip, CFG["port"])
c.send(b"GET %d\n" % size)
h = hashlib.sha256()
got = 0
while True:
    d = c.recv(4096)
    if not d:
        break
    h.update(d)
    got += len(d)
c.close()
print("GET", got, hx(h.digest()), time.ticks_diff(time.ticks_ms(), t))
t = time.ticks_ms()
c = ts.dial(ip, CFG["port"])
c.send(b"PUT %d\n" % size)
blk = BLOCK * 4
left = size
while left:
    k = min(left, len(blk))
    c.send(blk[:k])
    left -= k
ans = c.readline()
c.close()
print("PUT", ans.decode().strip(), time.ticks_diff(time.ticks_ms(), t))
# UDP echo rate: UDPN datagrams of UDPSIZE bytes, at most UDPW outstanding
u = ts.udp(qmax=CFG["udpw"])
dst = (ip, CFG["uport"])
payload = b"u" * CFG["udpsize"]
N = CFG["udpn"]
sent = got = lost = 0
t = time.ticks_ms()
while got + lost < N:
    while sent - got - lost < CFG["udpw"] and sent < N:
        u.sendto(payload, dst)
        sent += 1
    try:
        u.recvfrom(0.5)
        got += 1
    except OSError:
        lost = sent - got               # all outstanding given up after 0.5 s of silence
print("UDP", got, lost, time.ticks_diff(time.ticks_ms(), t))
u.close()
tailnet.down()
print("DONE")
"""


# SOCKS5 UDP ASSOCIATE client run in the netns against tailscaled --socks5-server (how a
# userspace-networking tailscaled sends UDP into the tailnet): same echo-rate loop as the node.
SOCKS_UDP = r"""
import socket, sys, time
socks, ip, port, n, w, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
c = socket.create_connection(("127.0.0.1", int(socks)))
c.sendall(b"\x05\x01\x00"); assert c.recv(2) == b"\x05\x00"
c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
r = c.recv(262)
assert r[1] == 0, r
relay = (socket.inet_ntoa(r[4:8]), int.from_bytes(r[8:10], "big"))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.settimeout(0.5)
hdr = b"\x00\x00\x00\x01" + socket.inet_aton(ip) + port.to_bytes(2, "big")
pkt = hdr + b"u" * size
sent = got = lost = 0
t = time.time()
while got + lost < n:
    while sent - got - lost < w and sent < n:
        u.sendto(pkt, relay)
        sent += 1
    try:
        d = u.recv(4096)
        if d[10:] == pkt[10:]:
            got += 1
    except socket.timeout:
        lost = sent - got
print("UDP", got, lost, int((time.time() - t) * 1000))
"""


def udp_rate(net, socks, ip, port, n, w, size):
    p = net.run([sys.executable, "-c", SOCKS_UDP, str(socks), ip, str(port), str(n), str(w), str(size)],
                timeout=300)
    f = (p.stdout.split("UDP", 1)[1] if "UDP" in p.stdout else "").split()
    if len(f) != 3:
        raise RuntimeError("SOCKS5 UDP client failed: %s%s" % (p.stdout, p.stderr))
    return [int(x) for x in f]


def nc_get(net, peer, ip, port, size, timeout=300):
    """GET size bytes through `tailscale nc` on peer -> (seconds, ok)."""
    cmd = [os.path.join(GOBIN, "tailscale"), "--socket=" + peer.sock, "nc", ip, str(port)]
    p = subprocess.Popen(net.exec_prefix + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        t0 = time.time()
        p.stdin.write(b"GET %d\n" % size)
        p.stdin.flush()
        h = hashlib.sha256()
        got = 0
        while got < size:
            d = p.stdout.read1(65536)
            if not d:
                break
            h.update(d)
            got += len(d)
        dt = time.time() - t0
    finally:
        timer.cancel()
        p.stdin.close()
        p.kill()
        p.wait()
    return dt, got == size and h.hexdigest() == hashlib.sha256(pattern(size)).hexdigest()


def nc_put(net, peer, ip, port, size, timeout=300):
    cmd = [os.path.join(GOBIN, "tailscale"), "--socket=" + peer.sock, "nc", ip, str(port)]
    p = subprocess.Popen(net.exec_prefix + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    data = pattern(size)
    try:
        t0 = time.time()

        def feed():
            try:
                p.stdin.write(b"PUT %d\n" % size)
                p.stdin.write(data)
                p.stdin.flush()
            except OSError:
                pass
        w = threading.Thread(target=feed, daemon=True)
        w.start()
        ans = p.stdout.readline()
        dt = time.time() - t0
        w.join(10)
    finally:
        timer.cancel()
        try:
            p.stdin.close()
        except OSError:
            pass
        p.kill()
        p.wait()
    return dt, ans.strip().decode() == hashlib.sha256(data).hexdigest()


def cur_addr(peer, ip):
    """The direct address peer uses for the tailnet node with address ip ("" = DERP)."""
    st = peer.status()
    for p in (st.get("Peer") or {}).values():
        if ip in (p.get("TailscaleIPs") or []):
            return p.get("CurAddr") or ""
    return "?"


UDP_W = 8            # datagrams outstanding at most (node's UDP socket queue: qmax=UDP_W)
UDP_SIZE = 64


def run_path(path, size, rcvbuf=0, udp=0):
    res = {"path": path, "bytes": size}
    with Testnet(peers=2, derp_only=(path == "derp")) as net:
        p1, p2 = net.peers
        port = net.port()
        uport = net.port(socket.SOCK_DGRAM)
        svc = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", SERVICE, str(port)])
        echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(uport)])
        node = None
        try:
            # tailscaled <-> tailscaled
            p1.cli("ping", "--c", "10", p2.ip4, check=False, timeout=60)
            nc_get(net, p1, p2.ip4, port, 1024)                  # warm the connection path
            res["tailscaled_path"] = cur_addr(p1, p2.ip4) or "DERP"
            dt, ok = nc_get(net, p1, p2.ip4, port, size)
            res["tailscaled_get_s"], res["tailscaled_get_ok"] = round(dt, 2), ok
            dt, ok = nc_put(net, p1, p2.ip4, port, size)
            res["tailscaled_put_s"], res["tailscaled_put_ok"] = round(dt, 2), ok
            if udp:
                # a third tailscaled with a SOCKS5 server sends UDP to peer2 (forwarded to the
                # echo service on the netns loopback)
                socks = net.port()
                spawn = net.spawn

                def spawn_socks(name, cmd, env=None):
                    if name == "udpsrc":
                        cmd = list(cmd) + ["--socks5-server=127.0.0.1:%d" % socks]
                    return spawn(name, cmd, env)
                net.spawn = spawn_socks
                p3 = net.add_peer("udpsrc")
                net.spawn = spawn
                p3.cli("ping", "--c", "10", p2.ip4, check=False, timeout=60)
                udp_rate(net, socks, p2.ip4, uport, 20, UDP_W, UDP_SIZE)      # warm-up
                res["tailscaled_udp_path"] = cur_addr(p3, p2.ip4) or "DERP"
                g, lost, ms = udp_rate(net, socks, p2.ip4, uport, udp, UDP_W, UDP_SIZE)
                res["tailscaled_udp"] = {"echoed": g, "lost": lost, "ms": ms}
            # our node (host firmware) <-> peer2
            go = os.path.join(net.state_dir, "go")
            cfg = {"authkey": net.authkey(), "url": net.control_url, "ca": net.ca_der,
                   "state": os.path.join(net.state_dir, "node.state"), "ip": p2.ip4, "port": port,
                   "size": size, "rcvbuf": rcvbuf, "uport": uport, "udpn": udp or 0,
                   "udpw": UDP_W, "udpsize": UDP_SIZE, "pings": 12 if path == "direct" else 2, "go": go,
                   "udp": net.port(socket.SOCK_DGRAM) if path == "direct" else None}
            node = Proc(net.exec_prefix + [MICROPYTHON, "-c", "CFG = %r\n%s" % (cfg, NODE)], node_env())
            node.wait("WARM", 180)
            me = [x for x in node.lines if x.startswith("ME ")]
            node_ip = me[0].split()[1] if me else ""
            res["node_path"] = (cur_addr(p2, node_ip) or "DERP") if node_ip else "?"
            open(go, "w").close()
            get = node.wait("GET", 600).split()
            res["node_get_s"] = int(get[3]) / 1000
            res["node_get_ok"] = get[1:3] == [str(size), hashlib.sha256(pattern(size)).hexdigest()]
            put = node.wait("PUT", 600).split()
            res["node_put_s"] = int(put[-1]) / 1000
            res["node_put_ok"] = put[1] == hashlib.sha256(pattern(size)).hexdigest()
            f = node.wait("UDP", 600).split()
            if udp:
                res["node_udp"] = {"echoed": int(f[1]), "lost": int(f[2]), "ms": int(f[3])}
            node.wait("DONE", 60)
        finally:
            if node:
                node.kill()
            for p in (svc, echo):
                p.kill()
                p.wait()
    return res


def table(rows):
    out = ["%-7s %-28s %10s %10s %12s %12s" % ("path", "who", "GET s", "PUT s", "GET KiB/s", "PUT KiB/s")]
    for r in rows:
        kib = r["bytes"] / 1024
        for who, k in (("tailscaled <-> tailscaled", "tailscaled"), ("node (host fw) <-> tailscaled", "node")):
            g, pu = r.get(k + "_get_s"), r.get(k + "_put_s")
            bad = "" if r.get(k + "_get_ok") and r.get(k + "_put_ok") else "  CHECK FAILED"
            out.append("%-7s %-28s %10.2f %10.2f %12.0f %12.0f  via %s%s" % (
                r["path"], who, g, pu, kib / max(g, 1e-3), kib / max(pu, 1e-3), r.get(k + "_path"), bad))
    if any("node_udp" in r for r in rows):
        out.append("")
        out.append("UDP echo rate, %d-byte datagrams, at most %d outstanding (replies/s, lost):" % (
            UDP_SIZE, UDP_W))
        for r in rows:
            for who, k in (("tailscaled <-> tailscaled", "tailscaled"),
                           ("node (host fw) <-> tailscaled", "node")):
                u = r.get(k + "_udp")
                if u:
                    out.append("%-7s %-28s %10.0f pkt/s  lost %d of %d  via %s" % (
                        r["path"], who, u["echoed"] * 1000.0 / max(u["ms"], 1), u["lost"],
                        u["echoed"] + u["lost"], r.get(k + "_udp_path") or r.get(k + "_path")))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--paths", default="derp,direct")
    ap.add_argument("--rcvbuf", type=int, default=0,
                    help="node TCP receive/send buffer (default: the netstack's, 4096)")
    ap.add_argument("--udp", type=int, default=2000, help="UDP echoes per client (0: no UDP)")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = [run_path(p, a.size, a.rcvbuf, a.udp) for p in a.paths.split(",")]
    print(json.dumps(rows, indent=1))
    print("GET = peer -> client (download), PUT = client -> peer (upload); %d bytes each" % a.size)
    print(table(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    ok = all(r.get(k) for r in rows for k in ("tailscaled_get_ok", "tailscaled_put_ok",
                                               "node_get_ok", "node_put_ok"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
