"""Which NAT shapes give a direct path, for two real tailscaled (the baseline) and for the
MicroPython node against a real tailscaled. Root only; everything runs in network namespaces
created here (tests/host/_nat.py: Headscale + embedded DERP + STUN in `pub`, side 1 behind
nat1, side 2 behind nat2, each NAT box one of _nat.MODES).

For each shape: tailscaled `tsb` behind nat2 runs `tailscale ping --c 20` (disco, until
direct) to the MicroPython node behind nat1 (UDP 41641), then to a tailscaled `tsa` behind
nat1. Prints: shape | tailscaled<->tailscaled | node<->tailscaled | seconds to direct, and
with -v the NAT boxes' conntrack tables (conntrack -L) after the pings.

    sudo python3 tools/bench/nat_shapes.py [-v] [shape ...]     (shapes: see tests/host/_nat.py SHAPES)
"""
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "host"))
sys.path.insert(0, os.path.join(REPO, "tools"))

import _nat  # noqa: E402


def cell(r):
    if r is None:
        return "-"
    ep = r[0]
    return ("direct " + ep) if ep else "DERP only"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv
    why = _nat.available()
    if why:
        sys.exit("nat_shapes: " + why)
    shapes = args or list(_nat.SHAPES)
    rows = []
    tmp = tempfile.mkdtemp(prefix="nat-shapes-")
    for s in shapes:
        r = {}
        for k in ("ts", "node", "nodecold"):
            r[k] = _nat.measure(s, k[:4], os.path.join(tmp, s + k), cold=(k != "node"),
                                log=lambda m: print(m, file=sys.stderr))
            if verbose:
                for n, t in sorted(r[k][3].items()):
                    print("--- %s (%s) %s conntrack -L -p udp:\n%s" % (s, k, n, "\n".join(
                        l for l in t.splitlines() if "dport=53 " not in l)))
                if not r[k][0]:
                    print("--- %s %s ping output (tail):\n%s" % (s, k, r[k][2][-300:]))
            sys.stdout.flush()
        rows.append((s, r))
    print("%-7s | %-10s | %-26s | %-26s | %-26s | %s" % (
        "shape", "nat1/nat2", "tailscaled<->tailscaled", "node<->tailscaled", "node, cold",
        "s to direct (ts / node / cold)"))
    for s, r in rows:
        n1, n2, _ = _nat.SHAPES[s]
        t = ["%.1f" % r[k][1] if r[k][0] else "-" for k in ("ts", "node", "nodecold")]
        print("%-7s | %-10s | %-26s | %-26s | %-26s | %s" % (
            s, n1 + "/" + n2, cell(r["ts"]), cell(r["node"]), cell(r["nodecold"]), " / ".join(t)))
    print("\nshapes:")
    for s, _ in rows:
        print("  %-7s %s" % (s, _nat.SHAPES[s][2]))
    print("modes: fw = MASQUERADE + INPUT drop of conntrack NEW on the WAN side; masq = MASQUERADE only;")
    print("       sym = MASQUERADE --random-fully + fw (endpoint-dependent mapping); none = routed, no NAT")
    print("ts and 'cold' rows: UDP conntrack entries of both NAT boxes deleted just before the ping.")


if __name__ == "__main__":
    main()
