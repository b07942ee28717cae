"""DERP client and STUN against a REAL derper (tailscale.com v1.102.3, build/go/bin/derper)
listening on 127.0.0.1 only. Two MicroPython processes (the host firmware) exchange
packets through it, over plain HTTP and over TLS; STUN is answered from a MicroPython
UDP socket; derper restarts and forced reconnects are survived without heap growth."""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from mpy import BUILD, MICROPYTHON, REPO

DERPER = os.path.join(BUILD, "go", "bin", "derper")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not os.path.exists(DERPER), reason="derper not built (make testnet-tools)"),
    pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built"),
]

# The MicroPython side. CFG is prepended by the test. Roles:
#   echo : send every received packet back to its sender until b"quit"
#   ping : wait for the echo peer, measure N round trips, then reconnect R times
#          measuring the heap, print one JSON line
#   watch: print UP/DOWN transitions; after each UP, probe the echo peer until it answers
PEER = r"""
import asyncio, gc, json, time, binascii
from tailnet import derp_client, crypto

def log(*a):
    print(*a)

async def main():
    c = derp_client.DerpClient(CFG['host'], CFG['port'], binascii.unhexlify(CFG['priv']),
                               tls=CFG.get('tls', False), insecure=True,
                               backoff_cap_ms=CFG.get('cap', 1000))
    inbox = []
    ev = asyncio.Event()
    def on_packet(src, pkt):
        if len(inbox) < 64:
            inbox.append((bytes(src), bytes(pkt)))
            ev.set()
    c.on_packet = on_packet
    gone = []
    c.on_peer_gone = lambda k, r: gone.append((binascii.hexlify(k).decode(), r))
    task = asyncio.create_task(c.run())
    if not await c.wait_connected(10000):
        log('NOCONNECT', c.last_error)
        return
    peer = binascii.unhexlify(CFG['peer']) if CFG.get('peer') else None
    role = CFG['role']

    async def recv(timeout_ms):
        t0 = time.ticks_ms()
        while not inbox:
            if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
                return None
            ev.clear()
            try:
                await asyncio.wait_for_ms(ev.wait(), 50)
            except asyncio.TimeoutError:
                pass
        return inbox.pop(0)

    async def probe(timeout_ms):
        # until the echo peer answers (it may not be connected yet)
        t0 = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), t0) < timeout_ms:
            await c.send(peer, b'\x04\x00\x00\x00probe')
            r = await recv(200)
            if r is not None and r[1] == b'\x04\x00\x00\x00probe':
                return True
        return False

    if role == 'echo':
        log('UP', binascii.hexlify(c.server_pub).decode(), json.dumps(c.server_info))
        while True:
            r = await recv(60000)
            if r is None or r[1] == b'quit':
                break
            await c.send(r[0], r[1])
    elif role == 'ping':
        ok = await probe(10000)
        rtts = []
        pkt = bytearray(CFG.get('size', 100))
        pkt[0] = 4
        for i in range(CFG['n']):
            pkt[4] = i & 0xFF
            t0 = time.ticks_us()
            await c.send(peer, pkt)
            r = await recv(2000)
            if r is None or r[1] != pkt or r[0] != peer:
                break
            rtts.append(time.ticks_diff(time.ticks_us(), t0))
        await c.ping_server()
        await asyncio.sleep_ms(200)
        heap = []
        for i in range(CFG.get('reconnects', 0)):
            c.reconnect()
            while c.state == derp_client.CONNECTED:
                await asyncio.sleep_ms(5)
            if not await c.wait_connected(10000):
                break
            gc.collect()
            heap.append(gc.mem_alloc())
        ok2 = await probe(5000) if heap else True
        # a disco-looking packet to an absent key -> PeerGone(not here)
        await c.send(bytes(range(32)), b'TS\xf0\x9f\x92\xac' + bytes(60))
        await c.send(peer, b'quit')
        for i in range(100):  # the echo peer leaves -> PeerGone(disconnected)
            if len(gone) >= 2:
                break
            await asyncio.sleep_ms(20)
        log('RESULT', json.dumps({'probe': ok, 'rtts_us': rtts, 'server_rtt_ms': c.rtt_ms, 'gone': gone,
                                  'heap': heap, 'after_reconnects': ok2, 'stats': c.stats,
                                  'parser': c.parser.stats}))
    elif role == 'watch':
        ups = 0
        while ups < CFG['ups']:
            ups += 1
            ok = await probe(15000)
            log('UP', ups, ok, c.stats['connects'])
            if ups == CFG['ups']:
                break
            while c.state == derp_client.CONNECTED:
                await asyncio.sleep_ms(10)
            t0 = time.ticks_ms()
            log('DOWN', c.last_error)
            while c.state != derp_client.CONNECTED:
                await asyncio.sleep_ms(10)
            log('BACK', time.ticks_diff(time.ticks_ms(), t0))
        await c.send(peer, b'quit')
        await asyncio.sleep_ms(100)
    c.stop()
    await task

asyncio.run(main())
"""


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_tcp(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("derper did not listen on %d" % port)


class Derper:
    def __init__(self, tmp, tls=False, port=None, stun_port=None):
        self.tmp = str(tmp)
        self.tls = tls
        self.port = port or free_port()
        self.stun_port = stun_port or free_port(socket.SOCK_DGRAM)
        self.proc = None

    def start(self):
        cmd = [DERPER, "-a", "127.0.0.1:%d" % self.port, "-c", os.path.join(self.tmp, "derper.json"),
               "--http-port=-1"]
        if self.tls:
            cmd += ["--certmode=manual", "--hostname=127.0.0.1",
                    "--certdir=" + os.path.join(self.tmp, "certs"), "--stun=false"]
        else:
            cmd += ["--stun-port", str(self.stun_port)]
        self.log = open(os.path.join(self.tmp, "derper.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_tcp(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def derper(tmp_path):
    d = Derper(tmp_path).start()
    yield d
    d.stop()


@pytest.fixture
def derper_tls(tmp_path):
    d = Derper(tmp_path, tls=True).start()
    yield d
    d.stop()


def keypair():
    sys.path.insert(0, os.path.join(REPO, "modules"))
    from tailnet import crypto

    priv = os.urandom(32)
    return priv, crypto.x25519_base(priv)


def spawn(cfg, heapsize=None):
    env = dict(os.environ, MICROPYPATH=".frozen")
    code = "CFG = %r\n" % (cfg,) + PEER
    heap = ["-X", "heapsize=" + heapsize] if heapsize else []
    return subprocess.Popen([MICROPYTHON] + heap + ["-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def readline(p, timeout):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r:
        raise AssertionError("no output within %ss" % timeout)
    return p.stdout.readline()


def finish(p, timeout=30):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return out


def run_pair(d, n=50, size=100, reconnects=0, tls=False, heapsize=None):
    (pa, ka), (pb, kb) = keypair(), keypair()
    base = {"host": "127.0.0.1", "port": d.port, "tls": tls}
    echo = spawn(dict(base, role="echo", priv=pa.hex()), heapsize)
    line = readline(echo, 20)
    assert line.startswith("UP "), line + echo.stderr.read()
    ping = spawn(dict(base, role="ping", priv=pb.hex(), peer=ka.hex(), n=n, size=size,
                      reconnects=reconnects), heapsize)
    out = finish(ping, 120)
    finish(echo)
    res = [json.loads(l[7:]) for l in out.splitlines() if l.startswith("RESULT ")]
    assert res, out
    res[0]["echo_key"] = ka.hex()
    return line, res[0]


def test_two_micropython_clients_exchange_packets_plain_http(derper):
    line, r = run_pair(derper, n=100)
    _, server_key, info = line.split(" ", 2)
    assert len(bytes.fromhex(server_key)) == 32
    assert json.loads(info)["version"] == 2  # ServerInfo opened with our NaCl box
    assert r["probe"] and len(r["rtts_us"]) == 100
    rtts = sorted(r["rtts_us"])
    print("DERP RTT MicroPython<->MicroPython plain: median %d us, p90 %d us, server ping %s ms"
          % (rtts[50], rtts[90], r["server_rtt_ms"]))
    assert r["server_rtt_ms"] is not None
    assert r["parser"]["oversize"] == 0 and r["parser"]["malformed"] == 0
    # PeerGone frames from the real server: "not here" for a disco packet to an absent
    # key, "disconnected" when the echo peer (which we sent to) goes away
    assert [bytes(range(32)).hex(), 1] in r["gone"], r["gone"]
    assert [r["echo_key"], 0] in r["gone"], r["gone"]


def test_large_packets_and_tls(derper_tls):
    line, r = run_pair(derper_tls, n=20, size=1400, tls=True)
    assert len(r["rtts_us"]) == 20
    rtts = sorted(r["rtts_us"])
    print("DERP RTT over TLS, 1400-byte packets: median %d us" % rtts[10])


@pytest.mark.parametrize("tls,heap", [(False, "48K"), (True, "96K")])
def test_fits_a_small_heap(tmp_path, tls, heap):
    """Both clients (firmware + test harness) under -X heapsize: 48K plain, 96K with TLS
    (mbedTLS takes about 40 KB of the MicroPython heap per connection)."""
    d = Derper(tmp_path, tls=tls).start()
    try:
        _, r = run_pair(d, n=20, size=1400, tls=tls, heapsize=heap)
    finally:
        d.stop()
    assert len(r["rtts_us"]) == 20


@pytest.mark.slow
@pytest.mark.parametrize("tls", [False, True])
def test_reconnects_do_not_grow_the_heap(tmp_path, tls):
    d = Derper(tmp_path, tls=tls).start()
    try:
        _, r = run_pair(d, n=5, reconnects=20, tls=tls)
    finally:
        d.stop()
    heap = r["heap"]
    assert len(heap) == 20 and r["after_reconnects"]
    assert r["stats"]["connects"] == 21
    growth = heap[-1] - heap[4]
    print("tls" if tls else "plain", "heap after reconnect 5..20:", heap[4], "->", heap[-1], "growth", growth)
    assert growth < 1024, heap


@pytest.mark.slow
def test_derper_restart_is_survived(tmp_path):
    d = Derper(tmp_path).start()
    try:
        (pa, ka), (pb, kb) = keypair(), keypair()
        base = {"host": "127.0.0.1", "port": d.port}
        echo = spawn(dict(base, role="echo", priv=pa.hex(), cap=1000))
        assert readline(echo, 20).startswith("UP ")
        watch = spawn(dict(base, role="watch", priv=pb.hex(), peer=ka.hex(), ups=2, cap=1000))
        assert readline(watch, 20).split()[:3] == ["UP", "1", "True"]
        d.stop()
        assert readline(watch, 10).startswith("DOWN")
        time.sleep(2)
        t_restart = time.time()
        d.start()
        back = readline(watch, 15).split()
        assert back[0] == "BACK"
        up = readline(watch, 20).split()
        assert up[:3] == ["UP", "2", "True"], up  # the echo peer came back too
        elapsed = time.time() - t_restart
        print("reconnected and exchanged packets %.2f s after derper restart" % elapsed)
        assert elapsed < 10
        finish(watch)
        finish(echo)
    finally:
        d.stop()


STUN_CODE = r"""
import socket, time, binascii
from tailnet import stun
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(socket.getaddrinfo('127.0.0.1', CFG['local'])[0][-1])
s.settimeout(1)
dst = socket.getaddrinfo('127.0.0.1', CFG['stun'])[0][-1]
got = None
for i in range(5):
    txid = bytes(range(i, i + 12))
    t0 = time.ticks_us()
    s.sendto(stun.request(txid), dst)
    try:
        data, addr = s.recvfrom(1500)
    except OSError:
        continue
    r = stun.parse_response(data, txid)
    if r is not None:
        got = (stun.ip_str(r[1]), r[2], time.ticks_diff(time.ticks_us(), t0))
        break
garbage = 0
s.sendto(b'\x00\x01\x00\x00\x21\x12\xa4\x42' + bytes(12), dst)   # no SOFTWARE/FINGERPRINT
try:
    s.recvfrom(1500)
except OSError:
    garbage = 1
print(got[0], got[1], got[2], garbage)
"""


def test_stun_from_micropython_udp_socket(derper):
    local = free_port(socket.SOCK_DGRAM)
    env = dict(os.environ, MICROPYPATH=".frozen")
    code = "CFG = %r\n" % ({"local": local, "stun": derper.stun_port},) + STUN_CODE
    p = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    ip, port, us, ignored = p.stdout.split()
    assert (ip, int(port)) == ("127.0.0.1", local)
    assert ignored == "1"  # derper ignores a request without Tailscale's attributes
    print("STUN round trip %s us" % us)


STUN_ASYNC = r"""
import asyncio
from tailnet import magicsock_udp
async def main():
    u = magicsock_udp.UDP('127.0.0.1', CFG['local'])
    r = await magicsock_udp.stun_probe(u, '127.0.0.1', CFG['stun'])
    print(magicsock_udp.text(r[0]), r[1])
    u.close()
asyncio.run(main())
"""


def test_stun_probe_from_the_shared_asyncio_socket(derper):
    local = free_port(socket.SOCK_DGRAM)
    env = dict(os.environ, MICROPYPATH=".frozen")
    code = "CFG = %r\n" % ({"local": local, "stun": derper.stun_port},) + STUN_ASYNC
    p = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0] == "127.0.0.1:%d" % local
