#!/usr/bin/env python3
"""Data-plane round trips, MicroPython node vs tailscaled, in the same local tailnet.

For each path (DERP only, then direct UDP), a real tailscaled peer A pings over WireGuard
(`tailscale ping --tsmp` and `--icmp`, one pong per invocation) both another tailscaled
peer B and the MicroPython node (host firmware, frozen tailnet, data plane + netstack);
then the node sends UDP datagrams through its netstack to an echo server behind peer A.
Prints median/min per target.  Needs root (network namespace) and `make host testnet-tools`.

    python3 tools/bench/dataplane_rtt.py [--n 20]
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from dataplane_harness import ECHO_SERVER, rtts, start_node, stop_node, udp_echo, wait_line  # noqa: E402
from testnet import Testnet  # noqa: E402


def med(v):
    v = sorted(v)
    return "n=%-3d median %5.1f ms  min %5.1f ms" % (len(v), v[len(v) // 2], v[0]) if v else "no answers"


def one_path(derp_only, n):
    label = "DERP" if derp_only else "direct"
    with Testnet(peers=2, derp_only=derp_only) as net, tempfile.TemporaryDirectory() as tmp:
        a, b = net.peers
        echo_port = net.port(socket.SOCK_DGRAM)
        echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(echo_port)])
        udp_port = None if derp_only else net.port(socket.SOCK_DGRAM)
        p, q, lines, cfg = start_node(net, tmp, udp_port=udp_port, netstack=True)
        try:
            ip = wait_line(q, lines, "UP", 90).split()[1]
            net.wait_for(lambda: ip in a.cli("status"), timeout=30, what="node in peer status")
            for target in (b.ip4, ip):   # warm up: handshakes, direct path discovery
                a.cli("ping", "--c", "10", "--timeout", "3s", target, check=False, timeout=60)
            for kind in ("--tsmp", "--icmp"):
                for name, target in (("tailscaled", b.ip4), ("micropython", ip)):
                    v = []
                    for _ in range(n):
                        r = a.cli("ping", kind, "--c", "1", "--timeout", "3s", target, check=False)
                        v += rtts(r.stdout)
                    print("%-6s ping %-6s A -> %-11s %s" % (label, kind[2:], name, med(v)))
            got, cnt, ms = udp_echo(q, lines, cfg, a.ip4, echo_port, n * 5, 100)
            print("%-6s UDP echo node -> A (netstack, 100 B) %d/%d  %s" % (label, got, cnt, med(ms)))
            st = stop_node(p, q, lines, cfg)
            print("%-6s node: wg %s, derp rx %d, udp rx %d" % (
                label, {k: st["wg"][k] for k in ("rx_data", "tx_data", "handshakes")},
                st["derp"]["rx_packets"], st["conn"]["udp_in"]))
        finally:
            echo.kill()
            echo.wait()
            if p.poll() is None:
                p.kill()
                p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    t0 = time.time()
    for derp_only in (True, False):
        one_path(derp_only, args.n)
    print("total %.0f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
