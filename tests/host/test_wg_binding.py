"""The _tnwg binding inside the host firmware: two engines talking in-process,
the zero-allocation data path (heap_lock), argument checking and drops."""
from mpy import run_mpy

PRELUDE = """
import _tnwg, os, micropython
from array import array
def ip(n, fill=0x41):
    t = 28 + n
    return bytes([0x45, 0, t >> 8, t & 255, 0, 0, 0, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2,
                  0x10, 0, 0, 7, (8 + n) >> 8, (8 + n) & 255, 0, 0]) + bytes([fill]) * n
T = [1000]
def now():
    return T[0]
a = _tnwg.Device(os.urandom(32), 4, os.urandom, now())
b = _tnwg.Device(os.urandom(32), 4, os.urandom, now())
sa = a.add_peer(b.pubkey()); sb = b.add_peer(a.pubkey())
res = array('i', [0, 0, 0])
buf = bytearray(1600)
def xfer(dst, n):
    return dst.input(buf, n, now(), b'ab', res)
def handshake(ini, s, res_dev):
    ini.initiate(s, now())
    assert ini.tick(buf, now(), res) == _tnwg.DATAGRAM and res[2] == 148
    assert xfer(res_dev, 148) == _tnwg.DATAGRAM and res[2] == 92
    assert xfer(ini, 92) == _tnwg.DATAGRAM and res[2] == 32
    assert xfer(res_dev, 32) == _tnwg.NONE
"""


def test_handshake_and_data_both_ways(micropython):
    out = run_mpy(PRELUDE + """
handshake(a, sa, b)
for n in (0, 1, 15, 100, 1392):
    p = ip(n)
    buf[16:16 + len(p)] = p
    assert a.output(sa, buf, len(p), now(), res) == _tnwg.DATAGRAM
    assert res[2] == 32 + ((len(p) + 15) // 16) * 16, (n, res[2])
    assert xfer(b, res[2]) == _tnwg.PACKET
    assert res[0] == sb and res[1] == 16 and res[2] == len(p)
    assert bytes(buf[16:16 + len(p)]) == p
    buf[16:16 + len(p)] = p
    assert b.output(sb, buf, len(p), now(), res) == _tnwg.DATAGRAM
    assert xfer(a, res[2]) == _tnwg.PACKET and res[0] == sa
ev = []
e = a.event(res)
while e:
    ev.append((e, res[0])); e = a.event(res)
assert (_tnwg.EV_HANDSHAKE_COMPLETE, sa) in ev, ev
assert (_tnwg.EV_NEEDS_HANDSHAKE, sa) in ev, ev
print(a.stats()['handshakes'], b.stats()['rx_data'], _tnwg.sizes()['peer'])
""")
    hs, rx, peer_size = out.stdout.split()
    assert hs == "1" and rx == "5"
    assert int(peer_size) <= 1024


def test_data_path_allocates_nothing(micropython):
    """Encrypt and decrypt 1420-byte packets with the heap locked."""
    out = run_mpy(PRELUDE + """
handshake(a, sa, b)
p = ip(1392)
n = len(p)
dg = bytearray(1600)
buf[16:16 + n] = p
# Decrypting in place leaves the plaintext at buf[16:16+n] again, so the loop
# needs no copy (a slice assignment would allocate a slice object). The loop
# runs in a function: new module globals could grow the globals dict.
def loop(count):
    ok = 0
    for i in range(count):
        k1 = a.output(sa, buf, n, 2000, res)
        k2 = b.input(buf, res[2], 2000, None, res)
        if k1 == 1 and k2 == 2 and res[2] == n:
            ok += 1
        k1 = b.output(sb, buf, n, 2000, res)
        k2 = a.input(buf, res[2], 2000, None, res)
        if k1 == 1 and k2 == 2:
            ok += 1
        a.tick(dg, 2000, res)
        b.tick(dg, 2000, res)
    return ok
ok = 0
micropython.heap_lock()
try:
    ok = loop(200)
finally:
    micropython.heap_unlock()
print(ok, bytes(buf[16:16 + n]) == p)
""")
    assert out.stdout.split() == ["400", "True"]


def test_drops_are_counted_not_raised(micropython):
    out = run_mpy(PRELUDE + """
handshake(a, sa, b)
p = ip(20)
buf[16:16 + len(p)] = p
a.output(sa, buf, len(p), now(), res)
n = res[2]
good = bytes(buf[:n])
buf[:n] = good
assert xfer(b, n) == _tnwg.PACKET
buf[:n] = good
assert xfer(b, n) == _tnwg.NONE           # replay
buf[16:16 + len(p)] = p
a.output(sa, buf, len(p), now(), res)
buf[n - 1] ^= 1
assert xfer(b, n) == _tnwg.NONE           # forged tag (fresh counter)
for junk in (b'', b'\\x04', b'\\x01\\x00\\x00\\x00' + b'x' * 144, b'\\x09\\x00\\x00\\x00' + b'y' * 40):
    buf[:len(junk)] = junk
    assert xfer(b, len(junk)) == _tnwg.NONE
s = b.stats()
print(s['drop_replay'], s['drop_auth'], s['drop_short'], s['drop_mac1'], s['drop_type'])
""")
    assert out.stdout.split() == ["1", "1", "2", "1", "1"]


def test_no_session_and_argument_errors(micropython):
    out = run_mpy(PRELUDE + """
p = ip(10)
buf[16:16 + len(p)] = p
print(a.output(sa, buf, len(p), now(), res) == _tnwg.ERR_NO_SESSION)
print(a.output(3, buf, len(p), now(), res) == _tnwg.ERR_PEER)
print(a.output(sa, bytearray(40), 20, now(), res) == _tnwg.ERR_BUFFER)
def raises(f, *args):
    try:
        f(*args)
    except (ValueError, TypeError):
        return True
    return False
print(raises(_tnwg.Device, b'short', 4, os.urandom, 0))
print(raises(_tnwg.Device, bytes(32), 0, os.urandom, 0))
print(raises(_tnwg.Device, bytes(32), 4, None, 0))
print(raises(a.add_peer, b'x' * 31))
print(raises(a.input, buf, 5000, 0, None, res))
print(raises(a.input, buf, 10, 0, None, bytearray(12)))   # res must be array('i')
print(raises(a.set_tai64n_floor, b'123'))
print(raises(a.peer_info, 3))
""")
    assert out.stdout.split() == ["True"] * 11


def test_rng_failure_abandons_handshake(micropython):
    out = run_mpy("""
import _tnwg, os
from array import array
state = {'fail': False}
def rng(n):
    if state['fail']:
        raise OSError('no entropy')
    return os.urandom(n)
a = _tnwg.Device(os.urandom(32), 2, rng, 0)
b = _tnwg.Device(os.urandom(32), 2, os.urandom, 0)
s = a.add_peer(b.pubkey())
res = array('i', [0, 0, 0]); buf = bytearray(256)
state['fail'] = True
a.initiate(s, 0)
print(a.tick(buf, 0, res), a.stats()['drop_rng'])
state['fail'] = False
# The retransmit timer retries after REKEY_TIMEOUT (+ jitter).
k = 0
t = 0
while k != _tnwg.DATAGRAM and t < 6000:
    t += 100
    k = a.tick(buf, t, res)
print(k, res[2])
""")
    assert out.stdout.split() == ["0", "1", "1", "148"]


def test_tai64n_floor_roundtrip(micropython):
    out = run_mpy(PRELUDE + """
handshake(a, sa, b)
f = a.tai64n()
a2 = _tnwg.Device(bytes(32), 2, os.urandom, 0)
print(a2.tai64n() == bytes(12))
a2.set_tai64n_floor(f)
print(a2.tai64n() == f)
a2.set_tai64n_floor(bytes(12))   # lowering is ignored
print(a2.tai64n() == f)
a2.set_wallclock(0, 1700000000)
s = a2.add_peer(b.pubkey())
a2.initiate(s, 0)
a2.tick(buf, 0, res)
t = a2.tai64n()
print(t[:8] == (0x400000000000000a + 1700000000).to_bytes(8, 'big'))
""")
    assert out.stdout.split() == ["True"] * 4


def test_now_accepts_ticks_ms_wrapping_at_2_30(micropython):
    """time.ticks_ms() wraps at 2**30: the binding turns it into the engine's
    monotonic clock, so a session survives the wrap (and expires on time)."""
    out = run_mpy("""
import _tnwg, os
from array import array
W = 1 << 30
a = _tnwg.Device(os.urandom(32), 2, os.urandom, W - 2000)
b = _tnwg.Device(os.urandom(32), 2, os.urandom, W - 2000)
sa = a.add_peer(b.pubkey()); sb = b.add_peer(a.pubkey())
res = array('i', [0, 0, 0]); buf = bytearray(256)
t = W - 1000
a.initiate(sa, t); a.tick(buf, t, res)
b.input(buf, res[2], t, None, res); a.input(buf, res[2], t, None, res); b.input(buf, res[2], t, None, res)
p = bytes([0x45, 0, 0, 20] + [0] * 16)
def send(now):
    buf[16:36] = p
    if a.output(sa, buf, 20, now, res) != _tnwg.DATAGRAM:
        return 'nosession'
    b.output  # keep b's clock in step
    return b.input(buf, res[2], now, None, res)
print(send(500))                        # after the wrap: 1.5 s old, fine
print(send((W - 1000 + 179000) % W))    # 179 s old: still fine
print(send((W - 1000 + 180000) % W))    # 180 s: REJECT_AFTER_TIME
""")
    assert out.stdout.split() == ["2", "2", "nosession"]


def test_set_key_rotates_static_key(micropython):
    """Node-key rotation: set_key wipes the sessions bound to the old static key, keeps the
    peer slots, and a new handshake with a peer that knows the new key works; a peer still
    holding the old key can no longer complete one (mac1 is keyed on our public key)."""
    out = run_mpy(PRELUDE + """
handshake(a, sa, b)
p = ip(40)
buf[16:16 + len(p)] = p
assert a.output(sa, buf, len(p), now(), res) == _tnwg.DATAGRAM
old_pub = a.pubkey()
e = a.event(res)
while e:
    e = a.event(res)
assert a.set_key(os.urandom(32)) == 0
assert a.pubkey() != old_pub and a.find_peer(b.pubkey()) == sa
buf[16:16 + len(p)] = p
assert a.output(sa, buf, len(p), now(), res) == _tnwg.ERR_NO_SESSION
assert a.peer_info(sa)['current_index'] is None
# b still has our old key: its initiation is dropped (mac1 of the old key)
b.initiate(sb, now())
assert b.tick(buf, now(), res) == _tnwg.DATAGRAM
assert xfer(a, res[2]) == _tnwg.NONE and a.stats()['drop_mac1'] == 1
# b learns the new key (netmap): both directions handshake again
b.remove_peer(sb)
sb = b.add_peer(a.pubkey())
T[0] += 6000
handshake(a, sa, b)
buf[16:16 + len(p)] = p
assert a.output(sa, buf, len(p), now(), res) == _tnwg.DATAGRAM
assert xfer(b, res[2]) == _tnwg.PACKET and bytes(buf[16:16 + len(p)]) == p
buf[16:16 + len(p)] = p
assert b.output(sb, buf, len(p), now(), res) == _tnwg.DATAGRAM
assert xfer(a, res[2]) == _tnwg.PACKET and res[0] == sa
T[0] += 6000
handshake(b, sb, a)
print("OK", a.stats()['handshakes'])
""")
    assert out.stdout.split() == ["OK", "3"], out.stdout
