#!/usr/bin/env python3
"""`make demo`: a real local tailnet (Headscale + one real tailscaled) and the MicroPython
host firmware running examples/host_demo.py as a tailnet node that serves a web page.

Shows the tailscaled peer fetching that page over the tailnet (`tailscale nc`) and the node
pinging the peer; says plainly what happened; tears everything down. Exit 0 only if the
node came up, the page was fetched through the tailnet and the ping was answered.
"""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "host"))

from testnet import GOBIN, Testnet  # noqa: E402
from mpy import MICROPYTHON  # noqa: E402

NODE_SCRIPT = os.path.join(REPO, "examples", "host_demo.py")


def say(msg):
    print("\n== " + msg, flush=True)


def fetch(net, peer, ip, port=80, tries=5):
    """`tailscale nc ip port` on the peer with an HTTP request on stdin -> response text.
    (nc exits when stdin ends, so stdin stays open until the node closes the connection.)"""
    cmd = [os.path.join(GOBIN, "tailscale"), "--socket=" + peer.sock, "nc", ip, str(port)]
    out = ""
    for _ in range(tries):
        p = subprocess.Popen(net.exec_prefix + cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        p.stdin.write(("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % ip).encode())
        p.stdin.flush()
        timer = threading.Timer(30, p.kill)
        timer.start()
        out = p.stdout.read().decode(errors="replace")
        timer.cancel()
        p.stdin.close()
        p.wait()
        if out.startswith("HTTP/1.0 200"):
            return out
        time.sleep(1)
    return out


class Node:
    def __init__(self, net, env, heapsize=None, firmware=MICROPYTHON):
        cap = ["-X", "heapsize=" + heapsize] if heapsize else []
        self.p = subprocess.Popen(net.exec_prefix + [firmware] + cap + [NODE_SCRIPT], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.q = queue.Queue()
        self.lines = []
        self.pump_done = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            line = line.rstrip()
            self.lines.append(line)
            print("   node| " + line, flush=True)
            self.q.put(line)
        self.q.put(None)
        self.pump_done.set()

    def wait(self, prefix, timeout):
        end = time.time() + timeout
        while time.time() < end:
            try:
                line = self.q.get(timeout=max(0.1, end - time.time()))
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.startswith(prefix):
                return line
        return None

    def stop(self, stop_file=None):
        if stop_file and self.p.poll() is None:   # ask the node to stop (tailnet.down_async)
            open(stop_file, "w").close()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                pass
        if self.p.poll() is None:             # then Ctrl-C: the node reports and exits
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def run(heapsize=None, heap_report=False, firmware=MICROPYTHON):
    """The demo; returns ({step: ok}, the node's output lines). heapsize caps the node's
    MicroPython heap (-X heapsize=...); heap_report makes it print its heap use (after each
    step and the peak); firmware: the MicroPython binary (e.g. build/host32/micropython)."""
    ok = {"up": False, "fetch": False, "ping": False}
    say("starting a local tailnet: Headscale (control + DERP + STUN) and one real tailscaled peer")
    t0 = time.time()
    with Testnet(peers=1, log=lambda m: None) as net:
        peer = net.peers[0]
        print("control server %s; peer %r is %s / %s (%.1f s)" % (
            net.control_url, peer.name, peer.ip4, peer.ip6, time.time() - t0))
        say("booting the MicroPython host firmware with examples/host_demo.py (tailnet frozen in)")
        env = dict(os.environ, TAILNET_AUTHKEY=net.authkey(reusable=True),
                   TAILNET_CONTROL_URL=net.control_url, TAILNET_CA=net.ca_der,
                   TAILNET_HOSTNAME="mpy-demo", TAILNET_PING=peer.name, TAILNET_RUN_SECONDS="120",
                   TAILNET_STATE=os.path.join(net.state_dir, "node.state"), MICROPYPATH=".frozen",
                   TAILNET_HEAP_REPORT="1" if heap_report else "0",
                   TAILNET_STOP_FILE=os.path.join(net.state_dir, "node.stop"))
        node = Node(net, env, heapsize, firmware)
        try:
            line = node.wait("serving http://", 90)
            if line:
                ok["up"] = True
                ip = line.split("//")[1].split(":")[0]
                say("the node joined the tailnet as %s and serves HTTP on port 80" % ip)
                ping = node.wait("ping: %s (" % peer.name, 60)
                if ping and "answered" in ping:
                    ok["ping"] = True
                    say("the node pinged %s over the tailnet (ICMP through WireGuard): %s"
                        % (peer.name, ping.split(") ")[1]))
                else:
                    say("the node's ping to %s got no answer" % peer.name)
                net.wait_for(lambda: ip in peer.cli("status"), timeout=30, what="node in peer status")
                say("the real tailscaled peer %r fetches http://%s/ through the tailnet (tailscale nc)"
                    % (peer.name, ip))
                t1 = time.time()
                resp = fetch(net, peer, ip)
                print("".join("   peer| " + l + "\n" for l in resp.splitlines()), end="")
                if resp.startswith("HTTP/1.0 200") and "Hello %s" % peer.name in resp:
                    ok["fetch"] = True
                    say("the page came back in %.2f s, and the node knew who asked (whois: %s)"
                        % (time.time() - t1, peer.name))
                else:
                    say("the peer did NOT get the page")
            else:
                say("the node did not come up; its output is above")
        finally:
            node.stop(env["TAILNET_STOP_FILE"])
            node.pump_done.wait(10)
        say("headscale lists these nodes:")
        for n in net.nodes():
            print("   %-10s %s" % (n.get("given_name") or n.get("name"), ", ".join(n.get("ip_addresses", []))))
    say("demo %s (%s); the tailnet is torn down" % (
        "succeeded" if all(ok.values()) else "FAILED",
        ", ".join("%s %s" % (k, "ok" if v else "FAILED") for k, v in ok.items())))
    return ok, node.lines


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heapsize", help="cap the node's MicroPython heap, e.g. 96K (-X heapsize=)")
    ap.add_argument("--heap-report", action="store_true", help="the node prints its heap use")
    ap.add_argument("--firmware", default=MICROPYTHON, help="MicroPython binary (default %(default)s)")
    a = ap.parse_args(argv)
    ok, _ = run(a.heapsize, a.heap_report, a.firmware)
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
