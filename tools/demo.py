#!/usr/bin/env python3
"""`make demo`: start a real local tailnet and run the MicroPython node against it.

Says plainly what happened at each step; tears everything down at the end.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "host"))

from testnet import Testnet  # noqa: E402
from mpy import MICROPYTHON  # noqa: E402

NODE_SCRIPT = os.path.join(REPO, "examples", "host_demo.py")


def say(msg):
    print("\n== " + msg, flush=True)


def main():
    say("starting a local tailnet: Headscale (control + DERP + STUN) and one real tailscaled peer")
    t0 = time.time()
    with Testnet(peers=1, log=lambda m: None) as net:
        peer = net.peers[0]
        print("control server %s, peer %s at %s / %s (%.1f s)" % (
            net.control_url, peer.name, peer.ip4, peer.ip6, time.time() - t0))
        key = net.authkey(reusable=True)
        say("booting the MicroPython host firmware (%s) with the tailnet package frozen in" % MICROPYTHON)
        env = dict(os.environ, TAILNET_AUTHKEY=key, TAILNET_CONTROL_URL=net.control_url,
                   TAILNET_CA=net.ca_der, TAILNET_PEER_IP=peer.ip4, TAILNET_HOSTNAME="mpy-demo",
                   TAILNET_STATE=os.path.join(net.state_dir, "node.state"), MICROPYPATH=".frozen")
        import subprocess
        p = subprocess.run(net.exec_prefix + [MICROPYTHON, NODE_SCRIPT], env=env, timeout=180,
                           capture_output=True, text=True)
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
        say("headscale now lists these nodes:")
        for n in net.nodes():
            print("  %-10s %s" % (n.get("given_name") or n.get("name"), ", ".join(n.get("ip_addresses", []))))
        ok = p.returncode == 0
        say("demo %s; tearing the tailnet down" % ("finished" if ok else "FAILED (exit %d)" % p.returncode))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
