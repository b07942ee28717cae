"""The whole `make demo` scenario under a MicroPython heap cap: tools/demo.py (real Headscale
over TLS, its embedded DERP over TLS, one real tailscaled peer) runs examples/host_demo.py in
the firmware with -X heapsize=CAP: join, DERP, disco, netstack, an HTTP page that the
tailscaled peer fetches (tailscale nc), and the node pinging the peer. The node prints its
live heap after each step and the peak (gc.mem_alloc high water: sampled every 10 ms, and
after gc.collect() every 200 ms); the test prints them and checks the cap held.

Firmware:
- 32bit: build/host32/micropython (`make host32`): the boards' object sizes, and mbedTLS 3.6
  built with MicroPython's board configuration, so both TLS connections' record buffers
  (IN 16384 + OUT 4096 bytes each, ~23 KB per connection) come from the MicroPython heap as
  on rp2/stm32. This is the stand-in for a board.
- 64bit: build/host/micropython (`make host`): Debian's system mbedTLS 2.28 allocates the TLS
  buffers with libc malloc (outside the heap), but its entropy context embeds a 36 KB
  HAVEGE state, so each tls.SSLContext costs 40 KB of heap (one context is shared).

The issue asks for 96K. The lowest caps that passed 3+ consecutive runs (2026-11-28): 152K
on the 32-bit build (peak live ~130 KB; 144K fails: the DERP connection's 16.5 KB TLS record
buffer finds no contiguous block, ENOMEM) and 200K on the 64-bit build (peak live ~174 KB;
192K passed once). test_96k says why 96K is not reached."""
import os
import re
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from mpy import BUILD, MICROPYTHON, REPO

sys.path.insert(0, os.path.join(REPO, "tools"))

MICROPYTHON32 = os.path.join(BUILD, "host32", "micropython")
NEED32 = pytest.mark.skipif(not os.access(MICROPYTHON32, os.X_OK),
                            reason="32-bit firmware missing: make host32 (gcc-multilib)")
CAP32 = os.environ.get("TAILNET_DEMO_HEAP32", "152K")
CAP64 = os.environ.get("TAILNET_DEMO_HEAP64", "200K")


def _kib(cap):
    return int(cap[:-1]) * 1024


def run_demo(firmware, cap):
    import demo
    ok, lines = demo.run(heapsize=cap, heap_report=True, firmware=firmware)
    stages = [l for l in lines if l.startswith("heap: ") and ": live " in l]
    peak = [l for l in lines if l.startswith("heap: peak ")]
    print("\n%s, -X heapsize=%s:" % (os.path.basename(os.path.dirname(firmware)), cap))
    for l in stages + peak:
        print("   " + l)
    return ok, lines, stages, peak


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("fw,cap", [pytest.param("32bit", CAP32, marks=NEED32), ("64bit", CAP64)])
def test_demo_under_heap_cap(fw, cap):
    firmware = MICROPYTHON32 if fw == "32bit" else MICROPYTHON
    ok, lines, stages, peak = run_demo(firmware, cap)
    assert all(ok.values()), (ok, lines[-30:])
    assert not [l for l in lines if "MemoryError" in l or "ENOMEM" in l or "Errno 12" in l], lines
    m = re.match(r"heap: peak (\d+) B, peak live (\d+) B, heap size (\d+) B", peak[0]) if peak else None
    assert m, lines[-10:]
    hi, live, size = (int(x) for x in m.groups())
    # the firmware really ran with the cap, and the heap never held more than that
    assert size <= _kib(cap) + 1024 and live <= hi <= size, peak
    assert [s.split(":")[1].strip() for s in stages][:4] == ["start", "up", "serving", "pinged"], stages


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.xfail(run=False, strict=True, reason=(
    "96K not reached: on the 32-bit board stand-in the live heap after the ping is ~130 KB: "
    "two TLS connections (control + DERP) ~48 KB of mbedTLS buffers and contexts (IN record "
    "buffer 16 KB each: Go TLS servers send 16 KB records and ignore max_fragment_length), "
    "~32 KB of imported tailnet modules (function/class objects), WireGuard peers 7.9 KB, "
    "DERP/IO buffers ~12 KB, the rest control/netmap/magicsock/netstack state; and the "
    "DERP connection's 16.5 KB record buffer needs a contiguous free block (ENOMEM at 144K "
    "with 40 KB free but fragmented)"))
def test_96k():
    ok, lines, _, _ = run_demo(MICROPYTHON32, "96K")
    assert all(ok.values()), lines[-30:]


TLS_PROBE = """
import gc, socket, tls
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = tls.CERT_NONE
gc.collect(); a = gc.mem_alloc()
s = socket.socket(); s.connect(socket.getaddrinfo("127.0.0.1", %d)[0][-1])
t = ctx.wrap_socket(s, server_hostname="localhost")
t.write(b"ping"); r = t.read(4)
gc.collect(); b = gc.mem_alloc()
t.close(); gc.collect(); c = gc.mem_alloc()
print("TLS", r.decode(), b - a, b - c, tls.MBEDTLS_VERSION)
"""


@NEED32
def test_host32_tls_buffers_are_in_the_heap(tmp_path):
    """The 32-bit firmware's TLS (the demo's control and DERP connections) allocates its
    record buffers from the MicroPython heap, as the boards do: one open connection holds
    more than IN 16384 + OUT 4096 bytes of it, and closing gives them back."""
    key, crt = str(tmp_path / "k.pem"), str(tmp_path / "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        with sctx.wrap_socket(c, server_side=True) as t:
            t.sendall(t.recv(4))

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    p = subprocess.run([MICROPYTHON32, "-X", "heapsize=96K", "-c", TLS_PROBE % port],
                       capture_output=True, text=True, timeout=60)
    th.join(10)
    srv.close()
    out = p.stdout.split()
    assert p.returncode == 0 and out[:2] == ["TLS", "ping"], (p.stdout, p.stderr)
    held, freed = int(out[2]), int(out[3])
    print("32-bit firmware, %s: one TLS connection holds %d B of the MicroPython heap" % (
        " ".join(out[4:]), held))
    assert held > 16384 + 4096 and freed > 16384 + 4096
