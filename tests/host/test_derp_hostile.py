"""The MicroPython DERP client (host firmware) against a hostile scripted server (a unit-test
fake in CPython; real-server interop is test_derp_interop.py): every kind of broken stream
ends in a counted failure, a full teardown and a reconnect, never a crash; the client
finally logs in to a well-behaved connection and receives a packet."""
import asyncio
import json
import os
import struct
import subprocess
import threading

import pytest
from nacl.public import Box, PrivateKey, PublicKey

from mpy import MICROPYTHON

pytestmark = pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")

MAGIC = b"DERP\xf0\x9f\x94\x91"
SERVER = PrivateKey(bytes(range(50, 82)))


def fr(t, payload=b""):
    return struct.pack(">BI", t, len(payload)) + payload


def server_info(client_pub, info=b'{"version":2}'):
    return fr(3, bytes(Box(SERVER, client_pub).encrypt(info, os.urandom(24))))


# one script per connection attempt, in order; the last one is well-behaved
def script(i, client_pub):
    key = fr(1, MAGIC + bytes(SERVER.public_key))
    good = key + server_info(client_pub) if client_pub else key
    if i == 0:
        return b"HTTP/1.1 426 Upgrade Required\r\n\r\n", b""
    if i == 1:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", fr(1, b"DERP\xf0\x9f\x94\x92" + bytes(32))
    if i == 2:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", fr(5, bytes(10))  # not ServerKey first
    if i == 3:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", key + fr(3, os.urandom(80))  # bad box
    if i == 4:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", good + struct.pack(">BI", 5, 1 << 24)
    if i == 5:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", good + fr(5, b"short")  # RecvPacket < 32
    if i == 6:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", good + bytes(range(256)) * 12  # type 0, length 0x01020304
    if i == 7:
        return b"HTTP/1.1 101 Switching Protocols\r\n\r\n", good[:20]  # EOF mid-frame
    # well-behaved: skip-able unknown frame, Ping (must be answered), then a packet
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n\r\n",
            good + fr(0x30, b"future frame") + fr(0x14, b"") + fr(0x12, b"pingdata")
            + fr(5, b"s" * 32 + b"\x04\x00\x00\x00hello"))


class Fake:
    def __init__(self, silent=False):
        self.silent = silent  # every connection logs in fine, then the server goes quiet
        self.pings = 0
        self.attempts = 0
        self.pong = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def handle(self, r, w):
        i = self.attempts if not self.silent else 3
        self.attempts += 1
        try:
            while (await r.readline()) not in (b"\r\n", b""):
                pass
            head, body = script(i, None)
            w.write(head)
            if i >= 3:
                w.write(fr(1, MAGIC + bytes(SERVER.public_key)))
                hdr = await asyncio.wait_for(r.readexactly(5), 5)
                ci = await r.readexactly(struct.unpack(">I", hdr[1:])[0])
                client_pub = PublicKey(ci[:32])
                Box(SERVER, client_pub).decrypt(ci[56:], ci[32:56])  # must be a valid box
                _, body = script(i, client_pub) if not self.silent else (0, b"")
                body = body[len(fr(1, MAGIC + bytes(32))):]  # ServerKey already sent
                if self.silent:
                    body = server_info(client_pub)
            w.write(body)
            await w.drain()
            if i >= 8 or self.silent:
                while True:
                    hdr = await asyncio.wait_for(r.readexactly(5), 10)
                    p = await r.readexactly(struct.unpack(">I", hdr[1:])[0])
                    if hdr[0] == 0x13:
                        self.pong = p
                    if hdr[0] == 0x12:
                        self.pings += 1
            else:
                await asyncio.sleep(0.05)
        except Exception:
            pass
        finally:
            w.close()


CLIENT = r"""
import asyncio, json, os
from tailnet import derp_client
async def main():
    c = derp_client.DerpClient('127.0.0.1', PORT, os.urandom(32), backoff_cap_ms=200)
    got = []
    c.on_packet = lambda s, p: got.append(bytes(p))
    t = asyncio.create_task(c.run())
    for i in range(300):
        if got:
            break
        await asyncio.sleep_ms(20)
    await asyncio.sleep_ms(200)
    c.stop()
    await t
    print(json.dumps({'got': [g.decode() for g in got], 'stats': c.stats, 'parser': c.parser.stats,
                      'err': c.last_error}))
asyncio.run(main())
"""


def test_hostile_streams_are_survived():
    f = Fake()
    env = dict(os.environ, MICROPYPATH=".frozen")
    p = subprocess.run([MICROPYTHON, "-c", "PORT = %d\n" % f.port + CLIENT], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["got"] == ["\x04\x00\x00\x00hello"], r
    assert f.attempts >= 9
    assert r["stats"]["failures"] == 8 and r["stats"]["connects"] == 4, r
    assert r["parser"]["oversize"] == 2 and r["parser"]["malformed"] == 3, r
    assert r["parser"]["skipped"] >= 1
    assert f.pong == b"pingdata"  # the server's Ping was answered


SILENT = r"""
import asyncio, json, os
from tailnet import derp_client
async def main():
    c = derp_client.DerpClient('127.0.0.1', PORT, os.urandom(32), backoff_cap_ms=100,
                               read_timeout_ms=1500, ping_after_ms=500)
    t = asyncio.create_task(c.run())
    await asyncio.sleep(4)
    c.stop()
    await t
    print(json.dumps({'stats': c.stats, 'err': c.last_error}))
asyncio.run(main())
"""


def test_silent_server_is_pinged_then_dropped():
    """No bytes from the server: after ping_after_ms the client sends a DERP Ping, after
    read_timeout_ms (120 s by default, like tailscaled) it tears down and reconnects."""
    f = Fake(silent=True)
    env = dict(os.environ, MICROPYPATH=".frozen")
    p = subprocess.run([MICROPYTHON, "-c", "PORT = %d\n" % f.port + SILENT], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["stats"]["connects"] >= 2 and "read timeout" in r["err"], r
    assert f.pings >= 2


BUSY_SILENT = r"""
import asyncio, json, os
from tailnet import derp_client
async def main():
    c = derp_client.DerpClient('127.0.0.1', PORT, os.urandom(32), backoff_cap_ms=100,
                               probe_ms=300, ping_timeout_ms=400)   # read_timeout/ping_after: 120/60 s
    t = asyncio.create_task(c.run())
    for i in range(40):
        await c.send(bytes(32), b'\x04\x00\x00\x00' + bytes(28))   # traffic, never answered
        await asyncio.sleep_ms(100)
    c.stop()
    await t
    print(json.dumps({'stats': c.stats, 'err': c.last_error}))
asyncio.run(main())
"""


def test_busy_connection_without_replies_is_declared_dead():
    """We keep writing, the server keeps logged in but says nothing (a dead uplink looks
    like this: TCP accepts writes into its buffer): after probe_ms of silence following
    our writes the client pings; no frame within ping_timeout_ms -> teardown and redial,
    long before the 120 s read timeout."""
    f = Fake(silent=True)
    env = dict(os.environ, MICROPYPATH=".frozen")
    p = subprocess.run([MICROPYTHON, "-c", "PORT = %d\n" % f.port + BUSY_SILENT], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    s = r["stats"]
    assert s["connects"] >= 2 and s["dead"] >= 1 and s["probes"] >= 1, r
    assert "no reply to ping" in r["err"], r
    assert f.pings >= 1  # the server saw our liveness pings
