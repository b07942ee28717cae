# Runs INSIDE the MicroPython host firmware (tools/bench/crypto_bench.py drives
# it): per-call times of the C module through the tailnet.crypto facade.
# Prints "name us_per_call" lines.
import time
from tailnet import crypto


def best(fn, n, reps=5):
    b = None
    for _ in range(reps):
        t0 = time.ticks_us()
        for _ in range(n):
            fn()
        dt = time.ticks_diff(time.ticks_us(), t0) / n
        b = dt if b is None or dt < b else b
    return b


sk = bytes(range(1, 33))
pk = crypto.x25519_base(bytes(range(2, 34)))
key = bytes(range(32))
n12 = bytes(12)
n24 = bytes(24)
print("x25519", best(lambda: crypto.x25519(sk, pk), 40))
for size in (64, 1024, 1420):
    buf = bytearray(size + 16)
    pt = memoryview(buf)[:size]
    print("aead_seal_%d" % size, best(lambda: crypto.aead_seal(key, n12, pt, None, buf), 400))
    sb = bytearray(size + 16)
    m = memoryview(sb)[16:]
    print("secretbox_seal_%d" % size, best(lambda: crypto.secretbox_seal(key, n24, m, sb), 400))
