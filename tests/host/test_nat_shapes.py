"""NAT shapes against real components (root only; namespaces from _nat.py): Headscale +
embedded DERP + STUN in a "public" namespace, a real tailscaled `tsb` behind nat2, the
MicroPython node (full data plane, UDP 41641) behind nat1. `tailscale ping` from tsb must
report a direct path to the node's public endpoint on the shapes where two real tailscaled
find one too (tools/bench/nat_shapes.py prints the whole table, tailscaled<->tailscaled
included); on a shape where neither can (both sides endpoint-dependent), the node stays
reachable via DERP. With the direct path up, dropping UDP at nat2 moves tsb's pings and the
node's WireGuard replies (TSMP) to DERP, and the direct path comes back with UDP.

Before each ping the NAT boxes' UDP conntrack entries are deleted ("cold"), so the node's
one-shot probe of a new peer has not already opened nat1 toward tsb."""
import shutil

import pytest

from _nat import available, measure, setup, _ping_direct

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(available() is not None, reason=str(available())),
    pytest.mark.skipif(not shutil.which("conntrack"), reason="needs conntrack (apt install conntrack)"),
]

# shape -> the node's endpoint tsb must see (side 1: 10.0.1.2 behind nat1, 192.168.1.2 public)
DIRECT = {
    "fw": "10.0.1.2:41641",       # both MASQUERADE + firewall (endpoint-independent mapping)
    "public": "192.168.1.2:41641",  # node public, tailscaled behind MASQUERADE + firewall
    "public2": "10.0.1.2:41641",  # node behind MASQUERADE + firewall, tailscaled public
    "pubsym": "192.168.1.2:41641",  # node public, tailscaled behind --random-fully
    "samenat": "192.168.1.2:41641",  # same NAT box: the node's LAN endpoint (no hairpin needed)
}


@pytest.mark.parametrize("shape", sorted(DIRECT))
def test_direct_path(shape, tmp_path):
    ep, secs, out, ct = measure(shape, "node", str(tmp_path), cold=True)
    print("%s: direct %s after %.1f s of tailscale ping" % (shape, ep, secs))
    assert ep == DIRECT[shape], (out, ct)
    assert "pong from mpnode" in out


def test_endpoint_dependent_both_sides_stays_on_derp(tmp_path):
    """sym2: both NATs give a random port per destination; two tailscaled cannot punch
    through either (tools/bench/nat_shapes.py) -> DERP, and the node answers via DERP."""
    ep, secs, out, ct = measure("sym2", "node", str(tmp_path), cold=True, count=8)
    assert ep is None, (out, ct)
    assert out.count("pong from mpnode") >= 6 and "via DERP(" in out, out


def test_fallback_to_derp_and_back(tmp_path):
    with setup("fw", "node", str(tmp_path)) as s:
        ep, secs, out = _ping_direct(s.b, s.ip, 20)
        assert ep == DIRECT["fw"], out
        s.topo.block_udp("nat2", True)
        # disco pings: tsb's trust in the direct path ends, pongs come via DERP
        r = s.b.cli("ping", "--c", "20", "--timeout", "2s", "--until-direct=false", s.ip, check=False,
                    timeout=90)
        out = r.stdout + r.stderr
        assert "via DERP(" in out, out
        # WireGuard (TSMP) both ways: the node's own path has fallen back too
        r = s.b.cli("ping", "--tsmp", "--c", "10", "--timeout", "3s", s.ip, check=False, timeout=90)
        out = r.stdout + r.stderr
        assert "pong from mpnode" in out, (out, s.node[2][-20:])
        s.topo.block_udp("nat2", False)
        ep, secs, out = _ping_direct(s.b, s.ip, 20)
        assert ep == DIRECT["fw"], out
        print("direct again %.1f s of tailscale ping after UDP came back" % secs)
        st = s.stop_node()
        print("node stats:", st)
        assert st["derp"]["rx_packets"] > 0 and st["conn"]["udp_in"] > 0, st

