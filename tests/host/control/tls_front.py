"""Plain-TCP front door to an HTTPS server (CPython): every connection to 127.0.0.1:<listen>
is piped byte for byte into TLS to localhost:<target> (verified with <ca.pem>).
The ts2021 upgrade is HTTP/1.1 followed by raw Noise bytes, so this lets a client reach
the test Headscale over plain HTTP (mbedTLS needs ~40 KiB of the MicroPython heap, which a
64 KiB-heap run cannot spare).  Usage: tls_front.py <listen port> <target port> <ca.pem>"""
import asyncio
import ssl
import sys


async def pipe(r, w):
    try:
        while True:
            d = await r.read(65536)
            if not d:
                break
            w.write(d)
            await w.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass


async def main(listen, target, ca):
    ctx = ssl.create_default_context(cafile=ca)

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("localhost", target, ssl=ctx)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw), pipe(sr, cw))

    srv = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
