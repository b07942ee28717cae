"""tailnet: a Tailscale-compatible node for MicroPython.

    import tailnet
    tailnet.up(authkey="...", control_url="https://hs.example", hostname="pico1")
    tailnet.status()

up() blocks until the node is Running and returns; the node keeps running in the
asyncio loop (use asyncio or tailnet.run_forever()). In async code use
`await tailnet.up_async(...)`. States: NoState, NeedsLogin, Starting, Running, Stopped.
Without an authkey the node prints a login URL (also in status()) and waits until it
is approved; an expired node key is replaced (re-registered with the authkey if any).
"""
__version__ = "0.1.0"

DEFAULT_CONTROL_URL = "https://controlplane.tailscale.com"
_node = None
_loop = None
_pending_cbs = []


def _asyncio():
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    return asyncio


def _run(coro):
    global _loop
    aio = _asyncio()
    if _loop is None:
        _loop = aio.new_event_loop() if hasattr(aio, "new_event_loop") else aio.get_event_loop()
    return _loop.run_until_complete(coro)


def current():
    """The current Node object (None before up())."""
    return _node


def on_state(cb):
    """Call cb(state_name) on every state change."""
    if _node is not None:
        _node.on_state(cb)
    else:
        _pending_cbs.append(cb)


def start(authkey=None, control_url=DEFAULT_CONTROL_URL, hostname=None, state_path="tailnet.state",
          tags=None, ephemeral=False, verbose=1, cadata=None, tls_pin=None):
    """Create the node and start it as an asyncio task (call from async code).
    TLS to control: cadata = CA certificate (DER) to verify against; tls_pin =
    "sha256/<hex or base64>" (or 32 bytes) of the server certificate (DER), checked
    instead of a CA (also on DERP when its host is the control host); a mismatch stops
    the node (state Stopped) and up() raises PinError. Neither: TLS is not verified
    (Noise authenticates control)."""
    global _node
    from tailnet.node import Node
    if _node is not None and _node._task is not None:
        return _node
    if hostname is None:
        import sys
        hostname = "micropython-" + sys.platform
    _node = Node(control_url, hostname, state_path, authkey, tags, ephemeral,
                 cadata=cadata, verbose=verbose, tls_pin=tls_pin)
    for cb in _pending_cbs:
        _node.on_state(cb)
    _node.start()
    return _node


async def up_async(authkey=None, control_url=DEFAULT_CONTROL_URL, hostname=None,
                   state_path="tailnet.state", tags=None, ephemeral=False, timeout=None,
                   verbose=1, cadata=None, tls_pin=None):
    """Start the node and wait until it is Running. Raises on login errors or timeout."""
    aio = _asyncio()
    n = start(authkey, control_url, hostname, state_path, tags, ephemeral, verbose, cadata, tls_pin)
    waited = 0
    while n.state != "Running":
        if n.login_error is not None:
            raise n.login_error
        t = n._task
        if t is None or t.done():
            raise OSError("tailnet stopped: %s" % (n.error or n.state))
        if timeout is not None and waited >= timeout * 10:
            why = ("log in at " + n.auth_url) if n.auth_url else (n.error or n.state)
            raise OSError("tailnet: not Running after %s s (%s: %s)" % (timeout, n.state, why))
        await aio.sleep(0.1)
        waited += 1
    return n


def up(authkey=None, control_url=DEFAULT_CONTROL_URL, hostname=None, state_path="tailnet.state",
       tags=None, ephemeral=False, timeout=None, verbose=1, cadata=None, tls_pin=None):
    """Blocking: log in and return once Running (the node keeps running under asyncio)."""
    return _run(up_async(authkey, control_url, hostname, state_path, tags, ephemeral,
                         timeout, verbose, cadata, tls_pin))


def run_forever():
    """Keep servicing the node (blocking)."""
    aio = _asyncio()

    async def forever():
        while True:
            await aio.sleep(3600)
    _run(forever())


async def down_async():
    if _node is not None:
        await _node.stop()


def down():
    """Stop the node (keeps its identity)."""
    _run(down_async())


async def logout_async():
    if _node is not None:
        await _node.logout()


def logout():
    """Log out at control (ephemeral nodes are deleted) and forget the node key."""
    _run(logout_async())


def status(verbose=True):
    """Print (and return) state, addresses and peers, like `tailscale status`."""
    from tailnet.statusfmt import status as _status
    return _status(_node, verbose)
