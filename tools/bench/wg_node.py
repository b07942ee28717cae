# MicroPython WireGuard node for interop tests and benchmarks: drives the
# _tnwg engine over a UDP socket on 127.0.0.1 against one peer.
# Run in the host firmware:  micropython wg_node.py <priv_hex> <port> <peer_pub_hex> <peer_port>
# Line commands on stdin, one answer line each on stdout ("OK ..." / "FAIL ..."):
#   initiate [ms]             handshake from our side; wait (default 8 s) until complete
#   tai64n / set_floor <hex>  read the TAI64N floor / restore it (reboot without RTC)
#   drop_out <n>              lose our next n outgoing datagrams (simulated loss)
#   ping <id>                 ICMP echo to the peer's tunnel address; wait for the reply
#   udp <hex>                 UDP to peer:7 (echo server); wait for "echo:"+payload
#   expect_udp <hex>          wait for a UDP datagram from the peer with this payload
#   replay_in                 re-feed the last transport datagram received; expect a drop
#   replay_out                resend the last datagram we sent (raw); expect no answer
#   replay_init               resend our last initiation (raw); expect no response
#   advance <ms>              move our engine's clock forward (timer-driven rekey)
#   wait_rekey <index>        pump until the current keypair's index is not <index>
#   burst <n> <size>          n UDP datagrams of <size> payload to peer:7, at most 16
#                             in flight; answers "OK burst <echoes> <ms>"
#   pump <ms>                 just process traffic for a while
#   under_load <0|1>          force the engine's under-load (cookie) mode
#   make_init                 a fresh initiation (clock +6 s), printed in hex, not sent
#   feed <hex>                feed a datagram into the engine; prints the result kind
#   stats / info              engine stats / peer info as JSON
#   quit
import sys
import os
import json
import time
import socket
import select
import struct
from array import array
import _tnwg

OUR_IP = bytes([10, 99, 0, 1])
PEER_IP = bytes([10, 99, 0, 2])


def unhex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))


def tohex(b):
    return "".join("%02x" % x for x in b)


def csum(data):
    if len(data) & 1:
        data = data + b"\x00"
    s = 0
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto, payload, ident=1):
    total = 20 + len(payload)
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0, 64, proto, 0, OUR_IP, PEER_IP))
    struct.pack_into("!H", h, 10, csum(h))
    return bytes(h) + payload


def icmp_echo(ident, seq, data):
    m = bytearray(struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data)
    struct.pack_into("!H", m, 2, csum(m))
    return ipv4(1, bytes(m))


def udp(sport, dport, data):
    length = 8 + len(data)
    pseudo = OUR_IP + PEER_IP + struct.pack("!BBH", 0, 17, length)
    u = bytearray(struct.pack("!HHHH", sport, dport, length, 0) + data)
    c = csum(pseudo + u) or 0xFFFF
    struct.pack_into("!H", u, 6, c)
    return ipv4(17, bytes(u))


class Node:
    def __init__(self, priv, port, peer_pub, peer_port):
        self.t0 = time.ticks_ms()
        self.skew = 0
        self.dev = _tnwg.Device(priv, 4, os.urandom, self.now())
        self.slot = self.dev.add_peer(peer_pub)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        self.peer_addr = socket.getaddrinfo("127.0.0.1", peer_port)[0][-1]
        self.poll = select.poll()
        self.poll.register(self.sock, select.POLLIN)
        self.buf = bytearray(2048)
        self.res = array("i", [0, 0, 0])
        self.inbox = []  # decrypted inner packets
        self.events = 0
        self.last_in = None  # last transport datagram received (ciphertext)
        self.last_out = None  # last datagram sent
        self.last_init = None
        self.rx_types = [0, 0, 0, 0, 0, 0]  # datagrams received per message type
        self.drop_out = 0

    def now(self):
        # ms since start (+ test skew); the engine keeps the low 32 bits.
        return time.ticks_diff(time.ticks_ms(), self.t0) + self.skew

    def send(self, data):
        if data[0] == 1:
            self.last_init = bytes(data)
        if data[0] == 4:
            self.last_out = bytes(data)
        if self.drop_out:
            self.drop_out -= 1
            return
        self.sock.sendto(data, self.peer_addr)

    def handle(self, kind, src):
        r = self.res
        if kind == _tnwg.DATAGRAM:
            data = bytes(self.buf[r[1]:r[1] + r[2]])
            if r[0] < 0:
                self.sock.sendto(data, src)  # cookie reply to the source
            else:
                self.send(data)
        elif kind == _tnwg.PACKET:
            self.inbox.append(bytes(self.buf[r[1]:r[1] + r[2]]))

    def pump(self, ms, until=None):
        deadline = time.ticks_add(time.ticks_ms(), ms)
        while True:
            for _ in self.poll.poll(10):
                data, src = self.sock.recvfrom(2048)
                self.rx_types[min(data[0], 5)] += 1
                if data[0] == 4:
                    self.last_in = data
                n = len(data)
                self.buf[:n] = data
                self.handle(self.dev.input(self.buf, n, self.now(), src, self.res), src)
            while self.dev.tick(self.buf, self.now(), self.res) == _tnwg.DATAGRAM:
                self.handle(_tnwg.DATAGRAM, None)
            ev = self.dev.event(self.res)
            while ev:
                self.events |= ev
                ev = self.dev.event(self.res)
            if until and until():
                return True
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                return False

    def output(self, pkt):
        n = len(pkt)
        self.buf[16:16 + n] = pkt
        k = self.dev.output(self.slot, self.buf, n, self.now(), self.res)
        if k == _tnwg.DATAGRAM:
            self.send(bytes(self.buf[:self.res[2]]))
            return True
        return k

    def send_inner(self, pkt, timeout=8000):
        # Like a TUN: if there is no session, keep the packet, let the engine
        # handshake, then send it.
        k = self.output(pkt)
        if k is True:
            return True
        self.pump(timeout, lambda: self.dev.can_send(self.slot, self.now()))
        return self.output(pkt) is True

    def wait_inner(self, match, timeout=8000):
        def found():
            for p in self.inbox:
                if match(p):
                    self.inbox.remove(p)
                    return True
            return False
        return self.pump(timeout, found)


def is_echo_reply(ident, seq):
    def m(p):
        return p[9] == 1 and p[20] == 0 and struct.unpack("!HH", p[24:28]) == (ident, seq)
    return m


def is_udp(payload):
    def m(p):
        ihl = (p[0] & 15) * 4
        return p[9] == 17 and p[ihl + 8:] == payload
    return m


def main():
    priv, port, peer_pub, peer_port = sys.argv[1:5]
    node = Node(unhex(priv), int(port), unhex(peer_pub), int(peer_port))
    print("READY", tohex(node.dev.pubkey()))
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        f = line.split()
        if not f:
            continue
        cmd = f[0]
        ok = False
        extra = ""
        if cmd == "initiate":
            node.events = 0
            node.dev.initiate(node.slot, node.now())
            ok = node.pump(int(f[1]) if len(f) > 1 else 8000,
                           lambda: node.events & _tnwg.EV_HANDSHAKE_COMPLETE)
        elif cmd == "ping":
            ident = int(f[1])
            ok = node.send_inner(icmp_echo(ident, 1, b"tailnet-ping")) and node.wait_inner(
                is_echo_reply(ident, 1))
        elif cmd == "udp":
            payload = unhex(f[1])
            ok = node.send_inner(udp(4000, 7, payload)) and node.wait_inner(is_udp(b"echo:" + payload))
        elif cmd == "expect_udp":
            ok = node.wait_inner(is_udp(unhex(f[1])))
        elif cmd == "replay_in":
            before = node.dev.stats()["drop_replay"]
            n = len(node.last_in)
            node.buf[:n] = node.last_in
            k = node.dev.input(node.buf, n, node.now(), None, node.res)
            ok = k == _tnwg.NONE and node.dev.stats()["drop_replay"] == before + 1
        elif cmd == "replay_out":
            node.inbox = []
            node.sock.sendto(node.last_out, node.peer_addr)
            node.pump(1500)
            extra = str(len(node.inbox))
            ok = not node.inbox
        elif cmd == "replay_init":
            responses = node.rx_types[2]
            node.sock.sendto(node.last_init, node.peer_addr)
            node.pump(1500)
            ok = node.rx_types[2] == responses
        elif cmd == "tai64n":
            ok = True
            extra = tohex(node.dev.tai64n())
        elif cmd == "set_floor":
            node.dev.set_tai64n_floor(unhex(f[1]))
            ok = True
        elif cmd == "drop_out":
            node.drop_out = int(f[1])
            ok = True
        elif cmd == "under_load":
            node.dev.set_under_load(f[1] == "1")
            ok = True
        elif cmd == "make_init":
            node.skew += 6000
            node.dev.initiate(node.slot, node.now())
            ok = node.dev.tick(node.buf, node.now(), node.res) == _tnwg.DATAGRAM
            extra = tohex(node.buf[:node.res[2]])
        elif cmd == "feed":
            data = unhex(f[1])
            node.buf[:len(data)] = data
            k = node.dev.input(node.buf, len(data), node.now(), None, node.res)
            ok = True
            extra = str(k)
        elif cmd == "advance":
            node.skew += int(f[1])
            ok = True
        elif cmd == "wait_rekey":
            old = int(f[1])
            ok = node.pump(8000, lambda: node.dev.peer_info(node.slot)["current_index"] not in (old, None))
        elif cmd == "burst":
            n, size = int(f[1]), int(f[2])
            pkt = udp(4000, 7, b"b" * size)
            want = b"echo:" + b"b" * size
            node.inbox = []
            sent = got = 0
            t = time.ticks_ms()
            deadline = time.ticks_add(t, 30000)
            while got < n and time.ticks_diff(deadline, time.ticks_ms()) > 0:
                while sent < n and sent - got < 16:
                    if not node.send_inner(pkt):
                        break
                    sent += 1
                node.pump(0)
                for q in node.inbox:
                    if q[9] == 17 and q[28:] == want:
                        got += 1
                node.inbox = []
                if sent == n and got < n:
                    node.pump(20)
            extra = "%d %d" % (got, time.ticks_diff(time.ticks_ms(), t))
            ok = got == n
        elif cmd == "pump":
            node.pump(int(f[1]))
            ok = True
        elif cmd == "stats":
            ok = True
            extra = json.dumps(node.dev.stats())
        elif cmd == "info":
            ok = True
            i = node.dev.peer_info(node.slot)
            i["public_key"] = tohex(i["public_key"])
            extra = json.dumps(i)
        elif cmd == "quit":
            print("OK quit")
            break
        print(("OK " if ok else "FAIL ") + cmd + (" " + extra if extra else ""))


main()
