# Runs inside the MicroPython host firmware (tools/bench/wg_bench.py drives it).
#   micropython wg_bench_mpy.py <mode> <count>
# mode: seal   - <count> encryptions of a 1420-byte IP packet through _tnwg
#       pair   - <count> x (encrypt on A, decrypt on B), in place
#       hs     - <count> full handshakes A->B (initiation, response, confirm)
#       speed  - timed packets/s and handshakes/s (prints JSON)
# The work runs in functions (locals on the stack); the data path allocates
# nothing, so callgrind counts engine + binding only.
import sys
import os
import time
import json
from array import array
import _tnwg

PRIV_A = bytes(range(1, 33))
PRIV_B = bytes(range(33, 65))


class Rng:
    # Deterministic (callgrind counts must repeat run to run).
    def __init__(self, seed):
        self.s = seed

    def __call__(self, n):
        out = bytearray(n)
        s = self.s
        for i in range(n):
            s = (s * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = s >> 16 & 255
        self.s = s
        return bytes(out)


def ip_packet(total):
    p = bytearray(total)
    p[0] = 0x45
    p[2] = total >> 8
    p[3] = total & 255
    p[9] = 17
    return p


def setup(fast_rng):
    ra = os.urandom if fast_rng else Rng(1)
    rb = os.urandom if fast_rng else Rng(2)
    a = _tnwg.Device(PRIV_A, 2, ra, 0)
    b = _tnwg.Device(PRIV_B, 2, rb, 0)
    sa = a.add_peer(b.pubkey())
    b.add_peer(a.pubkey())
    return a, b, sa


def handshake(a, b, sa, buf, res, now):
    a.initiate(sa, now)
    a.tick(buf, now, res)
    b.input(buf, res[2], now, None, res)
    a.input(buf, res[2], now, None, res)
    b.input(buf, res[2], now, None, res)


def run_seal(a, sa, buf, res, n, count):
    for i in range(count):
        a.output(sa, buf, n, 1000, res)


def run_pair(a, b, sa, buf, res, n, count):
    for i in range(count):
        a.output(sa, buf, n, 1000, res)
        b.input(buf, res[2], 1000, None, res)


def run_hs(a, b, sa, buf, res, count, t0):
    t = t0
    for i in range(count):
        t += 6000  # past REKEY_TIMEOUT and the 20 ms flood guard
        handshake(a, b, sa, buf, res, t)
    return t


def main():
    mode = sys.argv[1]
    count = int(sys.argv[2])
    # speed: os.urandom; callgrind modes: a deterministic rng (repeatable counts).
    a, b, sa = setup(mode == "speed")
    buf = bytearray(1600)
    res = array("i", [0, 0, 0])
    handshake(a, b, sa, buf, res, 0)
    buf[16:16 + 1420] = ip_packet(1420)
    if mode == "seal":
        run_seal(a, sa, buf, res, 1420, count)
    elif mode == "pair":
        run_pair(a, b, sa, buf, res, 1420, count)
    elif mode == "hs":
        run_hs(a, b, sa, buf, res, count, 0)
    elif mode == "speed":
        t = time.ticks_us()
        run_seal(a, sa, buf, res, 1420, count)
        seal_us = time.ticks_diff(time.ticks_us(), t)
        buf[16:16 + 1420] = ip_packet(1420)
        t = time.ticks_us()
        run_pair(a, b, sa, buf, res, 1420, count)
        pair_us = time.ticks_diff(time.ticks_us(), t)
        nh = max(5, count // 500)
        t = time.ticks_us()
        run_hs(a, b, sa, buf, res, nh, 10000)
        hs_us = time.ticks_diff(time.ticks_us(), t)
        print(json.dumps({
            "seal_pps": count * 1e6 / seal_us,
            "seal_us": seal_us / count,
            "open_us": (pair_us - seal_us) / count,
            "open_pps": count * 1e6 / max(1, pair_us - seal_us),
            "pair_pps": count * 1e6 / pair_us,
            "handshake_us": hs_us / nh,
            "handshakes_per_s": nh * 1e6 / hs_us,
        }))


main()
