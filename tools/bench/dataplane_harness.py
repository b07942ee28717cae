"""CPython side of the data-plane interop tests and benchmarks: starts the MicroPython
node (tools/bench/dataplane_node.py, frozen `tailnet`) inside a Testnet's network
namespace and talks to it through its output lines and command file."""
import json
import os
import queue
import re
import subprocess
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(os.environ.get("TAILNET_BUILD", os.path.join(REPO, "build")), "host", "micropython")

NODE_SCRIPT = os.path.join(REPO, "tools", "bench", "dataplane_node.py")


def start_node(net, tmp, udp_port=None, hostname="mpnode", netstack=False, attach=False, wrap=(), bind=None):
    """wrap: a command prefix run inside the namespace before the firmware (e.g. setpriv
    to run the node under its own uid; tmp must then be writable by that uid)."""
    ca = os.path.join(tmp, "ca.der")
    with open(ca, "wb") as f, open(net.ca_der, "rb") as src:
        f.write(src.read())
    os.chmod(ca, 0o644)
    cfg = {"authkey": net.authkey(), "url": net.control_url, "hostname": hostname,
           "state": os.path.join(tmp, "mp.state"), "ca": ca, "run": 240,
           "stopfile": os.path.join(tmp, "stop"), "udp_port": udp_port, "netstack": netstack, "attach": attach,
           "cmdfile": os.path.join(tmp, "cmds"), "bind": bind or "127.0.0.1"}
    code = "CFG = %r\nexec(open(%r).read())" % (cfg, NODE_SCRIPT)
    env = dict(os.environ, MICROPYPATH=os.environ.get("DP_MICROPYPATH", ".frozen"))
    p = subprocess.Popen(net.exec_prefix + list(wrap) + [MICROPYTHON, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    q = queue.Queue()
    lines = []

    def pump():
        for line in p.stdout:
            lines.append(line.rstrip())
            q.put(line.rstrip())
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return p, q, lines, cfg


def wait_line(q, lines, prefix, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            line = q.get(timeout=max(0.1, end - time.time()))
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith(prefix):
            return line
    raise AssertionError("no %s line; output:\n%s" % (prefix, "\n".join(lines[-40:])))


def ping(peer, ip, *flags, count=5, want=None, tries=4):
    out = ""
    for _ in range(tries):
        r = peer.cli("ping", *flags, "--c", str(count), "--timeout", "3s", ip, check=False,
                     timeout=90)
        out = r.stdout + r.stderr
        if (want or "pong from") in out:
            break
        time.sleep(1)
    return out


def rtts(out):
    return [float(x) for x in re.findall(r" in ([0-9.]+)ms", out)]


def stop_node(p, q, lines, cfg):
    open(cfg["stopfile"], "w").close()
    st = json.loads(wait_line(q, lines, "STATS", 30)[6:])
    p.wait(30)
    return st


ECHO_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(4096)
    s.sendto(d, a)
"""


def udp_echo(q, lines, cfg, ip, port, count, size):
    with open(cfg["cmdfile"], "a") as f:
        f.write("udp %s %d %d %d\n" % (ip, port, count, size))
    f = wait_line(q, lines, "UDPECHO", 30 + 3 * count).split()
    return int(f[1]), int(f[2]), [int(x) for x in f[3:]]




def udp_until(q, lines, cfg, ip, port, timeout_s):
    """Node sends a netstack UDP datagram every 500 ms until one echo comes back; returns the
    ms from the command being read to the first echo, or None after timeout_s."""
    with open(cfg["cmdfile"], "a") as f:
        f.write("udpup %s %d %d\n" % (ip, port, timeout_s))
    f = wait_line(q, lines, "UDPUP", timeout_s + 30).split()
    return None if f[1] == "-" else int(f[1])
