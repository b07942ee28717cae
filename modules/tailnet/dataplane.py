# tailnet: the WireGuard data plane of a running Node. The C engine (_tnwg) with the
# node key; its peers kept in sync with the netmap (node key + AllowedIPs); WireGuard
# datagrams to/from peers through magicsock (magicsock_run: home DERP, disco, UDP);
# decrypted IP packets checked against the sending peer's AllowedIPs and handed to a
# packet handler (the netstack when attached, else the tiny built-in responder in
# dataplane_reply: ICMP/ICMPv6 echo and TSMP ping -> pong).
#
#   from tailnet import dataplane
#   dp = await dataplane.start(node, udp_port=41641, local_ips=[lan_ip])  # node Running
#   dataplane.attach(node, udp_port=...)                # start it whenever node is Running
#   dp.send_ip(pkt)       # an IP packet from our address to a peer (True if sent/queued)
#   dp.on_ip = fn         # fn(buf, off, n) -> True when it took the packet (netstack hook)
# MIT license

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio
try:
    from time import ticks_ms
except ImportError:  # CPython (no _tnwg there; kept importable for tooling)
    import time as _t

    def ticks_ms():
        return int(_t.monotonic() * 1000)

from array import array

from tailnet import crypto, ipaddr, magicsock_run
from tailnet import netmap as _nm
from tailnet import dataplane_reply as reply
from tailnet.derp import Views

TICK_MS = 100
MAX_PEERS = 16
BUFSIZE = 1600   # MTU 1280 + WireGuard overhead + DERP slack


def _now():
    return ticks_ms()


def allowed_of(rec):
    """Packed netmap record -> [(bits, addr bytes)] the peer may send from."""
    r = _nm.unpack(rec)
    return ipaddr.unpack_prefixes(r[_nm.ALLOWED] if r[_nm.ALLOWED] is not None else r[_nm.ADDRS])


def in_prefix(addr, bits, pfx):
    """addr (bytes-like) inside prefix bytes pfx/bits (same family)?"""
    return match(addr, 0, len(addr), bits, pfx)


def match(buf, off, alen, bits, pfx):
    """The alen-byte address at buf[off:] inside pfx/bits? (no slices: no allocation)"""
    if alen != len(pfx):
        return False
    full = bits >> 3
    for i in range(full):
        if buf[off + i] != pfx[i]:
            return False
    rem = bits & 7
    if rem:
        m = (0xFF << (8 - rem)) & 0xFF
        return (buf[off + full] & m) == (pfx[full] & m)
    return True


class DataPlane:
    def __init__(self, node, udp_port=None, bind="0.0.0.0", max_peers=MAX_PEERS, cadata=None,
                 local_ips=()):
        import _tnwg
        self._wg = _tnwg
        self.node = node
        self.transport = magicsock_run.DataPlane(node, udp_port=udp_port, bind=bind, cadata=cadata,
                                                 local_ips=local_ips)
        self._key = node.node     # the node key the engine and DERP use (see _key_check)
        self.dev = _tnwg.Device(node.node.secret(), max_peers, crypto.random, _now())
        try:
            import time
            if time.time() > 1600000000:   # host/RTC: a sane TAI64N for our initiations
                self.dev.set_wallclock(_now(), int(time.time()))
        except Exception:
            pass
        self.off = _tnwg.DATA_OFFSET
        self.rx = bytearray(BUFSIZE)
        self.tx = bytearray(BUFSIZE)
        self.txv = Views(self.tx)              # .view(n): the engine's output
        self.txin = Views(self.tx, self.off)   # .cut(n): where a plaintext goes in
        self.rxv = Views(self.rx)
        self.src = bytearray(18)   # UDP source for the engine: ip16 | port BE16
        self.res = array("i", [0, 0, 0])
        self.slot_of = {}     # node key -> slot
        self.key_of = {}      # slot -> node key
        self.allowed = {}     # slot -> [(bits, addr)]
        self.pending = {}     # slot -> one IP packet waiting for a handshake
        self.my = []          # our addresses (bytes, 4 or 16)
        self.on_ip = None
        self.ns = None
        self._task = None
        self.stats = {"wg_in": 0, "wg_out": 0, "ip_in": 0, "ip_out": 0, "drop_src": 0,
                      "drop_route": 0, "drop_unhandled": 0, "echo": 0, "tsmp": 0, "handshakes": 0,
                      "errors": 0}

    # ---- lifecycle -----------------------------------------------------------------
    async def start(self):
        self.transport.on_wg = self.wg_input
        await self.transport.start()
        self.sync(self.node.netmap)
        self.node.on_netmap(self.sync)
        self._task = asyncio.create_task(self._ticker())
        return self

    async def stop(self):
        t, self._task = self._task, None
        if t is not None:
            t.cancel()
            try:
                await t
            except BaseException:
                pass
        await self.transport.stop()

    # ---- peers ---------------------------------------------------------------------
    def _key_check(self):
        """Node-key rotation (node.py replaces node.node, re-registers, then gets a netmap):
        the engine takes the new static key (sessions wiped, peers kept), DERP redials with
        it; peers see the new key in their netmaps and handshake again. Same DataPlane
        object, so the netstack and open sockets/listeners keep working."""
        k = self.node.node
        if k is self._key:
            return
        self._key = k
        priv = k.secret()
        now = _now()
        live = [s for s in self.key_of if self.dev.can_send(s, now)]
        self.dev.set_key(priv)
        self.pending.clear()
        self.transport.rekey(priv, k.public().raw)
        self.stats["rekeys"] = self.stats.get("rekeys", 0) + 1
        self.node.log("data plane: node key rotated; sessions reset, DERP redialled", 1)
        d = self.transport.derp
        if live and d is not None:
            asyncio.create_task(self._rehandshake(live, d, d.stats["connects"]))

    async def _rehandshake(self, slots, d, connects):
        # peers we were talking to: handshake on the new key as soon as DERP is back (their
        # own initiations may have hit the DERP server while we were away: lost, 5 s retry)
        for _ in range(150):
            if d.stats["connects"] > connects and d.state == 2:   # CONNECTED, new key
                break
            await asyncio.sleep(0.1)
        else:
            return
        for s in slots:
            if s in self.key_of:
                self.dev.initiate(s, _now())
        self._tick()

    def sync(self, nm):
        """Netmap -> engine peers (added, removed, AllowedIPs refreshed)."""
        self._key_check()
        if nm.self_node is not None:
            self.my = [a for _, a in _nm.rec_addresses(nm.self_node)]
        seen = {}
        for rec in nm.peers.values():
            k = bytes(_nm.rec_key(rec))
            slot = self.slot_of.get(k)
            if slot is None:
                try:
                    slot = self.dev.add_peer(k)
                except ValueError:
                    continue   # table full: this peer stays unreachable
                self.slot_of[k] = slot
                self.key_of[slot] = k
            self.allowed[slot] = allowed_of(rec)
            seen[k] = slot
        for k in [k for k in self.slot_of if k not in seen]:
            slot = self.slot_of.pop(k)
            self.key_of.pop(slot, None)
            self.allowed.pop(slot, None)
            self.pending.pop(slot, None)
            self.dev.remove_peer(slot)
        if self.ns is not None:
            self._ns_config(nm)

    def route(self, dst):
        """Destination address -> peer slot (longest matching AllowedIPs prefix) or None."""
        return self.route_at(dst, 0, len(dst))

    def route_at(self, buf, off, alen):
        best, best_bits = None, -1
        al = self.allowed
        for slot in al:
            for bits, pfx in al[slot]:
                if bits > best_bits and match(buf, off, alen, bits, pfx):
                    best, best_bits = slot, bits
        return best

    def src_ok(self, slot, src, off=0, alen=None):
        pf = self.allowed.get(slot)
        if pf is None:
            return False
        if alen is None:
            alen = len(src)
        for bits, pfx in pf:
            if match(src, off, alen, bits, pfx):
                return True
        return False

    # ---- netstack (tailnet.netstack.Netstack, sans-I/O) ----------------------------
    def attach_netstack(self, ns):
        """Hand every decrypted packet to ns; send what it queues; keep its addresses and
        packet filter in sync with the netmap."""
        self.ns = ns
        self.on_ip = self._ns_input
        self._ns_config(self.node.netmap)

    def _ns_config(self, nm):
        ns = self.ns
        ns.set_addresses(list(self.my))
        rules = []
        for v in (nm.filters or {}).values():
            if isinstance(v, list):
                rules.extend(v)
        try:
            ns.set_filter(rules)
        except ValueError as e:
            self.node.log("packet filter rejected, keeping the old one: %s" % (e,), 1)

    def _ns_input(self, buf, off, n):
        self.ns.input(buf, off, n, _now())
        self.flush()
        return True

    def flush(self):
        """Encrypt and send everything the netstack has queued."""
        ns = self.ns
        if ns is None:
            return
        p = ns.pop_out()
        while p is not None:
            self.send_ip(p)
            p = ns.pop_out()

    # ---- WireGuard in ----------------------------------------------------------------
    def wg_input(self, node_key, addr, pkt):
        """A WireGuard datagram from DERP (node_key) or UDP (addr). Views valid only now
        (node_key may be a view of DERP's buffer). Warm data packets allocate nothing
        here (rx copy through a cached slice, UDP source filled in place). Never raises
        (it runs inside the DERP and UDP receive loops)."""
        try:
            self._wg_input(node_key, addr, pkt)
        except Exception as e:
            self.stats["errors"] += 1
            self.node.log("dataplane input: %r" % (e,), 2)

    def _wg_input(self, node_key, addr, pkt):
        n = len(pkt)
        buf = self.rx
        if n > len(buf):
            return
        ns = self.ns
        if ns is not None and n <= len(ns.rxbuf):
            buf = ns.rxbuf   # decrypt in the netstack's buffer: a UDP socket keeps it (no copy)
        self.stats["wg_in"] += 1
        res = self.res
        buf[self.rxv.cut(n)] = pkt   # cached slice: no allocation once warm
        src = None
        if addr is not None:
            src = self.src
            ip = addr[0]
            for i in range(16):
                src[i] = ip[i]
            src[16] = (addr[1] >> 8) & 255
            src[17] = addr[1] & 255
        k = self.dev.input(buf, n, _now(), src, res)
        if k == self._wg.DATAGRAM:
            data = bytes(buf[:res[2]])
            if res[0] >= 0:
                self._send_slot(res[0], data)
            elif node_key is not None:   # cookie reply: back where it came from
                self.transport.send_wg(bytes(node_key), data)
            elif self.transport.udp is not None:
                self.transport.udp.sendto(addr, data)
        elif k == self._wg.PACKET:
            self._packet_in(res[0], buf, res[1], res[2])
        self._events()

    def _packet_in(self, slot, buf, off, n):
        if n == 0:
            return
        v = buf[off] >> 4
        alen = 4 if v == 4 else 16
        so = off + (12 if v == 4 else 8)
        if (v != 4 and v != 6) or n < (20 if v == 4 else 40) or not self.src_ok(slot, buf, so, alen):
            self.stats["drop_src"] += 1
            return
        self.stats["ip_in"] += 1
        h = self.on_ip
        if h is not None and h(buf, off, n):
            return
        out = reply.answer(buf, off, n, self.my)
        if out is None:
            self.stats["drop_unhandled"] += 1
            return
        self.stats["tsmp" if out[0] == reply.TSMP else "echo"] += 1
        self.send_ip(out[1])

    # ---- WireGuard out ---------------------------------------------------------------
    def _send_slot(self, slot, data):
        k = self.key_of.get(slot)
        if k is not None:
            self.stats["wg_out"] += 1
            self.transport.send_wg(k, data)

    def send_ip(self, pkt):
        """Encrypt one IP packet to the peer owning its destination. False if no route."""
        n = len(pkt)
        if n == 0 or n + self.off + 16 > len(self.tx):
            return False
        v = pkt[0] >> 4
        if v == 4:
            slot = self.route_at(pkt, 16, 4) if n >= 20 else None
        else:
            slot = self.route_at(pkt, 24, 16) if n >= 40 else None
        if slot is None:
            self.stats["drop_route"] += 1
            return False
        return self._output(slot, pkt)

    def _output(self, slot, pkt):
        n = len(pkt)
        tx, res = self.tx, self.res
        tx[self.txin.cut(n)] = pkt
        k = self.dev.output(slot, tx, n, _now(), res)
        if k == self._wg.DATAGRAM:
            self.stats["ip_out"] += 1
            # a view of tx: sent (or copied into magicsock's queue) before this returns
            self._send_slot(slot, self.txv.view(res[2]))
            return True
        if k == self._wg.ERR_NO_SESSION:   # the engine starts a handshake; keep the packet
            self.pending[slot] = bytes(pkt)
            self._tick()
            return True
        return False

    def _events(self):
        res = self.res
        ev = self.dev.event(res)
        while ev:
            if ev & self._wg.EV_HANDSHAKE_COMPLETE:
                self.stats["handshakes"] += 1
                p = self.pending.pop(res[0], None)
                if p is not None:
                    self._output(res[0], p)
            ev = self.dev.event(res)

    def _tick(self):
        tx, res = self.tx, self.res
        while self.dev.tick(tx, _now(), res) == self._wg.DATAGRAM:
            self._send_slot(res[0], self.txv.view(res[2]))
        self._events()
        if self.ns is not None:
            self.ns.tick(_now())
            self.flush()

    async def _ticker(self):
        while True:
            try:
                self._tick()
            except Exception as e:
                self.node.log("dataplane tick: %r" % (e,), 1)
            await asyncio.sleep_ms(TICK_MS) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(TICK_MS / 1000)


async def start(node, udp_port=None, bind="0.0.0.0", max_peers=MAX_PEERS, cadata=None, local_ips=()):
    """Start the data plane of a Running node; returns the DataPlane.
    udp_port None: DERP only; else the UDP port for direct paths (0 is not supported by
    magicsock_run's endpoint reports: pick a port). local_ips: LAN addresses to report as
    endpoints (e.g. network.WLAN().ifconfig()[0]) besides the STUN-mapped one."""
    dp = DataPlane(node, udp_port, bind, max_peers, cadata, local_ips)
    await dp.start()
    return dp


def attach(node, **kw):
    """Start the data plane (once) when the node reaches Running; node.dataplane holds it."""
    def on_state(s):
        if s == "Running" and getattr(node, "dataplane", None) is None:
            node.dataplane = DataPlane(node, **kw)
            asyncio.create_task(_start_logged(node))
    node.dataplane = None
    node.on_state(on_state)


async def _start_logged(node):
    try:
        await node.dataplane.start()
        node.log("data plane up (DERP region %d)" % node.dataplane.transport.region, 1)
    except Exception as e:
        node.log("data plane failed to start: %r" % (e,), 0)
        node.dataplane = None
