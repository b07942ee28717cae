# tailnet example main.py: join the tailnet at boot, using the configuration that
# tools/provision wrote (tailnet.json, tailnet.authkey, optional tailnet_ca.der).
#
#  1. connect wifi (boards with network.WLAN; skipped on the host firmware / wired boards)
#  2. tailnet.up() with the auth key, retrying with backoff (wifi drops, control unreachable)
#  3. once registered, delete tailnet.authkey from flash: the key could enroll other devices,
#     and later boots log in with the node identity persisted in tailnet.state
#  4. print the status (like `tailscale status`) and keep the node running
import json
import os
import time

CONFIG = "tailnet.json"
AUTHKEY = "tailnet.authkey"
STATE = "tailnet.state"
MAX_BACKOFF_S = 120


def log(*args):
    print("[main]", *args)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def load_config():
    data = read(CONFIG)
    if data is None:
        raise OSError("no %s: run tools/provision first" % CONFIG)
    return json.loads(data)


def wifi_connect(cfg, timeout_s=30):
    """True when the network is up (or not needed on this board)."""
    w = cfg.get("wifi")
    try:
        import network
    except ImportError:
        return True
    if not w or not hasattr(network, "WLAN"):
        return True
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    log("wifi: connecting to", w["ssid"])
    wlan.connect(w["ssid"], w["password"])
    t0 = time.ticks_ms()
    while not wlan.isconnected():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_s * 1000:
            log("wifi: no connection after", timeout_s, "s, status", wlan.status())
            return False
        time.sleep_ms(250)
    log("wifi: up,", wlan.ifconfig()[0])
    return True


def forget_authkey():
    try:
        os.remove(AUTHKEY)
        log("auth key deleted from flash (the node is registered)")
    except OSError:
        pass


def join(cfg, timeout_s=90):
    """One attempt: returns the node once Running, raises otherwise."""
    import tailnet

    key = read(AUTHKEY)
    if key is None and read(STATE) is None:
        raise OSError("neither %s nor %s: provision an auth key" % (AUTHKEY, STATE))
    ca = read(cfg["ca"]) if cfg.get("ca") else None
    node = tailnet.up(authkey=key.decode().strip() if key else None,
                      control_url=cfg["control_url"], hostname=cfg["hostname"],
                      state_path=STATE, tags=cfg.get("tags") or None,
                      ephemeral=cfg.get("ephemeral", False), timeout=timeout_s, cadata=ca)
    if key is not None:
        forget_authkey()
    return node


def main(max_attempts=None, run=True):
    cfg = load_config()
    attempt = 0
    backoff = 2
    while True:
        attempt += 1
        try:
            if not wifi_connect(cfg):
                raise OSError("wifi not connected")
            join(cfg)
            break
        except Exception as e:  # keep the board alive: log, back off, retry
            log("attempt", attempt, "failed:", repr(e))
            try:
                import tailnet
                tailnet.down()
            except Exception:
                pass
            if max_attempts is not None and attempt >= max_attempts:
                raise
            log("retrying in", backoff, "s")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
    import tailnet
    log("tailnet up after", attempt, "attempt(s)")
    tailnet.status()
    try:
        import gc
        gc.collect()
        log("heap free:", gc.mem_free())
    except Exception:
        pass
    if run:
        tailnet.run_forever()


if __name__ == "__main__":
    main()
