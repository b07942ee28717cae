# Runs inside the host firmware (or CPython): join a control server with tailnet.up_async,
# print STATUS lines while the map stream runs, then down or logout. Config: JSON file in
# $TN_CFG. Prints "PEAK <bytes>" (gc.mem_alloc sampled every 10 ms) at the end.
import gc
import json
import os
import time
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
import tailnet

cfg = json.loads(open(os.getenv("TN_CFG")).read())
ca = open(cfg["ca"], "rb").read() if cfg.get("ca") and not cfg.get("no_ca") else None
peak = [0]


def _alloc():
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


peak_live = [0]


async def sampler():
    # PEAK: gc.mem_alloc() every 10 ms (includes garbage not yet collected, so it
    # approaches the cap); PEAKLIVE: after gc.collect() every 200 ms (live data only).
    k = 0
    while True:
        a = _alloc()
        if a > peak[0]:
            peak[0] = a
        k += 1
        if k % 20 == 0:
            gc.collect()
            a = _alloc()
            if a > peak_live[0]:
                peak_live[0] = a
        await asyncio.sleep(0.01)


def brief():
    # compact: the full status() of hundreds of peers would not fit a small heap
    n = tailnet.current()
    nm = n.netmap
    d = {"state": n.state, "addrs": nm.addresses(), "npeers": len(nm.peers), "error": n.error}
    if len(nm.peers) <= 20:
        st = tailnet.status(False)
        d["peers"] = [[p["Name"], p["Addresses"], p["Online"]] for p in st["Peers"]]
    return d


async def main():
    gc.collect()
    print("BASE", _alloc())
    asyncio.create_task(sampler())
    t0 = time.time()
    if cfg.get("watch"):    # login progress: state callbacks, WAIT lines, status() printout
        tailnet.on_state(lambda s: print("CB", s))
        asyncio.create_task(watch())
    try:
        await tailnet.up_async(cfg.get("authkey"), cfg["url"], cfg["hostname"], cfg["state"],
                               ephemeral=cfg.get("ephemeral", False), timeout=cfg.get("timeout", 60),
                               verbose=cfg.get("verbose", 1), cadata=ca, tls_pin=cfg.get("tls_pin"))
    except Exception as e:
        print("ERROR", type(e).__name__, e)
        if cfg.get("watch"):
            t1 = time.time()
            await tailnet.down_async()
            print("DOWN %s %.1f" % (tailnet.current().state, time.time() - t1))
        print("PEAK", peak[0])
        return
    print("JOINED %.1f" % (time.time() - t0))
    gc.collect()
    print("LIVE", _alloc())
    end = time.time() + cfg.get("run", 0)
    while True:
        print("STATUS", json.dumps(brief()))
        if time.time() >= end or (cfg.get("stopfile") and _exists(cfg["stopfile"])):
            break
        await asyncio.sleep(cfg.get("interval", 1))
    if cfg.get("logout"):
        await tailnet.logout_async()
        print("LOGGEDOUT")
    else:
        await tailnet.down_async()
    gc.collect()
    print("PEAK", peak[0])
    print("PEAKLIVE", peak_live[0])


async def watch():
    shown = None
    while True:
        await asyncio.sleep(cfg.get("interval", 1))
        n = tailnet.current()
        if n is None or n.state == "Running":
            continue
        print("WAIT", json.dumps({"state": n.state, "auth_url": n.auth_url, "error": n.error}))
        if n.auth_url != shown:
            shown = n.auth_url
            tailnet.status()


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


asyncio.run(main())
