"""Link faults against real components: the MicroPython node (host firmware, full data plane
+ netstack) in a Headscale tailnet with a real tailscaled peer (tools/testnet.py).

The node runs under its own uid (65534) inside the testnet's namespace; a mangle rule marks
every connection that uid opens (CONNMARK), so the "link cut" is two INPUT rules that drop
every packet of the node's connections (TCP to control and DERP, its UDP flows) plus any
UDP to or from its port, in both directions, exactly like a dead uplink: nothing fails
fast, packets just vanish. Headscale, DERP and the peer keep running.

After connectivity is proven (tailscale ping from the peer, UDP echo from the node through
the peer), the link is cut for 30 s while traffic keeps being attempted both ways, then
restored; both directions must work again within 10 s of the restore (issue #6, Faults).
Measured: time from restore to the first successful `tailscale ping` and to the first UDP
echo the node gets back."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from mpy import REPO

sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
from dataplane_harness import ECHO_SERVER, ping, start_node, stop_node, udp_until, wait_line  # noqa: E402

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("iptables") or not shutil.which("setpriv"),
                       reason="needs root, iptables and setpriv"),
]

UID = 65534
MARK = "0x6e"
CUT_S = 30
RECOVER_S = 10
AS_NODE_UID = ["setpriv", "--reuid=%d" % UID, "--regid=%d" % UID, "--clear-groups"]


def ipt(net, *args):
    r = net.run(["iptables"] + list(args))
    assert r.returncode == 0, r.stderr


def cut_rules(udp_port):
    rules = [("INPUT", "-m", "connmark", "--mark", MARK, "-j", "DROP")]
    if udp_port:
        rules += [("INPUT", "-p", "udp", "--dport", str(udp_port), "-j", "DROP"),
                  ("INPUT", "-p", "udp", "--sport", str(udp_port), "-j", "DROP")]
    return rules


def ping_ok(peer, ip, want):
    r = peer.cli("ping", "--c", "1", "--timeout", "1s", ip, check=False, timeout=30)
    out = r.stdout + r.stderr
    return "pong from" in out and (want is None or want in out), out


def run_cut(net, tmp, udp_port, want_direct, node_traffic=True, quiet_s=0):
    peer = net.peers[0]
    echo_port = net.port(socket.SOCK_DGRAM)
    echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(echo_port)])
    ipt(net, "-t", "mangle", "-A", "OUTPUT", "-m", "owner", "--uid-owner", str(UID),
        "-j", "CONNMARK", "--set-mark", MARK)
    p, q, lines, cfg = start_node(net, tmp, udp_port=udp_port, netstack=True, wrap=AS_NODE_UID)
    res = {}
    try:
        ip4 = wait_line(q, lines, "UP", 90).split()[1]
        net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
        via = "via 127.0.0.1:%d" % udp_port if want_direct else "via DERP("
        out = ping(peer, ip4, count=5, want=via, tries=6)
        assert via in out, out
        ms = udp_until(q, lines, cfg, peer.ip4, echo_port, 20)
        assert ms is not None, lines[-30:]
        time.sleep(quiet_s)
        # the cut: traffic keeps being attempted both ways while it lasts
        for r in cut_rules(udp_port):
            ipt(net, "-A", *r)
        t_cut = time.time()
        stop = []

        def peer_traffic():
            while not stop:
                ping_ok(peer, ip4, None)
                time.sleep(0.5)

        th = threading.Thread(target=peer_traffic, daemon=True)
        th.start()
        if node_traffic:
            assert udp_until(q, lines, cfg, peer.ip4, echo_port, 12) is None, "link not cut"
        assert not ping_ok(peer, ip4, None)[0], "link not cut"
        time.sleep(max(0, CUT_S - (time.time() - t_cut)))
        stop.append(1)
        th.join(30)
        for r in cut_rules(udp_port):
            ipt(net, "-D", *r)
        t_up = time.time()
        res["cut_s"] = t_up - t_cut
        # node -> peer (netstack UDP through WireGuard) measured by the node itself; the
        # command is picked up within 100 ms of being written
        with open(cfg["cmdfile"], "a") as f:
            f.write("udpup %s %d %d\n" % (peer.ip4, echo_port, 40))
        t_ping = None
        while time.time() - t_up < 40:
            ok, out = ping_ok(peer, ip4, None)
            if ok:
                t_ping = time.time() - t_up
                break
        f = wait_line(q, lines, "UDPUP", 60).split()
        res["peer_ping_s"] = t_ping
        res["node_udp_s"] = None if f[1] == "-" else int(f[1]) / 1000
        if want_direct:   # and the direct path comes back too (disco re-probe)
            t0 = time.time()
            out = ping(peer, ip4, count=5, want=via, tries=10)
            res["direct_again_s"] = time.time() - t_up if via in out else None
            res["direct_again_after_ping_s"] = time.time() - t0
        st = stop_node(p, q, lines, cfg)
        res["derp"] = st["derp"]
        print("node stats:", st)
        return res
    finally:
        echo.kill()
        echo.wait()
        if p.poll() is None:
            p.kill()
            p.wait()


def tmpdir():
    d = tempfile.mkdtemp(prefix="tnfault")
    os.chmod(d, 0o777)
    return d


def check(res, what):
    print("%s: link cut %.1f s; after restore: tailscale ping ok in %s s, node UDP echo ok in %s s"
          % (what, res["cut_s"], res["peer_ping_s"] and round(res["peer_ping_s"], 1), res["node_udp_s"]))
    assert res["peer_ping_s"] is not None and res["peer_ping_s"] < RECOVER_S, res
    assert res["node_udp_s"] is not None and res["node_udp_s"] < RECOVER_S, res


def test_link_cut_30s_via_derp():
    from testnet import Testnet

    d = tmpdir()
    try:
        with Testnet(peers=1, derp_only=True) as net:
            res = run_cut(net, d, None, False)
        check(res, "DERP path")
        assert res["derp"]["connects"] >= 1
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_link_cut_30s_direct():
    from testnet import Testnet

    d = tmpdir()
    try:
        with Testnet(peers=1) as net:
            res = run_cut(net, d, net.port(socket.SOCK_DGRAM), True)
        check(res, "direct path")
        print("direct path again %s s after the restore" % (res["direct_again_s"],))
        assert res["direct_again_s"] is not None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_link_cut_30s_via_derp_idle_node():
    """The node's application sends nothing during the cut (only the peer tries to reach
    it). What makes the node notice is its own WireGuard passive keepalive (sent 10 s
    after the last data it received): a write with no reply -> DERP ping -> no pong in
    5 s -> redial. (A node with no WireGuard activity at all in the last 10 s before the
    cut only probes at the 60 s idle ping: not covered here, see derp_client.py.)"""
    from testnet import Testnet

    d = tmpdir()
    try:
        with Testnet(peers=1, derp_only=True) as net:
            res = run_cut(net, d, None, False, node_traffic=False)
        check(res, "DERP path, idle node")
    finally:
        shutil.rmtree(d, ignore_errors=True)
