"""The MicroPython node (host firmware, frozen `tailnet`) with its full data plane
(tailnet.dataplane: _tnwg WireGuard engine + magicsock DERP/disco) against real
tailscaled peers in a Headscale tailnet (tools/testnet.py), node run inside the
testnet's network namespace:
- DERP only (data plane started by dataplane.attach() when the node is Running, built-in
  responder): `tailscale ping` (disco), `--tsmp` and `--icmp` (v4 and v6) answered via DERP;
- DERP only with the netstack, node speaking first: our engine initiates the handshake,
  UDP echo round trips to a server behind the tailscaled peer;
- with a UDP socket: `tailscale ping` reports a direct path, `--tsmp` and netstack UDP
  echo work over it."""
import os
import socket
import subprocess
import sys
import time

import pytest

from mpy import REPO

sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
from dataplane_harness import ECHO_SERVER, ping, rtts, start_node, stop_node, udp_echo, wait_line  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def test_ping_disco_tsmp_icmp_via_derp(tmp_path):
    from testnet import Testnet

    with Testnet(peers=1, derp_only=True) as net:
        p, q, lines, cfg = start_node(net, str(tmp_path), attach=True)
        try:
            up = wait_line(q, lines, "UP", 90).split()
            ip4, ip6 = up[1], up[2]
            peer = net.peers[0]
            net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
            res = {}
            # disco pongs name their path; TSMP/ICMP ride WireGuard, which can only go
            # via DERP here (derp_only: tailscaled never tries direct UDP)
            for name, flags, via in (("disco", (), "via DERP("), ("tsmp", ("--tsmp",), "via TSMP"),
                                     ("icmp", ("--icmp",), "via ICMP")):
                out = ping(peer, ip4, *flags)
                assert "pong from mpnode" in out and via in out, (name, out, lines[-20:])
                res[name] = rtts(out)
            out = ping(peer, ip6, "--icmp")
            assert "pong from mpnode" in out and "via ICMP" in out, ("icmp6", out, lines[-20:])
            res["icmp6"] = rtts(out)
            for k, v in res.items():
                print("tailscale ping %-5s via DERP -> MicroPython node: %s ms" % (k, v))
            st = stop_node(p, q, lines, cfg)
            print("node stats:", st)
            assert st["dp"]["tsmp"] >= 1 and st["dp"]["echo"] >= 2
            assert st["wg"]["handshakes"] >= 1 and st["dp"]["drop_src"] == 0
            assert st["derp"]["rx_packets"] >= st["wg"]["rx_data"] > 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_direct_udp_path_and_netstack_udp(tmp_path):
    """Direct UDP path; the netstack (tailnet.netstack) attached: TSMP answered by it, and
    UDP datagrams from a netstack socket on the node reach a UDP echo server behind the
    tailscaled peer (tailscaled's userspace netstack forwards them to its loopback) and
    come back."""
    from testnet import Testnet

    with Testnet(peers=1) as net:
        port = net.port(socket.SOCK_DGRAM)
        echo_port = net.port(socket.SOCK_DGRAM)
        echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(echo_port)])
        p, q, lines, cfg = start_node(net, str(tmp_path), udp_port=port, netstack=True)
        try:
            ip4 = wait_line(q, lines, "UP", 90).split()[1]
            peer = net.peers[0]
            net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
            want = "via 127.0.0.1:%d" % port
            t0 = time.time()
            out = ping(peer, ip4, count=10, want=want, tries=6)
            assert want in out, out
            print("direct disco path after %.1f s: %s ms" % (time.time() - t0, rtts(out)))
            out = ping(peer, ip4, "--tsmp", count=5)
            assert "pong from mpnode" in out, out
            print("tsmp over the direct path: %s ms" % rtts(out))
            got, n, ms = udp_echo(q, lines, cfg, peer.ip4, echo_port, 20, 100)
            assert got == n, (got, n, lines[-20:])
            ms.sort()
            print("UDP echo node -> tailscaled peer (direct): %d/%d, median %d ms" % (got, n, ms[n // 2]))
            st = stop_node(p, q, lines, cfg)
            print("node stats:", st)
            assert st["ns"]["tsmp"] >= 1 and st["dp"]["ip_out"] >= 21
            assert st["conn"]["udp_in"] >= 20 and st["derp"]["rx_packets"] == 0, st
        finally:
            echo.kill()
            echo.wait()
            if p.poll() is None:
                p.kill()
                p.wait()


def test_node_initiates_over_derp_netstack_udp(tmp_path):
    """DERP only, the node speaks first: a UDP datagram from a netstack socket makes our
    engine start the WireGuard handshake (initiation relayed by DERP), the queued packet
    goes out once it completes, and the echoes come back; then ICMP from the peer is
    answered by the netstack, and a peer that joins afterwards gets TSMP answers too."""
    from testnet import Testnet

    with Testnet(peers=1, derp_only=True) as net:
        echo_port = net.port(socket.SOCK_DGRAM)
        echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(echo_port)])
        p, q, lines, cfg = start_node(net, str(tmp_path), netstack=True)
        try:
            ip4 = wait_line(q, lines, "UP", 90).split()[1]
            peer = net.peers[0]
            net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
            got, n, ms = udp_echo(q, lines, cfg, peer.ip4, echo_port, 20, 200)
            assert got == n, (got, n, lines[-20:])
            print("UDP echo node -> tailscaled peer via DERP (handshake by the node): first %d ms, "
                  "median %d ms" % (ms[0], sorted(ms)[n // 2]))
            out = ping(peer, ip4, "--icmp")
            assert "pong from mpnode" in out and "via ICMP" in out, out
            # a peer that joins later reaches the node: engine peers follow the netmap
            late = net.add_peer("late")
            net.wait_for(lambda: ip4 in late.cli("status"), timeout=30, what="node in late peer status")
            out = ping(late, ip4, "--tsmp")
            assert "pong from mpnode" in out and "via TSMP" in out, (out, lines[-20:])
            st = stop_node(p, q, lines, cfg)
            print("node stats:", st)
            assert st["wg"]["tx_initiation"] >= 1 and st["wg"]["rx_response"] >= 1
            assert st["ns"]["icmp_echo"] >= 1 and st["ns"]["tsmp"] >= 1
            assert st["derp"]["tx_packets"] >= 22 and st["wg"]["handshakes"] >= 2
        finally:
            echo.kill()
            echo.wait()
            if p.poll() is None:
                p.kill()
                p.wait()
