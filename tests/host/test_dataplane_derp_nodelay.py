"""The DERP connection runs without Nagle (derp_client._nodelay on the raw socket under TLS).

With Nagle, a small frame written while our previous small frame is unacknowledged waits for
the server's delayed ACK (~40 ms on Linux): the TCP ACKs and window updates the node sends
over DERP for a download were held that long, so a 4 KiB-window download over DERP ran at
~89 KiB/s instead of ~900 (tools/bench/tcp_throughput.py --paths derp).

Here the host firmware opens the DERP client's TLS connection (_open_tls) to a CPython TLS
server that forces delayed ACKs (TCP_QUICKACK off before every read) and writes 12 small
records 10 ms apart; the server timestamps their arrival. Without Nagle they arrive one by
one ~10 ms apart; with Nagle (the same client, _nodelay disabled) they bunch up behind the
40 ms delayed ACKs. Both runs, so the test shows the mechanism and not just a timing."""
import os
import socket
import ssl
import sys
import threading
import time

import pytest

from mpy import MICROPYTHON, REPO, run_mpy

N = 12
CLIENT = r"""
import asyncio
from tailnet import derp_client
if not NODELAY:
    derp_client._nodelay = lambda s: None
async def main():
    ctx = derp_client.tls_context(False, open(CA, 'rb').read())
    r, raw = await derp_client._open_tls('127.0.0.1', PORT, ctx, 'localhost')
    r.write(b'H')
    await r.drain()
    b = bytearray(1)
    await derp_client._readinto(r, memoryview(b), raw)   # server ready
    for i in range(%d):
        r.write(b'%%02d' %% i + b'x' * 30)
        await r.drain()
        await asyncio.sleep_ms(10)
    await asyncio.sleep_ms(200)
    r.close()
    print('DONE')
asyncio.run(main())
""" % N


def _arrivals(tmp, nodelay):
    sys.path.insert(0, os.path.join(REPO, "tools"))
    from testnet import make_ca

    os.makedirs(tmp, exist_ok=True)
    paths = make_ca(tmp)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(30)
    got = []

    def serve():
        c, _ = ls.accept()
        s = ctx.wrap_socket(c, server_side=True)
        assert s.recv(1) == b"H"
        s.sendall(b"G")
        data = b""
        while True:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            b = s.recv(4096)
            if not b:
                break
            data += b
            while len(data) >= 32:
                got.append((int(data[:2]), time.monotonic()))
                data = data[32:]
        s.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    out = run_mpy("CA = %r\nPORT = %d\nNODELAY = %r\n" % (paths["ca.der"], ls.getsockname()[1], nodelay)
                  + CLIENT, timeout=60).stdout
    th.join(10)
    ls.close()
    assert "DONE" in out, out
    assert [i for i, _ in got] == list(range(N)), got
    gaps = [(b[1] - a[1]) * 1000 for a, b in zip(got, got[1:])]
    return gaps


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="host firmware not built")
def test_derp_tls_socket_has_no_nagle(tmp_path):
    with_nagle = _arrivals(str(tmp_path / "a"), False)
    without = _arrivals(str(tmp_path / "b"), True)
    bunched = lambda gaps: sum(1 for g in gaps if g < 3)   # noqa: E731 (arrived together)
    print("\ngaps between arrivals, ms: with Nagle %s\n  without (as shipped) %s"
          % ([round(g) for g in with_nagle], [round(g) for g in without]))
    assert bunched(with_nagle) >= 5, with_nagle     # the mechanism is there on this kernel
    assert bunched(without) <= 2, without
    assert max(without) < 35 or sorted(without)[len(without) // 2] < 20, without
