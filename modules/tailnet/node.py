# The node orchestrator: identity + state file, the control session loop (register,
# lite map, streaming map), reconnects with backoff + jitter, the 120 s map watchdog,
# state names and change callbacks.
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
try:
    from time import ticks_ms, ticks_diff
except ImportError:
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from tailnet import control, keys, netmap, state as statefile
from tailnet.control import ControlError, LoginError

NOSTATE = "NoState"
NEEDS_LOGIN = "NeedsLogin"
STARTING = "Starting"
RUNNING = "Running"
STOPPED = "Stopped"

WATCHDOG_MS = 120000
POKE_MS = 15000
BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 60000


def _rand16():
    from tailnet import crypto
    r = crypto.random(2)
    return (r[0] << 8) | r[1]


def backoff_ms(attempt, rnd=None):
    """Exponential backoff with +-25% jitter: 1 s, 2 s, 4 s ... capped at 60 s."""
    base = min(BACKOFF_MAX_MS, BACKOFF_MIN_MS << min(attempt, 16))
    r = _rand16() if rnd is None else rnd
    return base * 3 // 4 + (base // 2) * r // 65536


class Node:
    def __init__(self, control_url, hostname, state_path=None, authkey=None, tags=None,
                 ephemeral=False, capver=control.CAPVER, cadata=None, verbose=1, tls_pin=None):
        self.control_url = control_url
        self.hostname = hostname
        self.state_path = state_path
        self.authkey = authkey
        self.tags = tags
        self.ephemeral = ephemeral
        self.capver = capver
        self.cadata = cadata
        self.tls_pin = control.parse_pin(tls_pin)
        self.verbose = verbose
        self.state = NOSTATE
        self.netmap = netmap.NetMap()
        self.error = None            # last error text
        self.login_error = None      # LoginError that ended run()
        self.auth_url = None
        self._exp = None             # our KeyExpiry (text) from the last netmap
        self.preferred_derp = 0
        self.endpoints = ()
        self.endpoint_types = ()
        self.user = None
        self._cbs = []
        self._netmap_cbs = []
        self._conn = None
        self._task = None
        self._stop = False
        self._last_msg = 0
        self._session_ok = False
        self._rbuf = None
        self._state_data = {}
        self.machine = self.node = self.disco = None
        self.connects = 0

    # ---- callbacks and logging
    def log(self, msg, level=1):
        if self.verbose >= level:
            print("tailnet:", msg)

    def on_state(self, cb):
        self._cbs.append(cb)

    def on_netmap(self, cb):
        self._netmap_cbs.append(cb)

    def _set_state(self, s):
        if s != self.state:
            self.state = s
            self.log("state " + s)
            for cb in self._cbs:
                try:
                    cb(s)
                except Exception as e:
                    self.log("state callback failed: %r" % (e,))

    # ---- identity
    def load_identity(self):
        d = statefile.load(self.state_path) if self.state_path else None
        if d is not None and d.get("control_url") not in (None, self.control_url):
            self.log("state file is for another control server; keeping its machine key", 1)
            d = {"machine": d.get("machine")}
        d = d or {}
        self._state_data = d
        self.machine = keys.machine_private(_unhex(d.get("machine")))
        self.node = keys.node_private(_unhex(d.get("node")))
        self.disco = keys.disco_private()   # disco keys are per process, like tailscaled
        self.preferred_derp = d.get("derp", 0) or 0
        if "machine" not in d:
            self.save_identity()

    def save_identity(self):
        if not self.state_path:
            return
        from binascii import hexlify
        d = self._state_data
        d["control_url"] = self.control_url
        d["machine"] = hexlify(self.machine.secret()).decode()
        d["node"] = hexlify(self.node.secret()).decode()
        if self.preferred_derp:
            d["derp"] = self.preferred_derp
        statefile.save(self.state_path, d)

    # ---- main loop
    async def run(self):
        """Run until stop(), or until control refuses the login (state NeedsLogin,
        self.login_error set)."""
        if self.machine is None:
            self.load_identity()
        if self._rbuf is None:
            self._rbuf = bytearray(4096)
        attempt = 0
        while not self._stop:
            self._session_ok = False
            try:
                await self._session()
            except LoginError as e:
                # not retried: the user must log in again (up() re-raises it)
                self.error = str(e)
                self.login_error = e
                self.log(self.error)
                self._set_state(STOPPED if isinstance(e, control.PinError) else NEEDS_LOGIN)
                await self._drop()
                return
            except Exception as e:  # transport, protocol, hostile input, MemoryError: back off
                if self._stop:
                    break
                self.error = "%s: %s" % (type(e).__name__, e)
                self.log("control: " + self.error)
                attempt = 1 if self._session_ok else attempt + 1
            await self._drop()
            if self._stop:
                break
            if self.state == RUNNING:
                self._set_state(STARTING)
            wait = backoff_ms(attempt - 1 if attempt else 0)
            self.log("reconnecting in %d ms" % wait, 2)
            await self._sleep_ms(wait)
        self._set_state(STOPPED)

    async def _sleep_ms(self, ms):
        while ms > 0 and not self._stop:
            step = min(ms, 200)
            await asyncio.sleep_ms(step) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(step / 1000)
            ms -= step

    async def _drop(self):
        c, self._conn = self._conn, None
        if c is not None:
            await c.close()

    async def _connect(self):
        self.log("connecting to " + self.control_url, 2)
        spub = await control.fetch_server_key(self.control_url, self.capver, self.cadata, pin=self.tls_pin)
        if self._rbuf is None:
            from tailnet.noise import MAX_RECORD
            self._rbuf = bytearray(MAX_RECORD)
        c = control.Conn(self.control_url, self.machine.secret(), spub, self.capver, self.cadata, self._rbuf,
                         self.tls_pin)
        await c.connect()
        self._conn = c
        self.connects += 1
        return c

    async def _session(self):
        if self.state in (NOSTATE, STOPPED):
            self._set_state(STARTING)
        c = await self._connect()
        await self._login(c)
        if self.state != RUNNING:
            self._set_state(STARTING)
        await self._lite_map(c)
        await self._stream_map(c)

    def _hostinfo(self):
        return control.hostinfo(self.hostname, self.preferred_derp)

    async def _register(self, c, authkey=None, expiry=None, followup=None, old=None):
        body = control.register_body(self.capver, self.node.public(), self._hostinfo(), authkey,
                                     old, expiry, self.ephemeral, self.tags, followup)
        st, resp = await c.request("/machine/register", body, None, None if followup else 30)
        return control.parse_register(st, resp)

    async def _login(self, c):
        registered = bool(self._state_data.get("registered"))
        url = self.auth_url     # a login still pending (reconnected): keep waiting on it
        r = await self._register(c, None if registered or url else self.authkey, followup=url)
        if r.get("NodeKeyExpired"):
            # like tailscaled: a new node key (OldNodeKey = the expired one); control keeps
            # the node (same ID, addresses). The auth key if it is still valid, else the AuthURL.
            self.log("node key expired; rotating", 1)
            old = self.node.public()
            self.node = keys.node_private()
            self.save_identity()
            try:
                r = await self._register(c, self.authkey, old=old)
            except LoginError as e:
                if not self.authkey:
                    raise
                self.log("%s; interactive login" % e)
                r = await self._register(c, old=old)
        # A node deleted at control comes back here with an AuthURL: NeedsLogin (we do not
        # silently re-register with the auth key, which would create a new node).
        while r.get("AuthURL"):
            self.auth_url = r["AuthURL"]
            self._set_state(NEEDS_LOGIN)
            print("tailnet: to authenticate, visit:", self.auth_url)
            r = await self._register(c, followup=self.auth_url)
        if not r.get("MachineAuthorized"):
            self._set_state(NEEDS_LOGIN)
            raise LoginError("node is not authorized by control (needs approval)")
        self.auth_url = self._exp = None
        u = r.get("User")
        self.user = u.get("DisplayName") or u.get("LoginName") if isinstance(u, dict) else None
        if not registered:
            self._state_data["registered"] = True
            self.save_identity()

    async def _lite_map(self, c):
        body = control.map_body(self.capver, self.node.public(), self.disco.public(), self._hostinfo(),
                                False, True, self.endpoints, self.endpoint_types)
        st, resp = await c.request("/machine/map", body)
        if st != 200:
            self._map_status(st, resp)

    def _map_status(self, st, resp):
        txt = resp[:200].decode("utf-8", "replace") if resp else ""
        if st in (401, 403, 404):
            # deleted or expired at control: log in again (tailscaled does not reuse auth keys)
            self._state_data["registered"] = False
            self.save_identity()
            self.authkey = None
            raise LoginError("control no longer knows this node (HTTP %d %s): log in again" % (st, txt))
        raise ControlError("map: HTTP %d %s" % (st, txt))

    async def _stream_map(self, c):
        ms = netmap.Stream(into=self.netmap)
        self._last_msg = ticks_ms()

        def sink(chunk):
            for d in ms.feed(chunk):
                self._last_msg = ticks_ms()
                self._session_ok = True
                if self.netmap.apply(d):
                    self._on_netmap(c)

        body = control.map_body(self.capver, self.node.public(), self.disco.public(), self._hostinfo(),
                                True, False, self.endpoints, self.endpoint_types)
        wd = asyncio.create_task(self._watchdog(c))
        try:
            st, resp = await c.request("/machine/map", body, sink, None)
        finally:
            wd.cancel()
        if st != 200:
            self._map_status(st, resp)
        raise ControlError("map stream ended")

    def _on_netmap(self, c):
        nm = self.netmap
        self._check_expiry(True)
        if nm.self_node is not None and self.state != RUNNING and nm.complete:
            self.log("addresses " + " ".join(nm.addresses()), 1)
            self._set_state(RUNNING)
        if not self.preferred_derp and nm.derpmap:
            regs = nm.home_derp_regions()
            if regs:
                self.set_preferred_derp(min(int(k) for k in regs))
        for cb in self._netmap_cbs:
            try:
                cb(nm)
            except Exception as e:
                self.log("netmap callback failed: %r" % (e,))

    async def _watchdog(self, c):
        poke = ticks_ms()
        while True:
            await asyncio.sleep(2)
            if ticks_diff(ticks_ms(), poke) > POKE_MS:
                # a lite map request: notices a node deleted at control (headscale keeps
                # the deleted node's stream open and silent)
                poke = ticks_ms()
                asyncio.create_task(self._lite_update(c))
            try:
                self._check_expiry()
            except ControlError as e:
                c._fail(e)
                return
            if ticks_diff(ticks_ms(), self._last_msg) > WATCHDOG_MS:
                self.log("no map message for 120 s; reconnecting")
                await c.close()
                return

    def _check_expiry(self, fresh=False):
        # Our key expired (control's Expired flag, or KeyExpiry passed on a set clock):
        # NeedsLogin, end the session; the next login rotates the node key.
        if fresh:
            n = self.netmap.self_node
            self._exp = netmap.unpack(n)[netmap.EXPIRY] if n is not None else None
        if key_expired(self._exp):
            self._set_state(NEEDS_LOGIN)
            raise ControlError("node key expired")

    # ---- updates pushed by the data plane
    def set_preferred_derp(self, region):
        if region != self.preferred_derp:
            self.preferred_derp = region
            self.save_identity()
            self._push_update()

    def set_endpoints(self, endpoints, types=()):
        self.endpoints = tuple(endpoints)
        self.endpoint_types = tuple(types)
        self._push_update()

    def _push_update(self):
        c = self._conn
        if c is not None and not c.closed:
            asyncio.create_task(self._lite_update(c))

    async def _lite_update(self, c):
        try:
            await self._lite_map(c)
        except LoginError as e:
            c._fail(e)          # ends the map stream with this error: run() -> NeedsLogin
        except Exception as e:
            self.log("endpoint update failed: %r" % (e,), 2)

    # ---- control
    def start(self):
        self._stop = False
        self._task = asyncio.create_task(self.run())
        return self._task

    async def stop(self):
        self._stop = True
        await self._drop()
        t, self._task = self._task, None
        if t is not None:
            try:
                await asyncio.wait_for(t, 5)
            except BaseException:
                pass
        self._set_state(STOPPED)

    async def logout(self):
        """Expire this node at control (headscale deletes ephemeral nodes), forget the node key."""
        self._stop = True
        c = self._conn
        own = c is None or c.closed
        if own:
            if self.machine is None:
                self.load_identity()
            c = await self._connect()
        try:
            await self._register(c, expiry=control.LOGOUT_EXPIRY)
        finally:
            await self.stop()
        self.node = keys.node_private()
        self._state_data["registered"] = False
        self.save_identity()
        self.netmap = netmap.NetMap()
        self._set_state(NEEDS_LOGIN)


def key_expired(exp, now=None):
    """exp: KeyExpiry text (RFC 3339 UTC, compared as text) or None. The epoch marks
    control's Expired flag; a clock before 2024 (never set) is not trusted."""
    if not exp:
        return False
    if exp < "2000":
        return True
    if now is None:
        import time
        now = time.gmtime()
    return now[0] >= 2024 and "%04d-%02d-%02dT%02d:%02d:%02d" % tuple(now[:6]) >= exp[:19]


def _unhex(s):
    if not s:
        return None
    from binascii import unhexlify
    return unhexlify(s)
