# The netmap: self node, a compact peer table, DERPMap, packet filters and DNS config,
# built from MapResponse messages parsed as a stream (jsonstream) and merged by the
# rules of tailcfg (protocol notes §4.6).
#
# A node is stored as ONE bytes object (about 150 B for a typical peer), see pack():
#   ID i64 | key 32 | disco 32 (zeros: none) | home DERP u16 | flags u8 (1: online known,
#   2: online, 4: AllowedIPs differ) | u16 len + addresses | u16 len + allowed IPs |
#   u16 len + endpoints | u8 len + key expiry | name (rest, UTF-8)
# (addresses/endpoints packed as in ipaddr). unpack() gives a list indexed by the
# constants below; use the accessors (key(), disco(), derp(), ...) on packed records.
from tailnet import jsonstream as js
from tailnet import ipaddr
from tailnet.keys import parse_hex, NODEKEY, DISCOKEY

ID = 0
KEY = 1
DISCO = 2
ADDRS = 3
ALLOWED = 4
EPS = 5
DERP = 6
ONLINE = 7
EXPIRY = 8
NAME = 9
NFIELDS = 10
_Z32 = bytes(32)

MAX_PEERS = 4096
MAX_LIST = 64          # addresses / endpoints per node
BUDGET_SMALL = 4096    # items kept for DERPMap / filters / DNS / patches per message


class NetmapError(ValueError):
    pass


def new_record():
    r = [None] * NFIELDS
    r[DERP] = 0
    r[EPS] = b""
    r[ADDRS] = b""
    r[NAME] = ""
    return r


def _u16(n):
    return bytes((n >> 8, n & 255))


def pack(r):
    """list record -> compact bytes."""
    fl = (1 if r[ONLINE] is not None else 0) | (2 if r[ONLINE] else 0) | (4 if r[ALLOWED] is not None else 0)
    al = r[ALLOWED] or b""
    ex = (r[EXPIRY] or "").encode()[:255]
    return b"".join(((r[ID] & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big"), r[KEY], r[DISCO] or _Z32, _u16(r[DERP] & 0xFFFF), bytes((fl,)),
                     _u16(len(r[ADDRS])), r[ADDRS], _u16(len(al)), al, _u16(len(r[EPS])), r[EPS],
                     bytes((len(ex),)), ex, r[NAME].encode()))


def unpack(b):
    """compact bytes -> list record."""
    r = new_record()
    r[ID] = rec_id(b)
    r[KEY] = b[8:40]
    r[DISCO] = b[40:72] if b[40:72] != _Z32 else None
    r[DERP] = (b[72] << 8) | b[73]
    fl = b[74]
    r[ONLINE] = bool(fl & 2) if fl & 1 else None
    i = 75
    vals = []
    for _ in range(3):
        n = (b[i] << 8) | b[i + 1]
        vals.append(b[i + 2:i + 2 + n])
        i += 2 + n
    r[ADDRS], r[ALLOWED], r[EPS] = vals[0], (vals[1] if fl & 4 else None), vals[2]
    n = b[i]
    r[EXPIRY] = b[i + 1:i + 1 + n].decode() if n else None
    r[NAME] = b[i + 1 + n:].decode()
    return r


def rec_id(b):
    i = int.from_bytes(b[0:8], "big")
    return i - (1 << 64) if i >> 63 else i   # tailcfg.NodeID is an int64 (testcontrol's fakes are < 0)


def rec_key(b):
    return b[8:40]


def rec_disco(b):
    d = b[40:72]
    return None if d == _Z32 else d


def rec_derp(b):
    return (b[72] << 8) | b[73]


def rec_endpoints(b):
    """-> list of (addr bytes, port)."""
    return ipaddr.unpack_endpoints(unpack(b)[EPS])


def rec_addresses(b):
    """-> list of (bits, addr bytes)."""
    return ipaddr.unpack_prefixes(unpack(b)[ADDRS])


def _key(v, prefix):
    if v is None:
        return None
    try:
        raw = parse_hex(v, prefix)
    except ValueError:
        raise NetmapError("invalid key in map: %r" % (v[:80] if isinstance(v, str) else v,))
    return None if raw == bytes(32) else raw


def _legacy_derp(v):
    # "127.3.3.40:<region>"
    if isinstance(v, str) and v.startswith("127.3.3.40:") and v[11:].isdigit():
        return int(v[11:])
    return 0


class _StrList:
    """A JSON array of scalars of one type (str, or int for PeersRemoved)."""

    def __init__(self, on_done, typ=str, limit=MAX_LIST):
        self.items = []
        self.on_done = on_done
        self.typ = typ
        self.limit = limit

    def val(self, key, v):
        if len(self.items) >= self.limit:
            raise NetmapError("list too long in map")
        if isinstance(v, self.typ):
            self.items.append(v)

    def enter(self, key, is_obj):
        return None

    def done(self):
        self.on_done(self.items)


class NodeHandler:
    """Streams one tailcfg.Node object into a record; on_done(record)."""

    def __init__(self, on_done):
        self.r = new_record()
        self.on_done = on_done
        self.legacy_derp = 0
        self.home_derp = None

    def val(self, key, v):
        r = self.r
        if key == "ID":
            if not isinstance(v, int) or not -(1 << 63) <= v < (1 << 63):
                raise NetmapError("bad node ID")
            r[ID] = v
        elif key == "Key":
            r[KEY] = _key(v, NODEKEY)
        elif key == "DiscoKey":
            r[DISCO] = _key(v, DISCOKEY)
        elif key == "HomeDERP":
            self.home_derp = v if isinstance(v, int) else 0
        elif key == "DERP":
            self.legacy_derp = _legacy_derp(v)
        elif key == "Online":
            r[ONLINE] = v if isinstance(v, bool) else None
        elif key == "KeyExpiry":
            r[EXPIRY] = v if isinstance(v, str) and not v.startswith("0001-") else None
        elif key == "Expired" and v is True:
            r[EXPIRY] = "1970-01-01T00:00:00Z"   # control says so: expired without a clock
        elif key == "Name" and isinstance(v, str):
            r[NAME] = v[:253]

    def enter(self, key, is_obj):
        if is_obj:
            return None
        if key == "Addresses":
            return _StrList(_store(self.r, ADDRS, ipaddr.pack_prefixes))
        if key == "AllowedIPs":
            return _StrList(_store(self.r, ALLOWED, ipaddr.pack_prefixes))
        if key == "Endpoints":
            return _StrList(_store(self.r, EPS, _eps))
        return None

    def done(self):
        r = self.r
        if r[ID] is None:
            raise NetmapError("node without ID")
        if r[KEY] is None:
            raise NetmapError("node %d without key" % r[ID])
        r[DERP] = self.home_derp if self.home_derp else self.legacy_derp
        if r[ALLOWED] == r[ADDRS]:
            r[ALLOWED] = None
        self.on_done(pack(r))


def _store(r, idx, conv):
    def f(l):
        try:
            r[idx] = conv(l)
        except ValueError as e:
            raise NetmapError("bad address in node: " + str(e))
    return f


def _eps(l):
    out = []
    for s in l:
        try:
            ipaddr.parse_addrport(s)
            out.append(s)
        except ValueError:
            pass  # skip endpoints we cannot parse (e.g. zones); not fatal
    return ipaddr.pack_endpoints(out)


NBUCKET = 64


class PeerTable:
    """ID -> packed record. The records live back to back in 64 bytearrays (bucket
    ID & 63), each as u16 length + record: no per-record object header, dict slot or
    allocation rounding (about 40 B per peer less than a dict of bytes), and no single
    large block to grow. Lookups walk one bucket; values() and [] return bytes copies."""

    def __init__(self):
        self._b = [None] * NBUCKET
        self._n = 0

    def _find(self, i):
        # -> (bucket or None, offset of the record's length prefix or -1, record length)
        b = self._b[i & (NBUCKET - 1)]
        if b is None:
            return None, -1, 0
        idb = (i & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        last = idb[7]
        off = 0
        end = len(b)
        while off < end:
            n = (b[off] << 8) | b[off + 1]
            if b[off + 9] == last and b[off + 2:off + 10] == idb:
                return b, off, n
            off += 2 + n
        return b, -1, 0

    def __setitem__(self, i, r):
        b, off, n = self._find(i)
        if off >= 0:
            if n == len(r):
                b[off + 2:off + 2 + n] = r
                return
            b[off:off + 2 + n] = b""
            self._n -= 1
        if b is None:
            b = self._b[i & (NBUCKET - 1)] = bytearray()
        b.extend(_u16(len(r)))
        b.extend(r)
        self._n += 1

    def __getitem__(self, i):
        b, off, n = self._find(i) if isinstance(i, int) else (None, -1, 0)
        if off < 0:
            raise KeyError(i)
        return bytes(memoryview(b)[off + 2:off + 2 + n])

    def __contains__(self, i):
        return isinstance(i, int) and self._find(i)[1] >= 0

    def get(self, i, default=None):
        try:
            return self[i]
        except KeyError:
            return default

    def pop(self, i, default=None):
        if not isinstance(i, int):
            return default
        b, off, n = self._find(i)
        if off < 0:
            return default
        r = bytes(memoryview(b)[off + 2:off + 2 + n])
        b[off:off + 2 + n] = b""
        self._n -= 1
        return r

    def __len__(self):
        return self._n

    def _walk(self, what):
        for b in self._b:
            if b is None:
                continue
            off = 0
            while off < len(b):
                n = (b[off] << 8) | b[off + 1]
                if what:
                    r = bytes(memoryview(b)[off + 2:off + 2 + n])
                    yield (rec_id(r), r) if what == 2 else r
                else:
                    yield rec_id(b[off + 2:off + 10])
                off += 2 + n

    def keys(self):
        return self._walk(0)

    __iter__ = keys

    def values(self):
        return self._walk(1)

    def items(self):
        return self._walk(2)


class _NodeList:
    """A JSON array of nodes, streamed into a PeerTable (ID -> packed record) or a list.
    full: the complete peer list (MapResponse.Peers); when it goes into a table that
    already holds peers (updated in place: no second table on the heap), the peers it
    does not name are removed at its end."""

    def __init__(self, out, full=False, on_empty=None):
        self.out = out
        self.n = 0
        self.on_empty = on_empty
        self.seen = set() if full and isinstance(out, PeerTable) and len(out) else None

    def _add(self, r):
        if isinstance(self.out, PeerTable):
            i = rec_id(r)
            self.out[i] = r
            if self.seen is not None:
                self.seen.add(i)
        else:
            self.out.append(r)

    def val(self, key, v):
        if v is not None:
            raise NetmapError("bad node list")

    def enter(self, key, is_obj):
        if not is_obj:
            raise NetmapError("bad node list")
        self.n += 1
        if self.n > MAX_PEERS:
            raise NetmapError("too many peers")
        return NodeHandler(self._add)

    def done(self):
        if self.seen is not None and self.n:
            for i in [i for i in self.out if i not in self.seen]:
                self.out.pop(i)
        self.seen = None
        if not self.n and self.on_empty is not None:
            self.on_empty()


class _DnsBuild(js.Build):
    """DNSConfig, except that "Routes" entries with an empty resolver list (the ~70 reverse
    zones MagicDNS answers itself) are kept as "LocalRoutes": {parent zone: "label label .."}
    ("64.100.in-addr.arpa." -> {"100.in-addr.arpa.": "64 .."}): a few small strings, not
    one 1.3 KiB block (hard to find on a fragmented small heap) nor a dict of lists."""

    def __init__(self, budget, on_done):
        js.Build.__init__(self, True, budget, on_done)
        self.local = {}

    def enter(self, key, is_obj):
        if key == "Routes" and is_obj:
            return _Routes(self)
        return js.Build.enter(self, key, is_obj)

    def done(self):
        if self.local:
            loc = self.local
            for k in loc:
                loc[k] = " ".join(loc[k])
            self.v["LocalRoutes"] = loc
        self.on_done(self.v)


class _Routes:
    def __init__(self, dns):
        self.dns = dns
        self.routes = {}
        self.dns.v["Routes"] = self.routes

    def val(self, key, v):
        pass

    def enter(self, key, is_obj):
        if is_obj:
            return None
        return js.Build(False, self.dns.budget, lambda l: self._put(key, l))

    def _put(self, key, l):
        if l:
            self.routes[key] = l
        else:
            self.dns.budget.take(len(key) >> 4)
            lab, _, parent = key.partition(".")
            g = self.dns.local.get(parent)
            if g is None:
                g = self.dns.local[parent] = []
            g.append(lab)

    def done(self):
        pass


class MsgHandler:
    """Top-level handler for one MapResponse document."""

    def __init__(self, peers=None):
        # the parsed message (a "delta"); None means absent / unchanged
        self._table = peers      # a full Peers list is merged into this table if given
        self.keepalive = False
        self.node = self.derpmap = self.peers = self.changed = self.removed = None
        self.patches = self.online = self.filter = self.filters = self.dns = self.domain = None
        self.budget = None

    def _no_peers(self):
        self.peers = None        # "Peers": [] is not a full list (tailcfg): deltas apply

    def _set(self, name):
        return lambda v: setattr(self, name, v)

    def val(self, key, v):
        d = self
        if key == "KeepAlive":
            d.keepalive = v is True
        elif key == "Domain" and isinstance(v, str):
            d.domain = v
        elif key == "PacketFilter" and v is None:
            pass

    def enter(self, key, is_obj):
        if self.budget is None:          # the document itself
            if not is_obj:
                raise NetmapError("MapResponse must be an object")
            self.budget = js.Budget(BUDGET_SMALL)
            return self
        d = self
        if key == "Node" and is_obj:
            return NodeHandler(self._set("node"))
        if key == "Peers" and not is_obj:
            d.peers = self._table if self._table is not None else PeerTable()
            return _NodeList(d.peers, True, self._no_peers)
        if key == "PeersChanged" and not is_obj:
            d.changed = []
            return _NodeList(d.changed)
        if key == "PeersRemoved" and not is_obj:
            return _StrList(self._set("removed"), int, MAX_PEERS)
        if key == "DNSConfig" and is_obj:
            return _DnsBuild(self.budget, self._set("dns"))
        if key in ("DERPMap", "PacketFilters", "OnlineChange") and is_obj:
            name = {"DERPMap": "derpmap", "PacketFilters": "filters", "OnlineChange": "online"}[key]
            return js.Build(True, self.budget, self._set(name))
        if key in ("PacketFilter", "PeersChangedPatch") and not is_obj:
            return js.Build(False, self.budget, self._set("filter" if key == "PacketFilter" else "patches"))
        return None

    def done(self):
        pass


def parse_message(data, max_token=4096):
    """Parse one whole MapResponse (bytes) into a MsgHandler (tests, small messages)."""
    h = MsgHandler()
    p = js.Parser(h, max_token)
    p.feed(data)
    p.finish()
    return h


class NetMap:
    def __init__(self):
        self.self_node = None
        self.peers = PeerTable()  # ID -> packed record
        self.derpmap = None
        self.filters = {}        # name -> rule list
        self.dns = None
        self.domain = ""
        self.seq = 0             # bumped on every non-keepalive change
        self.complete = False    # a first full map has arrived

    def apply(self, d):
        """Merge a Delta (rules §4.6). Returns True if anything changed."""
        if d.keepalive:
            return False
        if d.node is not None:
            self.self_node = d.node
        if d.derpmap is not None:
            self._merge_derpmap(d.derpmap)
        if d.peers is not None and len(d.peers):
            self.peers = d.peers
        else:
            for r in d.changed or ():
                self.peers[rec_id(r)] = r
            for i in d.removed or ():
                self.peers.pop(i, None)
        for p in d.patches or ():
            self._patch(p)
        for k, v in (d.online or {}).items():
            i = _int(k)
            if i in self.peers and isinstance(v, bool):
                r = unpack(self.peers[i])
                r[ONLINE] = v
                self.peers[i] = pack(r)
        if d.filter is not None:
            self.filters["base"] = d.filter
        if d.filters is not None:
            if "*" in d.filters and d.filters["*"] is None:
                self.filters = {}
            for k, v in d.filters.items():
                if k == "*":
                    continue
                if v is None:
                    self.filters.pop(k, None)
                else:
                    self.filters[k] = v
        if d.dns is not None:
            self.dns = d.dns
        if d.domain:
            self.domain = d.domain
        if self.self_node is not None:
            self.complete = True
        self.seq += 1
        return True

    def _merge_derpmap(self, dm):
        regions = dm.get("Regions")
        if regions is None and self.derpmap is not None:
            dm["Regions"] = self.derpmap.get("Regions")
        elif regions:
            for k in [k for k, v in regions.items() if v is None]:
                del regions[k]
        self.derpmap = dm

    def _patch(self, p):
        if not isinstance(p, dict):
            return
        i = p.get("NodeID")
        if i not in self.peers:
            return
        r = unpack(self.peers[i])
        try:
            if "DERPRegion" in p and isinstance(p["DERPRegion"], int):
                r[DERP] = p["DERPRegion"]
            if "Endpoints" in p and isinstance(p["Endpoints"], list):
                r[EPS] = _eps([e for e in p["Endpoints"] if isinstance(e, str)][:MAX_LIST])
            if "Key" in p:
                r[KEY] = _key(p["Key"], NODEKEY)
            if "DiscoKey" in p:
                r[DISCO] = _key(p["DiscoKey"], DISCOKEY)
            if "Online" in p and isinstance(p["Online"], bool):
                r[ONLINE] = p["Online"]
            if "KeyExpiry" in p:
                v = p["KeyExpiry"]
                r[EXPIRY] = v if isinstance(v, str) and not v.startswith("0001-") else None
        except ValueError as e:
            raise NetmapError("bad peer patch: " + str(e))
        if r[KEY] is None:
            raise NetmapError("bad peer patch: zero key")
        self.peers[i] = pack(r)

    # ---- queries used by the API and the data plane
    def addresses(self):
        n = self.self_node
        return [ipaddr.prefix_text(p) for p in rec_addresses(n)] if n else []

    def peer_by_key(self, raw):
        """The packed record of the peer with this node key (32 raw bytes), or None."""
        for r in self.peers.values():
            if r[8:40] == raw:
                return r
        return None

    def peer_paths(self):
        """[(node key, disco key or None, [(addr bytes, port)])] for magicsock.set_peers."""
        return [(rec_key(r), rec_disco(r), rec_endpoints(r)) for r in self.peers.values()]

    def home_derp_regions(self):
        dm = self.derpmap or {}
        return dm.get("Regions") or {}


def _int(k):
    try:
        return int(k)
    except ValueError:
        return None


def describe(b):
    """A dict view of a packed record (status output and tests)."""
    from binascii import hexlify
    r = unpack(b)
    d = {"ID": r[ID], "Name": r[NAME], "Key": NODEKEY + hexlify(r[KEY]).decode(),
         "Addresses": [ipaddr.prefix_text(p) for p in ipaddr.unpack_prefixes(r[ADDRS])],
         "Endpoints": [ipaddr.endpoint_text(e) for e in ipaddr.unpack_endpoints(r[EPS])],
         "HomeDERP": r[DERP], "Online": r[ONLINE], "KeyExpiry": r[EXPIRY]}
    if r[DISCO]:
        d["DiscoKey"] = DISCOKEY + hexlify(r[DISCO]).decode()
    if r[ALLOWED] is not None:
        d["AllowedIPs"] = [ipaddr.prefix_text(p) for p in ipaddr.unpack_prefixes(r[ALLOWED])]
    return d


MAX_MESSAGE = 64 * 1024 * 1024


class Stream:
    """Splits a map response body (uint32 LITTLE-endian length + JSON, repeated) and
    parses each message incrementally. feed(chunk) -> list of Deltas completed."""

    def __init__(self, max_token=4096, max_message=MAX_MESSAGE, into=None):
        # into: the NetMap these messages will be applied to; a full peer list is then
        # merged into its table while it is parsed (one table on the heap, not two)
        self._into = into
        self._p = js.Parser(None, max_token)
        self._h = None
        self._hdr = b""
        self._left = -1      # bytes left in the current message; -1 = reading a header
        self.max_message = max_message
        self.messages = 0

    def feed(self, chunk):
        out = []
        mv = memoryview(chunk)
        i = 0
        n = len(chunk)
        while i < n:
            if self._left < 0:
                need = 4 - len(self._hdr)
                self._hdr += bytes(mv[i:i + need])
                i += need
                if len(self._hdr) < 4:
                    break
                size = int.from_bytes(self._hdr, "little")
                self._hdr = b""
                if size > self.max_message:
                    raise NetmapError("map message too large (%d)" % size)
                if size == 0:
                    raise NetmapError("empty map message")
                self._left = size
                t = self._into.peers if self._into is not None else None
                self._h = MsgHandler(t if isinstance(t, PeerTable) else None)
                self._p.reset(self._h)
            take = min(self._left, n - i)
            self._p.feed(chunk if take == n else bytes(mv[i:i + take]))
            i += take
            self._left -= take
            if self._left == 0:
                self._left = -1
                self.messages += 1
                self._p.finish()
                out.append(self._h)
                self._h = None
        return out

    def in_message(self):
        return self._left > 0 or bool(self._hdr)
