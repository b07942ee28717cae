# Control client: /key, the /ts2021 upgrade, Noise, HTTP/2, register and the map stream.
# I/O is asyncio streams; every protocol layer below is sans-I/O (noise, h2, hpack, netmap).
import json
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
import hashlib
from binascii import a2b_base64, b2a_base64, hexlify, unhexlify

from tailnet import h2, noise
from tailnet.keys import parse_hex, MKEY, NODEKEY, zero_text
from tailnet import jsonstream

try:
    import gc
    _mem_free = gc.mem_free
except (ImportError, AttributeError):   # CPython
    _mem_free = None
TIDY_BELOW = 20000


def tidy():
    """Collect early when the heap runs low: on a small heap this keeps the free space
    in large blocks (fewer MemoryErrors from fragmentation)."""
    if _mem_free is not None:
        f = _mem_free()
        if f < TIDY_BELOW or f < gc.mem_alloc():
            gc.collect()

# Capability version sent in /key?v=, the Noise prologue/header, RegisterRequest and
# MapRequest. 133 = Tailscale v1.96: above headscale's minimum (113), after every semantic
# change we rely on (Noise 28, EarlyNoise 49, read-only streams 68, PacketFilters 81,
# HomeDERP 111, AllowedIPs==null 112) and before 144 (TSMP disco-key advertisements, which
# we do not implement).
CAPVER = 133
IPN_VERSION = "1.96.0-tailnet"
EARLY_MAGIC = b"\xff\xff\xffTS"
MAX_EARLY = 65536        # the early payload is a ~100-byte JSON; refuse anything huge
SLICE = 256            # plaintext passed on per step: the largest transient copies (h2, JSON) stay ~300 B
MAX_BODY = 65536         # non-streaming response bodies we keep
LOGOUT_EXPIRY = "1970-01-01T00:02:03Z"   # time.Unix(123, 0): "log out" (tailscaled)
ZERO_TIME = "0001-01-01T00:00:00Z"


class ControlError(Exception):
    """Transport/protocol failure: retry with backoff."""


class LoginError(Exception):
    """Control refused the login (bad/expired key...): do not retry blindly."""


class PinError(LoginError):
    """The server's TLS certificate does not match tls_pin: configuration error (or an
    interception); the node stops instead of retrying."""


def parse_pin(p):
    """tls_pin: None, 32 bytes, or 'sha256/<hex or base64>' (SHA-256 of the certificate DER)."""
    if p is None:
        return None
    if isinstance(p, str):
        p = p[7:] if p.startswith("sha256/") else p
        try:
            p = unhexlify(p) if len(p) == 64 else a2b_base64(p)
        except Exception:
            p = b""
    if len(p) != 32:
        raise ValueError("tls_pin: want sha256/<hex or base64> of the server certificate (DER)")
    return bytes(p)


def check_pin(w, pin, what="control"):
    """Raise PinError unless sha256(peer certificate DER) of stream w == pin."""
    s = w.s if hasattr(w, "s") else w.get_extra_info("ssl_object")  # MicroPython / CPython
    f = getattr(s, "getpeercert", None)
    der = f(True) if f is not None else None
    got = hashlib.sha256(der).digest() if der else None
    if got != pin:
        raise PinError("TLS certificate of %s does not match tls_pin: expected sha256/%s, got %s" % (
            what, hexlify(pin).decode(), ("sha256/" + hexlify(got).decode()) if got else "no certificate"))


def parse_url(url):
    """'http://host:port' -> (tls, host, port)."""
    if url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    elif url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    else:
        raise ValueError("control URL must start with http:// or https://")
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):
        k = rest.find("]")
        host, tail = rest[1:k], rest[k + 1:]
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in rest:
        host, p = rest.rsplit(":", 1)
        port = int(p)
    else:
        host = rest
    return tls, host, port


def _tls_context(cadata=None):
    try:
        import ssl
        ctx = ssl.create_default_context() if hasattr(ssl, "create_default_context") else None
        if ctx is not None:
            if cadata is not None:
                ctx = ssl.create_default_context(cadata=cadata)
            else:
                # Security comes from Noise (tailscaled only logs TLS errors here).
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return ctx
    except ImportError:
        pass
    from tailnet.derp_client import tls_context   # MicroPython: shared with DERP
    return tls_context(cadata is None, cadata)


async def _open(url, cadata=None):
    tls, host, port = parse_url(url)
    if tls:
        return await asyncio.open_connection(host, port, ssl=_tls_context(cadata))
    return await asyncio.open_connection(host, port)


def _close(w):
    try:
        w.close()
    except Exception:
        pass


async def _read_head(r, limit=8192):
    """Read an HTTP/1.1 status line and headers -> (status, {lower name: value})."""
    line = await r.readline()
    if not line:
        raise ControlError("connection closed before HTTP response")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ControlError("bad HTTP response line")
    try:
        status = int(parts[1])
    except ValueError:
        raise ControlError("bad HTTP status")
    hdrs = {}
    total = len(line)
    while True:
        line = await r.readline()
        total += len(line)
        if total > limit:
            raise ControlError("HTTP response headers too large")
        if not line:
            raise ControlError("connection closed in HTTP headers")
        line = line.strip()
        if not line:
            return status, hdrs
        k = line.find(b":")
        if k > 0:
            hdrs[line[:k].strip().lower().decode()] = line[k + 1:].strip().decode()


async def _read_into(r, mv, n):
    """Fill mv[:n] from the stream (raises ControlError on EOF)."""
    if not hasattr(r, "readinto"):       # CPython asyncio
        try:
            mv[:n] = await r.readexactly(n)
        except asyncio.IncompleteReadError:
            raise ControlError("control closed the connection")
        return
    got = 0
    while got < n:
        k = await r.readinto(mv[got:n])
        if k is None:          # TLS: no complete record yet
            continue
        if not k:
            raise ControlError("control closed the connection")
        got += k


async def fetch_server_key(url, capver=CAPVER, cadata=None, timeout=15, pin=None):
    """GET /key?v=<capver> -> the 32-byte Noise public key of control (pin: see check_pin)."""
    tls, host, port = parse_url(url)
    r, w = await asyncio.wait_for(_open(url, cadata), timeout)
    try:
        req = "GET /key?v=%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (capver, _hostport(host, port, tls))
        w.write(req.encode())
        await w.drain()
        status, hdrs = await asyncio.wait_for(_read_head(r), timeout)
        if pin:
            check_pin(w, pin)
        n = int(hdrs.get("content-length", "-1"))
        body = await asyncio.wait_for(_read_body(r, n, 4096), timeout)
    finally:
        _close(w)
    if status != 200:
        raise ControlError("GET /key: HTTP %d %s" % (status, body[:200]))
    return parse_key_response(body)


async def _read_body(r, n, limit):
    if n > limit:
        raise ControlError("response body too large")
    if n >= 0:
        return await r.readexactly(n) if n else b""
    out = b""
    while True:
        d = await r.read(1024)
        if not d:
            return out
        out += d
        if len(out) > limit:
            raise ControlError("response body too large")


def parse_key_response(body):
    body = body.strip()
    if body.startswith(b"{"):
        try:
            d = json.loads(body)
            return parse_hex(d["publicKey"], MKEY)
        except (ValueError, KeyError, TypeError):
            raise ControlError("bad /key response")
    try:
        if len(body) == 64:
            return unhexlify(body)  # legacy untyped hex key
    except ValueError:
        pass
    raise ControlError("bad /key response")


def _hostport(host, port, tls):
    h = "[" + host + "]" if ":" in host else host
    if port == (443 if tls else 80):
        return h
    return h + ":" + str(port)


class Conn:
    """One ts2021 connection: Noise transport + HTTP/2, driven by a reader task."""

    def __init__(self, url, machine_priv, server_pub, capver=CAPVER, cadata=None, rbuf=None, pin=None):
        self.url = url
        # one 4 KiB record buffer, ideally allocated once per node (fragmentation)
        self._rbuf = rbuf if rbuf is not None else bytearray(noise.MAX_RECORD)
        tls, host, port = parse_url(url)
        self.authority = _hostport(host, port, tls)
        self._mk = machine_priv
        self._spub = server_pub
        self.capver = capver
        self.cadata = cadata
        self.pin = pin
        self.h2 = h2.Connection()
        self._r = self._w = None
        self._t = None
        self._streams = {}          # sid -> _Resp
        self.closed = False
        self.error = None
        self.early = None           # early payload JSON (bytes) if the server sent one
        self._wlock = asyncio.Lock()

    async def connect(self, timeout=15):
        self._r, self._w = await asyncio.wait_for(_open(self.url, self.cadata), timeout)
        try:
            await asyncio.wait_for(self._handshake(), timeout)
        except BaseException:
            _close(self._w)
            raise
        self._t = asyncio.create_task(self._reader())

    async def _handshake(self):
        hs = noise.Handshake(self._mk, self._spub, self.capver)
        init = b2a_base64(hs.initiation()).strip().decode()
        req = ("POST /ts2021 HTTP/1.1\r\nHost: %s\r\nUpgrade: tailscale-control-protocol\r\n"
               "Connection: upgrade\r\nX-Tailscale-Handshake: %s\r\nContent-Length: 0\r\n\r\n") % (
            self.authority, init)
        self._w.write(req.encode())
        await self._w.drain()
        status, hdrs = await _read_head(self._r)
        if self.pin:
            check_pin(self._w, self.pin)
        if status != 101:
            raise ControlError("ts2021 upgrade refused: HTTP %d" % status)
        if hdrs.get("upgrade", "").lower() != "tailscale-control-protocol":
            raise ControlError("ts2021 upgrade: unexpected Upgrade header")
        first = await self._r.readexactly(3)
        if first[0] == noise.T_ERROR:
            n = (first[1] << 8) | first[2]
            msg = await self._r.readexactly(min(n, 512))
            raise ControlError("control refused handshake: " + msg.decode("utf-8", "replace"))
        rest = await self._r.readexactly(noise.RESP_LEN - 3)
        try:
            self.tr = hs.finish(first + rest)
        except noise.NoiseError as e:
            raise ControlError(str(e))
        self._pt = b""
        await self._early()
        self.h2.initiate()
        await self._flush()

    async def _read_plain(self):
        # One record at a time into preallocated buffers (no 4 KiB garbage per read).
        # The returned memoryview is valid until the next call.
        mv = memoryview(self._rbuf)
        await _read_into(self._r, mv, 3)
        if mv[0] != noise.T_RECORD:
            raise ControlError("unexpected noise message type %d" % mv[0])
        n = (mv[1] << 8) | mv[2]
        if n + 3 > noise.MAX_RECORD or n < 16:
            raise ControlError("bad noise record length %d" % n)
        await _read_into(self._r, mv, n)
        try:
            self.tr.open_into(mv[:n], mv[:n - 16])   # in place: tag checked before decrypting
        except noise.NoiseError as e:
            raise ControlError(str(e))
        return mv[:n - 16]

    async def _early(self):
        # The first bytes are either an HTTP/2 frame (testcontrol) or EARLY_MAGIC + BE32 len + JSON (headscale).
        while len(self._pt) < 9:
            self._pt += bytes(await self._read_plain())
        if self._pt[:5] != EARLY_MAGIC:
            return
        n = int.from_bytes(self._pt[5:9], "big")
        if n > MAX_EARLY:
            raise ControlError("early payload too large (%d)" % n)
        while len(self._pt) < 9 + n:
            self._pt += bytes(await self._read_plain())
        self.early = self._pt[9:9 + n]
        self._pt = self._pt[9 + n:]

    async def _flush(self):
        out = self.h2.take()
        if out:
            async with self._wlock:
                self._w.write(self.tr.seal(out))
                await self._w.drain()

    async def _reader(self):
        try:
            if self._pt:
                pt, self._pt = self._pt, b""
                await self._dispatch(pt)
            while True:
                pt = await self._read_plain()
                # small slices keep every copy below (h2, JSON) under 1 KiB
                for i in range(0, len(pt), SLICE):
                    await self._dispatch(pt[i:i + SLICE])
                tidy()
        except Exception as e:
            self._fail(e)
        except asyncio.CancelledError:
            self._fail(ControlError("connection closed"))
            raise

    async def _dispatch(self, pt):
        try:
            evs = self.h2.feed(pt)
        except h2.H2Error as e:
            raise ControlError("HTTP/2: " + str(e))
        for ev in evs:
            kind = ev[0]
            if kind == "goaway":
                # the map long-poll would never finish: treat as the end of the connection
                self._fail(ControlError("control sent GOAWAY (code %d)" % ev[2]))
                return
            resp = self._streams.get(ev[1])
            if resp is None:
                continue
            if kind == "headers":
                resp.on_headers(ev[2], ev[3])
            elif kind == "data":
                resp.on_data(ev[2], ev[3])
            elif kind == "reset":
                resp.fail(ControlError("stream reset by control (code %d)" % ev[2]))
            if resp.finished:
                self._streams.pop(ev[1], None)
        await self._flush()

    def _fail(self, e):
        if self.error is None:
            self.error = e
        for sid in list(self._streams):
            self._streams.pop(sid).fail(e)
        self.closed = True
        _close(self._w)

    async def request(self, path, body, sink=None, timeout=30):
        """POST path with a JSON body. Without sink: return (status, body bytes).
        With sink (callable on each DATA chunk): return when the stream ends.
        timeout (s) bounds the whole exchange; None for long-polls."""
        if self.closed:
            raise self.error or ControlError("connection closed")
        resp = _Resp(sink)
        try:
            sid = self.h2.request("POST", path, self.authority,
                                  (("content-type", "application/json"),), body)
        except h2.H2Error as e:
            raise ControlError(str(e))
        self._streams[sid] = resp
        await self._flush()
        if timeout is None:
            await resp.ev.wait()
        else:
            try:
                await asyncio.wait_for(resp.ev.wait(), timeout)
            except asyncio.TimeoutError:
                self._streams.pop(sid, None)
                self.h2.reset(sid)
                raise ControlError("%s: no response from control in %d s" % (path, timeout))
        if resp.error is not None:
            raise resp.error
        return resp.status, resp.body

    async def ping(self):
        self.h2.ping()
        await self._flush()

    async def close(self):
        if not self.closed:
            try:
                self.h2.close()
                await self._flush()
            except Exception:
                pass
        self._fail(ControlError("connection closed"))
        if self._t is not None:
            self._t.cancel()
            self._t = None


class _Resp:
    def __init__(self, sink):
        self.sink = sink
        self.status = 0
        self.body = b""
        self.error = None
        self.finished = False
        self.ev = asyncio.Event()

    def on_headers(self, hl, end):
        if not self.status:
            for k, v in hl:
                if k == b":status":
                    self.status = int(v)
        if end:
            self._end()

    def on_data(self, data, end):
        if self.sink is not None and self.status == 200:
            try:
                self.sink(data)
            except Exception as e:
                self.fail(e)
                return
        elif len(self.body) + len(data) <= MAX_BODY:
            self.body += data
        else:
            self.fail(ControlError("response body too large"))
            return
        if end:
            self._end()

    def _end(self):
        self.finished = True
        self.ev.set()

    def fail(self, e):
        if not self.finished:
            self.error = e
            self._end()


# ---- request bodies

def hostinfo(hostname, preferred_derp=0, os_name=None):
    if os_name is None:
        import sys
        os_name = "linux" if sys.platform == "linux" else sys.platform
    hi = {"IPNVersion": IPN_VERSION, "Hostname": hostname, "OS": os_name}
    if preferred_derp:
        hi["NetInfo"] = {"PreferredDERP": preferred_derp}
    return hi


def register_body(capver, node_pub, hi, authkey=None, old_node_pub=None, expiry=None,
                  ephemeral=False, tags=None, followup=None):
    d = {"Version": capver, "NodeKey": node_pub.text(),
         "OldNodeKey": old_node_pub.text() if old_node_pub else zero_text(NODEKEY),
         "Expiry": expiry or ZERO_TIME, "Hostinfo": hi, "Ephemeral": bool(ephemeral)}
    if authkey:
        d["Auth"] = {"AuthKey": authkey}
    if tags:
        hi["RequestTags"] = list(tags)
    if followup:
        d["Followup"] = followup
    return json.dumps(d).encode()


def map_body(capver, node_pub, disco_pub, hi, stream, omit_peers, endpoints=(), ep_types=()):
    d = {"Version": capver, "NodeKey": node_pub.text(), "DiscoKey": disco_pub.text(),
         "Stream": stream, "KeepAlive": True, "Hostinfo": hi}
    if omit_peers:
        d["OmitPeers"] = True
    if endpoints:
        d["Endpoints"] = list(endpoints)
        d["EndpointTypes"] = list(ep_types) if ep_types else [1] * len(endpoints)
    return json.dumps(d).encode()


def parse_register(status, body):
    """-> dict with the RegisterResponse fields we use; raises LoginError/ControlError."""
    if status != 200:
        raise ControlError("register: HTTP %d: %s" % (status, body[:200].decode("utf-8", "replace")))
    try:
        d = jsonstream.loads(body, 2048)
    except ValueError:
        raise ControlError("register: bad JSON response")
    if not isinstance(d, dict):
        raise ControlError("register: bad response")
    if d.get("Error"):
        raise LoginError("control refused registration: " + str(d["Error"]))
    return d
