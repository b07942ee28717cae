"""Register many nodes in a control server through our own control client (CPython):
fresh machine + node + disco keys each, register with an auth key, one lite map request.
Usage: python3 fakes.py <control url> <authkey> <count> [<first index>]"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "modules"))


async def register_fakes(url, authkey, n, start=0, cadata=None, parallel=8):
    from tailnet import control, keys
    spub = await control.fetch_server_key(url, cadata=cadata)
    sem = asyncio.Semaphore(parallel)

    async def one(i):
        async with sem:
            mk, nk, dk = keys.machine_private(), keys.node_private(), keys.disco_private()
            c = control.Conn(url, mk.secret(), spub, cadata=cadata)
            await c.connect()
            try:
                hi = control.hostinfo("fake%d" % (start + i), 999)
                st, body = await c.request("/machine/register", control.register_body(
                    control.CAPVER, nk.public(), hi, authkey))
                control.parse_register(st, body)
                await c.request("/machine/map", control.map_body(
                    control.CAPVER, nk.public(), dk.public(), hi, False, True,
                    ["127.0.0.1:%d" % (30000 + start + i)], [1]))
            finally:
                await c.close()
    await asyncio.gather(*[one(i) for i in range(n)])


if __name__ == "__main__":
    url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(register_fakes(url, key, n, int(sys.argv[4]) if len(sys.argv) > 4 else 0))
