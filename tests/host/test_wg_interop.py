"""Interop: our C WireGuard engine (in the MicroPython host firmware, driving a
UDP socket on 127.0.0.1) against a real wireguard-go peer with a userspace
netstack (tests/gotools/wgpeer, built into build/go/bin/wgpeer)."""
import os
import queue
import socket
import subprocess
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization

from mpy import BUILD, MICROPYTHON, REPO

pytestmark = pytest.mark.interop

WGPEER = os.path.join(BUILD, "go", "bin", "wgpeer")
NODE = os.path.join(REPO, "tools", "bench", "wg_node.py")


def keypair():
    k = X25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    priv = k.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub = k.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return priv, pub


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A line-oriented child process; stdout lines are collected by a thread."""

    def __init__(self, argv, env=None):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.lines = queue.Queue()
        self.all = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            self.all.append(line)
            self.lines.put(line)

    def expect(self, prefix, timeout=20):
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("timeout waiting for %r; got %r; stderr: %s"
                                     % (prefix, self.all[-10:], self.stderr()))
            if line.startswith(prefix):
                return line

    def cmd(self, line, timeout=20):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        word = line.split()[0]
        while True:
            try:
                ans = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("no answer to %r; stderr: %s" % (line, self.stderr()))
            parts = ans.split(" ", 2)
            if len(parts) >= 2 and parts[0] in ("OK", "FAIL", "ERR") and parts[1] == word:
                return ans

    def stderr(self):
        if self.p.poll() is None:
            return "(running)"
        return self.p.stderr.read()

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=5)
            except Exception:
                self.p.kill()
                self.p.wait()


@pytest.fixture(scope="module")
def wgpeer_bin():
    # Always (re)build: go build is incremental, and a stale binary would miss
    # commands the tests use.
    subprocess.run([os.path.join(REPO, "tests", "gotools", "wgpeer", "build.sh")], check=True,
                   capture_output=True, timeout=900)
    return WGPEER


@pytest.fixture
def pair(micropython, wgpeer_bin):
    """(node, go): a fresh engine and a fresh wireguard-go peer that know each other."""
    our_priv, our_pub = keypair()
    go_priv, go_pub = keypair()
    our_port = free_udp_port()
    go = Proc([wgpeer_bin, "-priv", go_priv.hex(), "-peer", our_pub.hex(),
               "-peer-endpoint", "127.0.0.1:%d" % our_port])
    ready = go.expect("READY").split()
    go_port, reported_pub = int(ready[1]), ready[2]
    assert reported_pub == go_pub.hex()
    env = dict(os.environ, MICROPYPATH=".frozen")
    node = Proc([micropython, NODE, our_priv.hex(), str(our_port), go_pub.hex(), str(go_port)],
                env=env)
    assert node.expect("READY").split()[1] == our_pub.hex()
    yield node, go
    node.close()
    go.close()


def ok(ans):
    assert ans.startswith("OK"), ans
    return ans


def stats(node):
    import json
    return json.loads(ok(node.cmd("stats")).split(" ", 2)[2])


def info(node):
    import json
    return json.loads(ok(node.cmd("info")).split(" ", 2)[2])


def go_stats(go):
    ans = go.cmd("stats")
    _, _, rx, tx, hs = ok(ans).split()
    return int(rx), int(tx), int(hs)


def test_we_initiate_ping_and_udp(pair):
    node, go = pair
    ok(node.cmd("initiate"))
    ok(node.cmd("ping 7"))
    ok(node.cmd("udp 68656c6c6f2d676f"))
    go_stats(go)  # round trip: the Go peer's earlier output lines have been read
    assert any(l.startswith("ECHO 4000 68656c6c6f2d676f") for l in go.all)
    s = stats(node)
    assert s["handshakes"] == 1 and s["tx_initiation"] >= 1
    assert s["rx_data"] >= 2
    rx, tx, hs = go_stats(go)
    assert rx > 0 and tx > 0 and hs > 0


def test_go_initiates(pair):
    node, go = pair
    ok(go.cmd("send 9000 66726f6d2d676f"))
    ok(node.cmd("expect_udp 66726f6d2d676f"))
    ok(node.cmd("ping 8"))
    s = stats(node)
    assert s["tx_initiation"] == 0  # we were the responder
    assert s["rx_initiation"] >= 1 and s["tx_response"] >= 1
    assert s["handshakes"] >= 1


def test_survives_rekeys(pair):
    node, go = pair
    ok(node.cmd("initiate"))
    ok(node.cmd("ping 1"))
    first = info(node)["current_index"]
    # Our timers: jump our clock past REKEY_AFTER_TIME; the next send rekeys.
    # (Real time must still pass 20 ms, or wireguard-go calls it a flood.)
    ok(node.cmd("pump 50"))
    ok(node.cmd("advance 121000"))
    ok(node.cmd("udp 72656b6579"))
    ok(node.cmd("wait_rekey %d" % first))
    second = info(node)["current_index"]
    assert second != first
    assert stats(node)["tx_initiation"] >= 2
    ok(node.cmd("ping 2"))
    # The Go side rekeys: it expires its keypairs and initiates.
    hs_before = stats(node)["handshakes"]
    ok(go.cmd("rekey"))
    ok(node.cmd("pump 500"))
    ok(node.cmd("ping 3"))
    assert stats(node)["handshakes"] > hs_before
    assert info(node)["current_index"] not in (first, second)
    ok(node.cmd("udp 6166746572"))


def test_replayed_captures_rejected(pair):
    node, go = pair
    ok(node.cmd("initiate"))
    ok(node.cmd("udp 6f6e6365"))  # captures the last datagrams in/out
    go_stats(go)  # round trip: every earlier line of the Go peer has been read
    # A replayed wireguard-go transport packet is dropped by our engine.
    ok(node.cmd("replay_in"))
    # Our captured transport packet replayed to wireguard-go: no second echo.
    echoes = sum(1 for l in go.all if l.startswith("ECHO"))
    ok(node.cmd("replay_out"))
    go_stats(go)
    assert sum(1 for l in go.all if l.startswith("ECHO")) == echoes
    # Our captured initiation replayed: wireguard-go does not respond.
    ok(node.cmd("replay_init"))
    ok(node.cmd("udp 7374696c6c"))  # the session still works


def test_cookie_reply_accepted_by_wireguard_go(pair):
    """Under load we answer wireguard-go's initiation with a cookie reply; it
    retries (REKEY_TIMEOUT later) with a mac2 our engine accepts."""
    node, go = pair
    ok(node.cmd("under_load 1"))
    ok(go.cmd("send 9001 636f6f6b6965"))
    ok(node.cmd("pump 1500"))
    s = stats(node)
    assert s["tx_cookie"] >= 1 and s["drop_mac2"] >= 1 and s["handshakes"] == 0
    ok(node.cmd("expect_udp 636f6f6b6965", timeout=30))
    s = stats(node)
    assert s["handshakes"] >= 1 and s["rx_initiation"] >= 1  # accepted with mac2
    ok(node.cmd("under_load 0"))
    ok(node.cmd("ping 4"))


def test_wireguard_go_cookie_consumed_and_mac2_valid(pair):
    """wireguard-go's CookieChecker answers our initiation; our engine takes the
    cookie, and the mac2 of our next initiation verifies in wireguard-go."""
    node, go = pair
    src = b"127.0.0.1:1".hex()
    init1 = ok(node.cmd("make_init")).split()[2]
    assert init1[264:296] == "0" * 32  # no cookie yet: mac2 all zero
    reply = ok(go.cmd("cookie %s %s" % (init1, src))).split()[2]
    assert ok(node.cmd("feed " + reply)).split()[2] == "0"
    assert stats(node)["drop_cookie"] == 0
    init2 = ok(node.cmd("make_init")).split()[2]
    assert init2[264:296] != "0" * 32
    ok(go.cmd("checkmac2 %s %s" % (init2, src)))
    # A mac2 for another source address does not verify.
    assert go.cmd("checkmac2 %s %s" % (init2, b"10.0.0.9:2".hex())).startswith("ERR")


def test_sustained_traffic(pair):
    """1000 near-MTU datagrams (1415-byte IP out, 1420-byte echo back, the
    netstack's MTU) echoed by wireguard-go: every one arrives, decrypts and
    passes our replay window."""
    node, go = pair
    ok(node.cmd("initiate"))
    ans = ok(node.cmd("burst 1000 1387", timeout=60)).split()
    got, ms = int(ans[2]), int(ans[3])
    assert got == 1000
    s = stats(node)
    assert s["drop_replay"] == 0 and s["drop_auth"] == 0
    assert s["rx_data"] >= 1000


@pytest.mark.slow
def test_lost_initiation_is_retried(pair):
    """Our first initiation is lost: the retransmit timer (REKEY_TIMEOUT +
    jitter) sends a new one that wireguard-go accepts."""
    node, go = pair
    ok(node.cmd("drop_out 1"))
    ok(node.cmd("initiate 9000", timeout=30))
    s = stats(node)
    assert s["tx_initiation"] == 2 and s["handshakes"] == 1
    ok(node.cmd("ping 5"))


def test_reboot_without_rtc_needs_the_tai64n_floor(micropython, wgpeer_bin):
    """Same static key, new process, no wall clock: wireguard-go rejects the
    initiations as replays until the persisted TAI64N floor is restored."""
    our_priv, our_pub = keypair()
    go_priv, go_pub = keypair()
    port = free_udp_port()
    go = Proc([wgpeer_bin, "-priv", go_priv.hex(), "-peer", our_pub.hex(),
               "-peer-endpoint", "127.0.0.1:%d" % port])
    go_port = go.expect("READY").split()[1]
    env = dict(os.environ, MICROPYPATH=".frozen")
    argv = [micropython, NODE, our_priv.hex(), str(port), go_pub.hex(), go_port]
    try:
        node = Proc(argv, env=env)
        node.expect("READY")
        ok(node.cmd("initiate"))
        floor = ok(node.cmd("tai64n")).split()[2]
        node.close()
        node = Proc(argv, env=env)  # "reboot": floor lost
        node.expect("READY")
        assert node.cmd("initiate 1500").startswith("FAIL")
        s = stats(node)
        assert s["tx_initiation"] == 1 and s["rx_response"] == 0  # sent, refused as replay
        ok(node.cmd("set_floor " + floor))
        ok(node.cmd("advance 6000"))  # past REKEY_TIMEOUT since the refused one
        ok(node.cmd("initiate"))
        ok(node.cmd("ping 6"))
        node.close()
    finally:
        go.close()
