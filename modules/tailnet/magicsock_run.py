# tailnet: the data plane's asyncio tasks for a running control Node: home DERP connection,
# the shared UDP socket (disco + WireGuard + STUN), endpoint and preferred-DERP reports to
# control, peers kept in sync with the netmap, heartbeats. WireGuard datagrams received
# go to on_wg(node_key_or_None, addr_or_None, view); send them with send_wg(node, pkt).
# MIT license

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from tailnet import crypto, derp_client, derp_map, disco, magicsock, magicsock_udp, stun

STUN_RETRY_MS = 2000
STUN_REFRESH_MS = 60000


class DataPlane:
    def __init__(self, node, udp_port=0, bind="0.0.0.0", local_ips=(), derp_tls=None,
                 cadata=None, preferred_region=0):
        self.node = node
        self.udp_port = udp_port
        self.bind = bind
        self.local_ips = tuple(local_ips) or ((bind,) if bind not in ("0.0.0.0", "") else ())
        # DERP over TLS unless control itself is plain HTTP (TS_DEBUG_USE_DERP_HTTP analogue)
        self.derp_tls = derp_tls if derp_tls is not None else node.control_url.startswith("https")
        self.cadata = cadata if cadata is not None else getattr(node, "cadata", None)
        self.preferred_region = preferred_region
        self.conn = None
        self.derp = None
        self.udp = None
        self.region = 0
        self.mapped = None  # STUN-mapped (ip16, port)
        self._stun_tx = None
        self._stun_at = None
        self._stun_target = None
        self._tasks = []
        self.on_wg = None

    async def start(self, timeout_ms=30000):
        n = self.node
        waited = 0
        while n.netmap.derpmap is None or n.netmap.self_node is None:
            if waited > timeout_ms:
                raise OSError("no DERPMap from control")
            await asyncio.sleep(0.1)
            waited += 100
        dm = n.netmap.derpmap
        self.region = derp_map.choose_home(dm, current=n.preferred_derp, preferred=self.preferred_region)
        region = derp_map.regions(dm).get(self.region) or {}
        dnode = None
        for cand in region.get("Nodes") or ():
            if derp_map.dial_info(cand, self.derp_tls):
                dnode = cand
                break
        if dnode is None:
            raise OSError("no usable DERP node in region %d" % self.region)
        host, port, tls, insecure, sni = derp_map.dial_info(dnode, self.derp_tls)
        self.conn = magicsock.Conn(n.node.public().raw, n.disco.secret(), self.region)
        self.conn.on_wg = self._on_wg
        self.conn.set_peers(n.netmap.peer_paths())
        n.on_netmap(lambda m: self.conn.set_peers(m.peer_paths()))
        # tls_pin also covers DERP served by the control host (headscale's embedded DERP)
        pin = getattr(n, "tls_pin", None)
        if pin:
            from tailnet.control import parse_url
            pin = pin if sni == parse_url(n.control_url)[1] else None
        self.derp = derp_client.DerpClient(host, port, n.node.secret(), tls=tls, insecure=insecure,
                                           cadata=self.cadata, server_name=sni, pin=pin)
        self.derp.on_packet = self.conn.derp_recv
        self._tasks.append(asyncio.create_task(self.derp.run()))
        send = None
        if self.udp_port is not None:
            self.udp = magicsock_udp.UDP(self.bind or "0.0.0.0", self.udp_port)
            send = self.udp.sendto
            st = derp_map.stun_info(dnode)
            if st is not None:
                self._stun_target = (disco.ip16(st[0]), st[1]) if _is_ip4(st[0]) else None
            self._tasks.append(asyncio.create_task(
                magicsock_udp.recv_loop(self.udp, self.conn, self._on_stun)))
            self._report_endpoints()
        self._tasks.append(asyncio.create_task(magicsock.pump(self.conn, self.derp, send)))
        self._tasks.append(asyncio.create_task(self._ticker()))
        n.set_preferred_derp(self.region)
        return self

    def rekey(self, node_priv, node_pub):
        """A new node key: disco pings carry it, DERP authenticates with it (redialled)."""
        if self.conn is not None:
            self.conn.node_pub = bytes(node_pub)
        if self.derp is not None:
            self.derp.set_key(node_priv, node_pub)

    def _on_wg(self, node, addr, pkt):
        if self.on_wg is not None:
            self.on_wg(node, addr, pkt)

    def send_wg(self, node, pkt):
        self.conn.send_wg(node, pkt)

    # ---- STUN and endpoints ------------------------------------------------------

    def _on_stun(self, data):
        if self._stun_tx is None:
            return
        r = stun.parse_response(data, self._stun_tx)
        if r is None:
            return
        self._stun_tx = None
        mapped = (disco.ip16(r[1]), r[2])
        if mapped != self.mapped:
            self.mapped = mapped
            self._report_endpoints()

    def endpoints(self):
        """[(text, type)]: local endpoints (type 1), then the STUN-mapped one (type 2)."""
        eps = []
        if self.udp is None:
            return eps
        for ip in self.local_ips:
            eps.append(("%s:%d" % (ip, self.udp_port), 1))
        if self.mapped is not None:
            t = magicsock_udp.text(self.mapped)
            if t not in [e[0] for e in eps]:
                eps.append((t, 2))
        return eps

    def _report_endpoints(self):
        eps = self.endpoints()
        if self.conn is not None:  # what our CallMeMaybe replies offer
            self.conn.my_eps = [(disco.ip16(ip), self.udp_port) for ip in self.local_ips if _is_ip4(ip)] + \
                ([self.mapped] if self.mapped is not None else [])
        if eps:
            self.node.set_endpoints([e[0] for e in eps], [e[1] for e in eps])

    def _stun_due(self, now):
        if self._stun_target is None or self.udp is None:
            return False
        if self._stun_at is None:
            return True
        gap = STUN_RETRY_MS if self.mapped is None or self._stun_tx is not None else STUN_REFRESH_MS
        return magicsock._tdiff(now, self._stun_at) >= gap

    async def _ticker(self):
        while True:
            now = self.conn.now()
            if self._stun_due(now):
                self._stun_tx = crypto.random(12)
                self._stun_at = now
                self.udp.sendto(self._stun_target, stun.request(self._stun_tx))
            self.conn.tick()
            await asyncio.sleep(1)

    async def stop(self):
        if self.derp is not None:
            self.derp.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except BaseException:
                pass
        self._tasks = []
        if self.udp is not None:
            self.udp.close()
            self.udp = None


def _is_ip4(s):
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True
