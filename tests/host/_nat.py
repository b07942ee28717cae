"""NAT topologies in network namespaces (root only), shared by test_disco_nat.py,
test_nat_shapes.py and tools/bench/nat_shapes.py:

    lan1 (192.168.1.2) -- nat1 (10.0.1.2 public) --+
                                                    pub (10.0.0.1: derper or Headscale + DERP + STUN)
    lan2 (192.168.2.2) -- nat2 (10.0.2.2 public) --+

Each NAT box runs one of the MODES below (iptables); SHAPES names the pairs measured.
NatTestnet is tools/testnet.py's Testnet with Headscale (TLS, embedded DERP, STUN) in `pub`
listening on 10.0.0.1 and tailscaled peers started in `lan1`/`lan2` ("localhost", the name in
the throwaway certificate, resolves to 10.0.0.1 there through /etc/netns/<ns>/hosts, which
`ip netns exec` bind-mounts over /etc/hosts)."""
import contextlib
import json
import os
import shutil
import subprocess
import time

from _proc import LineProc

# nat box modes
#  fw    MASQUERADE + a home router's firewall: unsolicited inbound (conntrack NEW) to the box
#        is dropped in INPUT, before conntrack confirms it, so no stale entry takes the public
#        port a later outbound flow needs -> endpoint-independent mapping that holds
#  masq  MASQUERADE alone: an unsolicited inbound UDP packet to the box's public ip:port gets a
#        confirmed conntrack entry; a later outbound flow to that sender then clashes with it
#        and is given another source port
#  sym   MASQUERADE --random-fully + fw: a random public port per conntrack entry, i.e. per
#        destination (endpoint-dependent mapping, "symmetric NAT")
#  none  no NAT, no firewall: the host behind it has a routable address (192.168.x.2)
#  same  (nat2 only) lan2 is a second LAN port of nat1: both sides behind the same NAT box,
#        192.168.1.0/24 and 192.168.2.0/24 routed between each other by it
MODES = ("fw", "masq", "sym", "none", "same")

# shape -> (nat1 mode, nat2 mode, description)
SHAPES = {
    "fw": ("fw", "fw", "MASQUERADE + drop unsolicited inbound, both sides"),
    "masq": ("masq", "masq", "plain MASQUERADE, both sides"),
    "public": ("none", "fw", "side 1 public (no NAT), side 2 MASQUERADE + firewall"),
    "sym1": ("fw", "sym", "side 2 endpoint-dependent (--random-fully), side 1 MASQUERADE + firewall"),
    "sym2": ("sym", "sym", "both endpoint-dependent (--random-fully)"),
    "masq1": ("masq", "fw", "side 1 plain MASQUERADE, side 2 MASQUERADE + firewall"),
    "samenat": ("fw", "same", "both behind the same NAT box (MASQUERADE + firewall), two LAN subnets"),
    "public2": ("fw", "none", "side 1 MASQUERADE + firewall, side 2 public (no NAT)"),
    "pubsym": ("none", "sym", "side 1 public, side 2 endpoint-dependent (--random-fully)"),
}


def sh(*cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr.strip()))
    return p.stdout


def available():
    """None if this machine can build the topologies, else the reason."""
    if os.geteuid() != 0:
        return "needs root"
    for b in ("ip", "iptables"):
        if not shutil.which(b):
            return "needs " + b
    return None


class Topology:
    def __init__(self, nat1="fw", nat2="fw"):
        assert nat1 in MODES and nat1 != "same" and nat2 in MODES
        self.modes = {"nat1": nat1, "nat2": nat2}
        tag = "%04x" % (os.getpid() & 0xFFFF)
        self.ns = {n: "tnn%s%s" % (n, tag) for n in ("pub", "nat1", "nat2", "lan1", "lan2")}
        self.public = {"lan1": "10.0.1.2" if nat1 != "none" else "192.168.1.2",
                       "lan2": {"none": "192.168.2.2", "same": "10.0.1.2"}.get(nat2, "10.0.2.2")}
        self.lan_ip = {"lan1": "192.168.1.2", "lan2": "192.168.2.2"}

    def prefix(self, n):
        return ["ip", "netns", "exec", self.ns[n]]

    def nsx(self, n, *cmd):
        return sh(*(self.prefix(n) + list(cmd)))

    def link(self, a, b, ipa, ipb, name):
        ia, ib = name + "a", name + "b"
        sh("ip", "link", "add", ia, "netns", self.ns[a], "type", "veth", "peer", "name", ib,
           "netns", self.ns[b])
        self.nsx(a, "ip", "addr", "add", ipa, "dev", ia)
        self.nsx(b, "ip", "addr", "add", ipb, "dev", ib)
        self.nsx(a, "ip", "link", "set", ia, "up")
        self.nsx(b, "ip", "link", "set", ib, "up")
        return ia, ib

    def up(self):
        for n in self.ns.values():
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
        self.link("pub", "nat1", "10.0.1.1/24", "10.0.1.2/24", "p1")
        self.link("pub", "nat2", "10.0.2.1/24", "10.0.2.2/24", "p2")
        self.nsx("pub", "ip", "addr", "add", "10.0.0.1/32", "dev", "lo")
        self.link("nat1", "lan1", "192.168.1.1/24", "192.168.1.2/24", "l1")
        # "same": lan2 hangs off nat1 too (a second LAN port of the same NAT box)
        self.link("nat1" if self.modes["nat2"] == "same" else "nat2", "lan2", "192.168.2.1/24",
                  "192.168.2.2/24", "l2")
        for nat, wan, gw, lan in (("nat1", "p1b", "10.0.1.1", "192.168.1.0/24"),
                                  ("nat2", "p2b", "10.0.2.1", "192.168.2.0/24")):
            mode = self.modes[nat]
            if mode == "same":
                continue
            self.nsx(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.nsx(nat, "ip", "route", "add", "default", "via", gw)
            if mode == "none":
                self.nsx("pub", "ip", "route", "add", lan, "via", nat == "nat1" and "10.0.1.2" or "10.0.2.2")
                continue
            rule = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", wan, "-j", "MASQUERADE"]
            if mode == "sym":
                rule.append("--random-fully")
            self.nsx(nat, *rule)
            if mode in ("fw", "sym"):
                self.nsx(nat, "iptables", "-A", "INPUT", "-i", wan, "-m", "conntrack", "--ctstate",
                         "NEW", "-j", "DROP")
        self.nsx("lan1", "ip", "route", "add", "default", "via", "192.168.1.1")
        self.nsx("lan2", "ip", "route", "add", "default", "via", "192.168.2.1")
        self.nsx("pub", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        return self

    def hosts_file(self, names=("localhost",), ip="10.0.0.1"):
        """Make `names` resolve to ip (pub) inside lan1/lan2."""
        for n in ("lan1", "lan2"):
            d = os.path.join("/etc/netns", self.ns[n])
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "hosts"), "w") as f:
                f.write("%s %s\n127.0.0.1 localhost.lo\n" % (ip, " ".join(names)))

    def block_udp(self, nat, on):
        self.nsx(nat, "iptables", "-I" if on else "-D", "FORWARD", "-p", "udp", "-j", "DROP")

    def conntrack(self, nat):
        """The NAT box's UDP conntrack table (conntrack -L if installed, else /proc)."""
        if shutil.which("conntrack"):
            p = subprocess.run(self.prefix(nat) + ["conntrack", "-L", "-p", "udp"], capture_output=True,
                               text=True)
            return p.stdout.strip()
        p = subprocess.run(self.prefix(nat) + ["cat", "/proc/net/nf_conntrack"], capture_output=True, text=True)
        return "\n".join(l for l in p.stdout.splitlines() if " udp " in l)

    def conntrack_flush(self, nat):
        """Delete the NAT box's UDP conntrack entries (needs the conntrack tool)."""
        subprocess.run(self.prefix(nat) + ["conntrack", "-D", "-p", "udp"], capture_output=True)

    def down(self):
        for n in self.ns.values():
            for _ in range(3):
                pids = subprocess.run(["ip", "netns", "pids", n], capture_output=True, text=True).stdout.split()
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(int(pid), 9)
                    except OSError:
                        pass
                time.sleep(0.2)
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
            shutil.rmtree(os.path.join("/etc/netns", n), ignore_errors=True)


Proc = LineProc   # kept as the name the NAT tests use


def _testnet_class():
    from testnet import Testnet

    class NatTestnet(Testnet):
        """Headscale (+ embedded DERP + STUN) in topo's `pub` namespace on 10.0.0.1;
        add_peer_in(lan, name) starts a tailscaled in lan1/lan2."""

        def __init__(self, topo, **kw):
            Testnet.__init__(self, peers=0, **kw)
            self.topo = topo
            self._ns = None

        @property
        def exec_prefix(self):
            return self.topo.prefix(self._ns or "pub")

        def start(self):
            import tempfile

            from testnet import make_ca
            self.state_dir = tempfile.mkdtemp(prefix="tailnet-nat-")
            self.netns = self.topo.ns["pub"]
            self.topo.hosts_file()
            self.certs = make_ca(self.state_dir)
            self.ca_pem, self.ca_der = self.certs["ca.pem"], self.certs["ca.der"]
            self._start_headscale()

        def stop(self):
            self.netns = None   # the topology owns (and deletes) the namespaces
            Testnet.stop(self)

        def spawn(self, name, cmd, env=None):
            if name == "headscale":   # listen on pub's address, DERP node at 10.0.0.1
                with open(self.hs_config) as f:
                    cfg = json.load(f)
                cfg["listen_addr"] = "10.0.0.1:%d" % self.control_port
                cfg["derp"]["server"]["stun_listen_addr"] = "10.0.0.1:%d" % self.stun_port
                cfg["derp"]["server"]["ipv4"] = "10.0.0.1"
                with open(self.hs_config, "w") as f:
                    json.dump(cfg, f, indent=1)
            return Testnet.spawn(self, name, cmd, env)

        def add_peer_in(self, lan, name):
            key = self.authkey()
            self._ns = lan
            try:
                peer = self.add_peer(name, authkey=key)
            finally:
                self._ns = None
            peer.lan = lan
            return peer

    return NatTestnet


def nat_testnet(topo, **kw):
    return _testnet_class()(topo, **kw)


class NodeView:
    """What tools/bench/dataplane_harness.start_node needs from a Testnet, for a node run
    inside topo's namespace `lan`."""

    def __init__(self, net, lan):
        self.net, self.lan = net, lan
        self.exec_prefix = net.topo.prefix(lan)
        self.control_url, self.ca_der = net.control_url, net.ca_der

    def authkey(self):
        return self.net.authkey()


def _ping_direct(peer, ip, count):
    """`tailscale ping` (disco, --until-direct) from peer; (direct endpoint or None,
    seconds the command took, output). Retried while tailscaled's engine does not know the
    peer yet ("unknown peer": its netmap is applied to magicsock a moment after `status`)."""
    import re
    for _ in range(20):
        t0 = time.time()
        r = peer.cli("ping", "--c", str(count), "--timeout", "2s", ip, check=False, timeout=count * 3 + 30)
        dt = time.time() - t0
        out = r.stdout + r.stderr
        if "unknown peer" not in out and "no matching peer" not in out:
            break
        time.sleep(0.5)
    m = re.search(r" via (\d+\.\d+\.\d+\.\d+:\d+) in ", out)
    return (m.group(1) if m else None), dt, out


class Side:
    """What setup() yields: the topology, the NatTestnet, tailscaled `tsb` (lan2), the side-1
    tailnet IPv4 and, for kind "node", the node (dataplane_harness's (p, q, lines, cfg))."""


@contextlib.contextmanager
def setup(shape, kind, tmp):
    """A fresh topology of `shape` with Headscale in pub and tailscaled `tsb` in lan2; in
    lan1 either a tailscaled `tsa` (kind "ts") or the MicroPython node `mpnode` (kind "node",
    full data plane, UDP port 41641 bound to 192.168.1.2)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "tools", "bench"))
    from dataplane_harness import start_node, stop_node, wait_line
    nat1, nat2, _ = SHAPES[shape]
    s = Side()
    s.topo = Topology(nat1, nat2)
    s.net = s.node = None
    s.stop_node = lambda: stop_node(*s.node)
    try:
        s.topo.up()
        s.net = nat_testnet(s.topo, log=lambda m: None)
        s.net.start()
        s.b = s.net.add_peer_in("lan2", "tsb")
        if kind == "node":
            os.makedirs(tmp, exist_ok=True)
            for f in ("stop", "cmds", "mp.state"):  # a reused tmp must not stop the new node
                if os.path.exists(os.path.join(tmp, f)):
                    os.remove(os.path.join(tmp, f))
            s.node = start_node(NodeView(s.net, "lan1"), tmp, udp_port=41641, bind="192.168.1.2")
            s.ip = wait_line(s.node[1], s.node[2], "UP", 120).split()[1]
        else:
            s.ip = s.net.add_peer_in("lan1", "tsa").ip4
        s.net.wait_for(lambda: s.ip in s.b.cli("status"), timeout=30, what="side 1 in tsb's status")
        yield s
    finally:
        if s.node is not None and s.node[0].poll() is None:
            s.node[0].kill()
            s.node[0].wait()
        if s.net is not None:
            s.net.stop()
        s.topo.down()


def measure(shape, kind, tmp, count=20, log=print, cold=False):
    """setup(shape, kind, tmp), then `tailscale ping` from tsb to side 1. Returns
    (direct endpoint or None, seconds, ping output, {nat: conntrack table after the ping}).
    cold: first delete the NAT boxes' UDP conntrack entries (STUN mappings come back on the
    next STUN refresh, same ports), so neither side has opened a pinhole toward the other:
    the node probes a new peer's endpoints once when it appears, which otherwise opens
    nat1 toward tsb before tsb's first ping arrives."""
    with setup(shape, kind, tmp) as side:
        topo, b, ip = side.topo, side.b, side.ip
        if cold:
            for n in ("nat1", "nat2"):
                topo.conntrack_flush(n)
            time.sleep(0.5)
        ep, dt, out = _ping_direct(b, ip, count)
        log("%s: %s<->tailscaled%s: %s in %.1f s" % (shape, kind, " (cold)" if cold else "", ep, dt))
        ct = dict((n, topo.conntrack(n)) for n in ("nat1", "nat2"))
        if side.node is not None:
            side.stop_node()
        return ep, dt, out, ct
