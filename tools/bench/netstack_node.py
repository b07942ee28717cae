# MicroPython tailnet netstack node over the _tnwg WireGuard engine and a UDP
# socket on 127.0.0.1, against one peer (tools/bench/netstack_gopeer).
# Run in the host firmware:
#   micropython netstack_node.py <priv_hex> <port> <peer_pub_hex> <peer_port>
# Our addresses: 100.64.0.1 and fd7a:115c:a1e0::1. Services: UDP echo on 7
# ("node:" + payload), TCP echo on 80 (any number of connections up to the limit).
# Line commands on stdin, one answer line each ("OK ..." / "FAIL ..."):
#   initiate                  WireGuard handshake from our side
#   ping <addr> <seq>         ICMP echo to the peer -> "OK ping <ms>"
#   udp <hex> [addr]          UDP to peer:7; wait for "echo:"+payload
#   up <addr> <nbytes>        TCP to peer:81 (sink): send nbytes -> "OK up <n> <sha> <peer answer> <ms>"
#   down <addr> <nbytes>      TCP to peer:82 (source): receive nbytes -> "OK down <n> <sha> <ms>"
#   pump <ms>                 serve for a while;   stats;   quit
# TN_TRACE=<file> in the environment logs every TCP segment in (<) and out (>) with the
# time in ms (how the lossy-relay stalls in tests/host/test_netstack_interop.py were found).
import sys
import os
import time
import socket
import select
import hashlib
import json
from array import array
import _tnwg
from tailnet.netstack import Netstack

ALLOW_ALL = [{"SrcIPs": ["*"], "DstPorts": [{"IP": "*", "Ports": {"First": 0, "Last": 65535}}]}]


def unhex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


def tohex(b):
    return "".join("%02x" % x for x in b)


def pattern(n):
    b = bytearray(n)
    for i in range(n):
        b[i] = (i * 7 + i // 1021) & 255
    return b


class Node:
    def __init__(self, priv, port, peer_pub, peer_port):
        self.t0 = time.ticks_ms()
        self.dev = _tnwg.Device(priv, 4, os.urandom, self.now())
        self.slot = self.dev.add_peer(peer_pub)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        self.peer = socket.getaddrinfo("127.0.0.1", peer_port)[0][-1]
        self.poll = select.poll()
        self.poll.register(self.sock, select.POLLIN)
        self.txbuf = bytearray(1600)
        self.res = array("i", [0, 0, 0])
        self.ns = Netstack(["100.64.0.1", "fd7a:115c:a1e0::1"], bufsize=1600, max_tcp=6)
        self.ns.set_filter(ALLOW_ALL)
        self.ns.tcp.rcvbuf = 8192
        self.ns.tcp.sndbuf = 8192
        self.echo_udp = self.ns.udp(7)
        self.lst = self.ns.tcp_listen(80, 4)
        self.echo = []            # [conn, pending bytes]
        self.events = 0

    def now(self):
        return time.ticks_diff(time.ticks_ms(), self.t0)

    def pump_once(self, wait):
        ns = self.ns
        for _ in self.poll.poll(wait):
            data, src = self.sock.recvfrom(2048)
            buf = ns.rxbuf
            n = len(data)
            buf[:n] = data
            k = self.dev.input(buf, n, self.now(), src, self.res)
            r = self.res
            if k == _tnwg.PACKET:
                ns.input(buf, r[1], r[2], self.now())
            elif k == _tnwg.DATAGRAM:
                self.sock.sendto(bytes(buf[r[1]:r[1] + r[2]]), src if r[0] < 0 else self.peer)
            wait = 0
        while self.dev.tick(self.txbuf, self.now(), self.res) == _tnwg.DATAGRAM:
            self.sock.sendto(bytes(self.txbuf[:self.res[2]]), self.peer)
        ev = self.dev.event(self.res)
        while ev:
            self.events |= ev
            ev = self.dev.event(self.res)
        ns.tick(self.now())
        self.serve()
        self.flush()

    def flush(self):
        ns = self.ns
        p = ns.pop_out()
        while p is not None:
            n = len(p)
            self.txbuf[16:16 + n] = p
            if self.dev.output(self.slot, self.txbuf, n, self.now(), self.res) == _tnwg.DATAGRAM:
                self.sock.sendto(bytes(self.txbuf[:self.res[2]]), self.peer)
            p = ns.pop_out()

    def serve(self):
        s = self.echo_udp.recvfrom()
        while s:
            self.echo_udp.sendto(b"node:" + s[0], s[1][0], s[1][1])
            s = self.echo_udp.recvfrom()
        c = self.lst.accept()
        while c is not None:
            self.echo.append([c, b""])
            c = self.lst.accept()
        for e in self.echo[:]:
            c = e[0]
            try:
                if not e[1]:
                    d = c.recv(4096)
                    if d:
                        e[1] = d
                    elif d == b"":
                        c.close()
                        self.echo.remove(e)
                        continue
                if e[1]:
                    k = c.send(e[1])
                    e[1] = e[1][k:]
            except OSError:
                self.echo.remove(e)

    def pump(self, ms, until=None):
        end = time.ticks_add(time.ticks_ms(), ms)
        while True:
            if until is not None and until():
                return True
            if time.ticks_diff(end, time.ticks_ms()) <= 0:
                return False
            self.pump_once(2)


def _seg_line(d, buf, off, n, now):
    """One line for a TCP segment (trace); None for other packets."""
    v = buf[off] >> 4
    if v == 4:
        if buf[off + 9] != 6:
            return None
        t = off + (buf[off] & 15) * 4
    elif v == 6 and buf[off + 6] == 6:
        t = off + 40
    else:
        return None
    hl = (buf[t + 12] >> 4) * 4
    u16 = lambda i: (buf[i] << 8) | buf[i + 1]
    u32 = lambda i: (u16(i) << 16) | u16(i + 2)
    f = buf[t + 13]
    fl = "".join(c for c, b in (("S", 2), ("F", 1), ("R", 4), ("P", 8), (".", 16)) if f & b)
    return "%d %s %d>%d %s seq=%d ack=%d wnd=%d len=%d\n" % (
        now, d, u16(t), u16(t + 2), fl, u32(t + 4), u32(t + 8), u16(t + 14), off + n - t - hl)


def trace(node, path):
    """Log every TCP segment in ("<") and out (">") to path (TN_TRACE=path)."""
    f = open(path, "w")
    ns = node.ns
    orig_in = ns.input
    orig_out = ns.output

    def t_in(buf, off, n, now=None):
        s = _seg_line("<", buf, off, n, node.now())
        if s:
            f.write(s)
        return orig_in(buf, off, n, now)

    def t_out(pkt):
        s = _seg_line(">", pkt, 0, len(pkt), node.now())
        if s:
            f.write(s)
        return orig_out(pkt)
    ns.input = t_in
    ns.output = t_out


def up(node, addr, n):
    ns = node.ns
    c = ns.tcp_connect(addr, 81, node.now())
    data = pattern(n)
    h = hashlib.sha256(data)
    t = time.ticks_ms()
    st = {"sent": 0, "ans": b""}

    def step():
        if c.err:
            return True
        if st["sent"] < n and c.established():
            st["sent"] += c.send(memoryview(data)[st["sent"]:st["sent"] + 4096])
            if st["sent"] == n:
                c.close()
        r = c.recv(200)
        if r:
            st["ans"] += r
        return r == b""
    node.pump(180000, step)
    ms = time.ticks_diff(time.ticks_ms(), t)
    return "%d %s %s %d %d" % (st["sent"], tohex(h.digest()), st["ans"].decode().strip().replace(" ", ":"), ms, c.err)


def down(node, addr, n):
    ns = node.ns
    c = ns.tcp_connect(addr, 82, node.now())
    h = hashlib.sha256()
    st = {"got": 0, "asked": False}
    t = time.ticks_ms()

    def step():
        if c.err:
            return True
        if not st["asked"] and c.established():
            c.send(b"%d\n" % n)
            c.close()
            st["asked"] = True
        r = c.recv(4096)
        while r:
            h.update(r)
            st["got"] += len(r)
            r = c.recv(4096)
        return r == b""
    node.pump(180000, step)
    ms = time.ticks_diff(time.ticks_ms(), t)
    return "%d %s %d %d %s" % (st["got"], tohex(h.digest()), ms, c.err, c.state_name())


def main():
    priv, port, peer_pub, peer_port = sys.argv[1:5]
    node = Node(unhex(priv), int(port), unhex(peer_pub), int(peer_port))
    tp = os.getenv("TN_TRACE")
    if tp:
        trace(node, tp)
    print("READY", tohex(node.dev.pubkey()))
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    while True:
        # serve the tunnel while waiting for the next command
        while not poll.poll(0):
            node.pump_once(5)
        line = sys.stdin.readline()
        if not line:
            break
        f = line.split()
        if not f:
            continue
        cmd = f[0]
        ok = True
        extra = ""
        if cmd == "initiate":
            node.events = 0
            node.dev.initiate(node.slot, node.now())
            ok = node.pump(8000, lambda: node.events & _tnwg.EV_HANDSHAKE_COMPLETE)
        elif cmd == "ping":
            seq = int(f[2])
            t = node.now()
            node.ns.ping(f[1], seq)
            node.flush()
            ok = node.pump(8000, lambda: node.ns.pong(seq) is not None)
            extra = str(node.now() - t)
        elif cmd == "udp":
            payload = unhex(f[1])
            s = node.ns.udp()
            s.sendto(payload, f[2] if len(f) > 2 else "100.64.0.2", 7)
            node.flush()
            got = []

            def have():
                r = s.recvfrom()
                if r:
                    got.append(r)
                return bool(got)
            ok = node.pump(8000, have) and got[0][0] == b"echo:" + payload
            s.close()
        elif cmd == "up":
            extra = up(node, f[1], int(f[2]))
        elif cmd == "down":
            extra = down(node, f[1], int(f[2]))
        elif cmd == "pump":
            node.pump(int(f[1]))
        elif cmd == "stats":
            extra = json.dumps(node.ns.stats())
        elif cmd == "quit":
            print("OK quit")
            break
        else:
            ok = False
        print(("OK " if ok else "FAIL ") + cmd + (" " + extra if extra else ""))


main()
