# MicroPython node with the full data plane, for interop tests and benchmarks.
# Run in the host firmware with CFG (a dict) defined first, e.g.
#   micropython -c "CFG = {...}; exec(open('tools/bench/dataplane_node.py').read())"
# CFG: authkey, url, hostname, state, ca (DER file), run (s), stopfile,
#      udp_port (None = DERP only), netstack (bool), cmdfile (optional),
#      attach (bool: dataplane.attach() before Running instead of dataplane.start() after).
# Prints "UP <ipv4> <ipv6> <region>" once the data plane runs and "STATS <json>" at the end.
# With the netstack, lines appended to cmdfile are commands:
#   udp <ip> <port> <count> <size>  -> UDP datagrams through the netstack, one at a time,
#                                      each waiting (3 s max) for its echo; prints
#                                      "UDPECHO <got> <count> <rtt ms list>"
#   udpup <ip> <port> <timeout s>   -> one datagram every 500 ms until an echo arrives;
#                                      prints "UDPUP <ms to first echo>" (or "UDPUP -")
import asyncio
import json
import os

import tailnet
from tailnet import dataplane


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


async def main():
    ca = open(CFG["ca"], "rb").read()
    if CFG.get("attach"):   # the data plane starts by itself once the node is Running
        n = tailnet.start(CFG["authkey"], CFG["url"], CFG["hostname"], CFG["state"],
                          verbose=0, cadata=ca)
        dataplane.attach(n, udp_port=CFG.get("udp_port"), bind=CFG.get("bind", "127.0.0.1"), cadata=ca)
        for _ in range(600):
            if n.dataplane is not None and n.dataplane.transport.derp is not None:
                break
            await asyncio.sleep_ms(100)
        dp = n.dataplane
    else:
        n = await tailnet.up_async(CFG["authkey"], CFG["url"], CFG["hostname"], CFG["state"],
                                   timeout=60, verbose=0, cadata=ca)
        dp = await dataplane.start(n, udp_port=CFG.get("udp_port"), bind=CFG.get("bind", "127.0.0.1"), cadata=ca)
    if not await dp.transport.derp.wait_connected(15000):
        print("NODERP", dp.transport.derp.last_error)
        return
    addrs = [a.split("/")[0] for a in n.netmap.addresses()]
    v4 = [a for a in addrs if "." in a]
    v6 = [a for a in addrs if ":" in a]
    print("UP", v4[0] if v4 else "-", v6[0] if v6 else "-", dp.transport.region)
    ns = None
    if CFG.get("netstack"):
        from tailnet.netstack import Netstack
        ns = Netstack()
        dp.attach_netstack(ns)
    left = CFG["run"] * 1000
    done = 0
    while left > 0 and not _exists(CFG["stopfile"]):
        await asyncio.sleep_ms(100)
        left -= 100
        cmds = _commands(CFG.get("cmdfile"))
        for line in cmds[done:]:
            f = line.split()
            if f and f[0] == "udp" and ns is not None:
                await udp_echo(dp, ns, f[1], int(f[2]), int(f[3]), int(f[4]))
            elif f and f[0] == "udpup" and ns is not None:
                await udp_up(dp, ns, f[1], int(f[2]), int(f[3]))
        done = len(cmds)
    st = {"dp": dp.stats, "ns": ns.stats() if ns else None, "wg": dp.dev.stats(), "conn": dp.transport.conn.stats,
          "derp": dp.transport.derp.stats}
    print("STATS", json.dumps(st))
    await dp.stop()
    await tailnet.down_async()


def _commands(path):
    if not path or not _exists(path):
        return []
    with open(path) as f:
        return [l for l in f.read().split("\n") if l.strip()]


async def udp_echo(dp, ns, ip, port, count, size):
    import time
    s = ns.udp()
    got = 0
    rtts = []
    for i in range(count):
        payload = ("%06d" % i).encode() + b"u" * (size - 6)
        t0 = time.ticks_ms()
        s.sendto(payload, ip, port)
        dp.flush()
        while time.ticks_diff(time.ticks_ms(), t0) < 3000:
            r = s.recvfrom()
            if r is not None and r[0] == payload:
                got += 1
                rtts.append(time.ticks_diff(time.ticks_ms(), t0))
                break
            await asyncio.sleep_ms(1)
    s.close()
    print("UDPECHO", got, count, " ".join(str(x) for x in rtts))


async def udp_up(dp, ns, ip, port, secs):
    import time
    s = ns.udp()
    t0 = time.ticks_ms()
    last = None
    i = 0
    res = "-"
    while time.ticks_diff(time.ticks_ms(), t0) < secs * 1000:
        if last is None or time.ticks_diff(time.ticks_ms(), last) >= 500:
            last = time.ticks_ms()
            s.sendto(("up%06d" % i).encode(), ip, port)
            i += 1
            dp.flush()
        r = s.recvfrom()
        if r is not None and r[0].startswith(b"up"):
            res = str(time.ticks_diff(time.ticks_ms(), t0))
            break
        await asyncio.sleep_ms(5)
    s.close()
    print("UDPUP", res)


asyncio.run(main())
