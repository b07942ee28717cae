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
  on rp2/stm32. This is the stand-in for rp2 (Pico W) and other bare-metal ports.
- 32bit-esp: build/host32-esp/micropython (built by the esp_firmware fixture:
  `TLS_HEAP=libc tests/host/control/build_host32.sh`, ~3 s when up to date, ~1 min from
  scratch): the same 32-bit build and the same mbedTLS 3.6 configuration (IN 16384 / OUT 4096,
  which are also ESP-IDF's CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN defaults), except that mbedTLS
  allocates with libc calloc/free instead of m_tracked_calloc. That is what ESP32 boards do:
  MicroPython's esp32 port uses ESP-IDF's mbedTLS, which allocates its contexts and record
  buffers from the IDF heap, not from the MicroPython GC heap. So this is the stand-in for
  ESP32 only; it says nothing about rp2 (there the TLS buffers are in the GC heap: the 32bit
  case). What the cap does not cover on ESP32: the ~2 x 23 KB of TLS state then needed in the
  IDF heap (plus lwIP and Wi-Fi buffers), which must fit beside the MicroPython heap.
- 64bit: build/host/micropython (`make host`): Debian's system mbedTLS 2.28 allocates the TLS
  buffers with libc malloc (outside the heap), but its entropy context embeds a 36 KB
  HAVEGE state, so each tls.SSLContext costs 40 KB of heap (one context is shared).

The demo collects garbage every 2 KB allocated (gc.threshold(2048), TAILNET_GC_THRESHOLD in
examples/host_demo.py) and stops cleanly (tailnet.down_async) when tools/demo.py asks.

The issue asks for 96K. The caps below passed 3+ consecutive runs (2026-11-28): 96K on the
ESP32 stand-in (peak live ~86 KB; 92K failed without the GC threshold, 88K passed once with
it), 136K on the rp2 stand-in (peak live ~132 KB, so no lower cap can hold; without the GC
threshold it needed 152K: at 144K the DERP connection's 16.5 KB TLS record buffer found no
contiguous free block, ENOMEM, with 39 KB free), 184K on the 64-bit build (peak live ~178 KB;
200K without the GC threshold). Peak live includes the clean shutdown (down_async, ~2 KB).
test_96k says why 96K is not reached on the rp2 stand-in."""
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
CAP32 = os.environ.get("TAILNET_DEMO_HEAP32", "136K")
CAP32ESP = os.environ.get("TAILNET_DEMO_HEAP32ESP", "96K")
CAP64 = os.environ.get("TAILNET_DEMO_HEAP64", "184K")
BUILD32 = os.path.join(REPO, "tests", "host", "control", "build_host32.sh")


def _m32_ok():
    p = subprocess.run(["gcc", "-m32", "-x", "c", "-", "-o", os.devnull],
                       input="int main(void){return 0;}", capture_output=True, text=True)
    return p.returncode == 0


@pytest.fixture(scope="module")
def esp_firmware():
    """build/host32-esp/micropython, (re)built now so its frozen tailnet is the tree's: the
    32-bit firmware whose mbedTLS allocates with libc calloc/free (ESP32: the IDF heap)."""
    if not _m32_ok():
        pytest.skip("no 32-bit gcc (gcc-multilib): the ESP32 stand-in cannot be built")
    p = subprocess.run([BUILD32], env=dict(os.environ, TLS_HEAP="libc", BUILD=BUILD),
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    fw = os.path.join(BUILD, "host32-esp", "micropython")
    assert os.access(fw, os.X_OK), p.stderr[-3000:]
    return fw


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
@pytest.mark.parametrize("fw,cap", [
    pytest.param("32bit", CAP32, marks=NEED32, id="32bit-rp2-" + CAP32),
    pytest.param("32bit-esp", CAP32ESP, id="32bit-esp-" + CAP32ESP),
    pytest.param("64bit", CAP64, id="64bit-" + CAP64)])
def test_demo_under_heap_cap(fw, cap, request):
    """32bit-rp2: TLS buffers in the GC heap (rp2, stm32). 32bit-esp: the ESP32 stand-in, TLS
    buffers in the libc heap as ESP-IDF's mbedTLS keeps them in the IDF heap; the same demo,
    same checks; it says nothing about rp2 (see 32bit-rp2). 64bit: the default host build."""
    firmware = {"32bit": MICROPYTHON32, "64bit": MICROPYTHON}.get(fw) or request.getfixturevalue("esp_firmware")
    ok, lines, stages, peak = run_demo(firmware, cap)
    assert all(ok.values()), (ok, lines[-30:])
    assert not [l for l in lines if "MemoryError" in l or "ENOMEM" in l or "Errno 12" in l], lines
    m = re.match(r"heap: peak (\d+) B, peak live (\d+) B, heap size (\d+) B", peak[0]) if peak else None
    assert m, lines[-10:]
    hi, live, size = (int(x) for x in m.groups())
    # the firmware really ran with the cap, and the heap never held more than that
    assert size <= _kib(cap) + 1024 and live <= hi <= size, peak
    assert [s.split(":")[1].strip() for s in stages][:4] == ["start", "up", "serving", "pinged"], stages


# Why the rp2 stand-in cannot reach 96K (measured; 136K is its floor, peak live ~132 KB): two TLS
# connections (control + DERP) take ~48 KB of mbedTLS buffers and contexts (a 16 KB input record
# buffer each: Go TLS servers send 16 KB records and ignore max_fragment_length), ~32 KB are
# imported tailnet modules (function/class objects), WireGuard peers 7.9 KB, DERP/IO buffers
# ~12 KB, the rest control/netmap/magicsock/netstack state; and the DERP connection's 16.5 KB
# record buffer needs one contiguous free block.


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


def tls_probe(firmware, tmp_path):
    """One TLS connection from `firmware` to a local server -> (bytes of MicroPython heap it
    holds while open, bytes closing it gives back, mbedTLS version)."""
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
    p = subprocess.run([firmware, "-X", "heapsize=96K", "-c", TLS_PROBE % port],
                       capture_output=True, text=True, timeout=60)
    th.join(10)
    srv.close()
    out = p.stdout.split()
    assert p.returncode == 0 and out[:2] == ["TLS", "ping"], (p.stdout, p.stderr)
    held, freed = int(out[2]), int(out[3])
    print("%s, %s: one TLS connection holds %d B of the MicroPython heap" % (
        os.path.relpath(firmware, BUILD), " ".join(out[4:]), held))
    return held, freed, " ".join(out[4:])


@NEED32
def test_host32_tls_buffers_are_in_the_heap(tmp_path):
    """The 32-bit rp2 stand-in's TLS (the demo's control and DERP connections) allocates its
    record buffers from the MicroPython heap, as rp2/stm32 do: one open connection holds
    more than IN 16384 + OUT 4096 bytes of it, and closing gives them back."""
    held, freed, _ = tls_probe(MICROPYTHON32, tmp_path)
    assert held > 16384 + 4096 and freed > 16384 + 4096


def test_host32_esp_tls_buffers_are_outside_the_heap(tmp_path, esp_firmware):
    """The ESP32 stand-in's mbedTLS (same version and configuration) allocates from libc, as
    ESP-IDF's does from the IDF heap: an open connection holds only its Python objects
    (socket and SSLSocket, well under 4 KB) of the MicroPython heap."""
    held, freed, version = tls_probe(esp_firmware, tmp_path)
    assert version.startswith("Mbed TLS 3.6") and 0 < held < 4096 and freed < 4096, (held, freed)
