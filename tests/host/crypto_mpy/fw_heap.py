# Runs INSIDE the MicroPython host firmware: seal/open with caller buffers
# must not allocate (micropython.heap_lock makes any allocation raise).
import micropython
from tailnet import crypto

key = bytes(range(32))
n12 = bytes(12)
n24 = bytes(24)
ad = b"header"
buf = bytearray(1500)
mv = memoryview(buf)
pt = mv[:1420]
ct = mv[:1436]
sb = bytearray(1436)
sbv = memoryview(sb)
sb_m = sbv[16:]
res = []

# Negative control: without `out`, seal allocates and heap_lock catches it.
micropython.heap_lock()
try:
    crypto.aead_seal(key, n12, pt, ad)
    res.append("control: no MemoryError")
except MemoryError:
    pass
micropython.heap_unlock()

def packet_loop(key, n12, n24, ad, buf, pt, ct, sb, sb_m, res):
    # Locals only (a global store could grow the globals dict) and a while
    # loop (range() allocates).
    i = 0
    while i < 50:
        i += 1
        if crypto.aead_seal(key, n12, pt, ad, buf) != 1436:
            res[0] += 1
        if crypto.aead_open(key, n12, ct, ad, buf) != 1420:
            res[0] += 1
        if crypto.aead_seal(key, n12, pt, ad=ad, out=buf) != 1436:
            res[0] += 1
        buf[0] ^= 1
        if crypto.aead_open(key, n12, ct, ad, out=buf) != -1:
            res[0] += 1
        buf[0] ^= 1
        if crypto.aead_open(key, n12, ct, ad, buf) != 1420:
            res[0] += 1
        if crypto.xaead_seal(key, n24, pt, ad, buf) != 1436:
            res[0] += 1
        if crypto.xaead_open(key, n24, ct, ad, buf) != 1420:
            res[0] += 1
        if crypto.secretbox_seal(key, n24, sb_m, sb) != 1436:
            res[0] += 1
        if crypto.secretbox_open(key, n24, sb, sb_m) != 1420:
            res[0] += 1


errs = [0]
micropython.heap_lock()
try:
    packet_loop(key, n12, n24, ad, buf, pt, ct, sb, sb_m, errs)
except MemoryError:
    res.append("MemoryError with provided buffers")
finally:
    micropython.heap_unlock()
if errs[0]:
    res.append("%d wrong results" % errs[0])
print("HEAP", res)
