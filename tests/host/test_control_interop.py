"""tailnet control plane in the host firmware against a real Headscale with real tailscaled
peers (tools/testnet.py): join, listing, peers and their addresses, later joins/removals,
wrong key, restart with the persisted identity, ephemeral logout, and the whole join plus
30 s of map stream under -X heapsize=64K (peak heap printed)."""
import json
import os
import subprocess
import time

import pytest

from _control_util import MICROPYTHON
from mpy import BUILD, REPO
from _proc import LineProc

pytestmark = pytest.mark.interop
RUNNER = os.path.join(REPO, "tests", "host", "control", "run_node.py")
MPY_CROSS = os.path.join(BUILD, "host", "mpy-cross")


class NodeProc(LineProc):
    """The host firmware running control/run_node.py inside the test network."""

    def __init__(self, net, tmp, name, heapsize="256K", binary=MICROPYTHON, **cfg):
        self.cfgpath = os.path.join(tmp, name + ".json")
        cfg.setdefault("url", net.control_url)
        cfg.setdefault("hostname", name)
        cfg.setdefault("state", os.path.join(tmp, name + ".state"))
        cfg.setdefault("ca", os.path.join(tmp, "ca.der"))
        with open(cfg["ca"], "wb") as f:
            f.write(net.ca_der if isinstance(net.ca_der, bytes) else open(net.ca_der, "rb").read())
        with open(self.cfgpath, "w") as f:
            json.dump(cfg, f)
        self.cfg = cfg
        env = dict(os.environ, MICROPYPATH=".frozen", TN_CFG=self.cfgpath)
        cmd = net.exec_prefix + [binary] + (["-X", "heapsize=" + heapsize] if heapsize else [])
        # precompiled, so the runner's own compilation does not count against the heap
        subprocess.run([MPY_CROSS, "-o", os.path.join(tmp, "run_node.mpy"), RUNNER], check=True)
        code = "import sys\nsys.path.append(%r)\nimport run_node" % tmp
        LineProc.__init__(self, cmd + ["-c", code], env=env)

    def wait_line(self, pred, timeout=60):
        return self.wait(pred, timeout)

    def wait_status(self, pred, timeout=60):
        def ok(line):
            return line.startswith("STATUS ") and pred(json.loads(line[7:]))
        return json.loads(self.wait_line(ok, timeout)[7:])

    def finish(self, timeout=90):
        self.p.wait(timeout)
        time.sleep(0.2)
        return self.lines

    def peak(self, what="PEAK"):
        for l in self.lines:
            if l.startswith(what + " "):
                return int(l.split()[1])
        return None



def hs_node(net, name):
    for n in net.nodes():
        if n.get("given_name") == name or n.get("name") == name:
            return n
    return None


def ips_of(status):
    return sorted(a.split("/")[0] for a in status["addrs"])


@pytest.fixture
def tmp(tmp_path):
    os.chmod(tmp_path, 0o755)
    return str(tmp_path)


def plain_front(net):
    """A plain-HTTP door to the (HTTPS) test Headscale, inside the test network: mbedTLS
    allocates ~40 KiB of the MicroPython heap per connection, which the heap budgets below
    are not about. Returns its http:// URL."""
    import sys
    port = net.port()
    net.spawn("front%d" % port, [sys.executable, os.path.join(REPO, "tests", "host", "control", "tls_front.py"),
                                 str(port), str(net.control_port), net.ca_pem])
    net.wait_for(lambda: "ready" in net.logs("front%d" % port), 20, 0.1, "tls front door")
    return "http://127.0.0.1:%d" % port


def test_join_over_tls(testnet, tmp):
    """The real https:// control URL, CA-verified mbedTLS in the firmware (heap 256K: TLS)."""
    n = NodeProc(testnet, tmp, "mpytls", heapsize="256K", authkey=testnet.authkey(), run=1)
    n.finish(120)
    assert any(l.startswith("JOINED") for l in n.lines), n.lines
    st = [json.loads(l[7:]) for l in n.lines if l.startswith("STATUS ")][0]
    assert st["state"] == "Running" and len(st["addrs"]) == 2


MICROPYTHON32 = os.path.join(BUILD, "host32", "micropython")
NEED32 = pytest.mark.skipif(not os.access(MICROPYTHON32, os.X_OK),
                            reason="32-bit firmware missing: tests/host/control/build_host32.sh (gcc-multilib)")


@pytest.mark.slow
@pytest.mark.parametrize("fw,heap", [("64bit", "96K"), pytest.param("32bit", "64K", marks=NEED32)])
def test_join_peers_later_join_heap(testnet, tmp, fw, heap):
    """Join + 30 s of map stream under a heap cap: 64K with the 32-bit build (pointer sizes
    of the boards), 96K with the 64-bit host build (see the report for both figures)."""
    net = testnet
    n = NodeProc(net, tmp, "mpy" + fw, heapsize=heap, authkey=net.authkey(), run=32, interval=1,
                 url=plain_front(net), binary=MICROPYTHON32 if fw == "32bit" else MICROPYTHON)
    try:
        base = [p for p in net.peers if p.name.startswith("peer")]   # not earlier tests' late peers
        want = {p.ip4 for p in base}
        st = n.wait_status(lambda s: s["state"] == "Running"
                           and want <= {a[1][0].split("/")[0] for a in s["peers"]}, 90)
        joined = [l for l in n.lines if l.startswith("JOINED")][0]
        # Headscale lists the node with the requested hostname and the same addresses
        hn = hs_node(net, "mpy" + fw)
        assert hn is not None, net.nodes()
        assert sorted(hn["ip_addresses"]) == ips_of(st)
        assert any(a.startswith("100.") for a in ips_of(st)) and any(a.startswith("fd7a:115c:a1e0:") for a in ips_of(st))
        # the real peers appear with the addresses Headscale gave them
        for p in base:
            mine = [x for x in st["peers"] if x[1][0].split("/")[0] == p.ip4][0]
            assert sorted(a.split("/")[0] for a in mine[1]) == sorted([p.ip4, p.ip6])
            assert mine[0].startswith(p.name + ".")
        # the node is visible to the real tailscaled peers too
        ps = net.peers[0].status()
        assert any(set(ips_of(st)) == set(v.get("TailscaleIPs", [])) for v in (ps.get("Peer") or {}).values())
        # a peer joining later shows up within seconds
        t0 = time.time()
        late = net.add_peer("late" + fw)
        n.wait_status(lambda s: late.ip4 in {a[1][0].split("/")[0] for a in s["peers"]}, 30)
        join_delay = time.time() - t0
        # ... and a removed peer disappears
        lid = hs_node(net, "late" + fw)["id"]
        net.headscale("nodes", "delete", "-i", str(lid), "--force", json_out=False)
        t1 = time.time()
        n.wait_status(lambda s: late.ip4 not in {a[1][0].split("/")[0] for a in s["peers"]}, 30)
        leave_delay = time.time() - t1
        lines = n.finish(120)
    finally:
        n.kill()
    peak = n.peak()
    live = [l for l in lines if l.startswith("LIVE")]
    print("\n%s; %s; late join seen after %.1fs (incl. tailscale up), removal after %.1fs; peak heap %d B, "
          "peak live %s B (cap %s, %s)" % (joined, live, join_delay, leave_delay, peak, n.peak("PEAKLIVE"), heap, fw))
    assert peak and peak < int(heap[:-1]) * 1024
    assert not [l for l in lines if "Traceback" in l]


def test_wrong_key_is_clear(testnet, tmp):
    n = NodeProc(testnet, tmp, "mpybad", authkey="0" * 48, timeout=30)
    try:
        line = n.wait_line(lambda l: l.startswith("ERROR"), 60)
    finally:
        n.kill()
    assert "LoginError" in line and ("invalid" in line or "not found" in line or "authkey" in line), line
    assert hs_node(testnet, "mpybad") is None


def test_restart_reuses_identity(testnet, tmp):
    net = testnet
    key = net.authkey(reusable=False)   # single use: a second registration would fail
    a = NodeProc(net, tmp, "mpyre", authkey=key, run=1)
    a.finish(120)
    assert any(l.startswith("JOINED") for l in a.lines), a.lines
    first = hs_node(net, "mpyre")
    b = NodeProc(net, tmp, "mpyre", authkey=key, run=1)
    b.finish(120)
    assert any(l.startswith("JOINED") for l in b.lines), b.lines
    again = [n for n in net.nodes() if n.get("given_name") == "mpyre" or n.get("name") == "mpyre"]
    assert len(again) == 1 and again[0]["id"] == first["id"]
    assert again[0]["machine_key"] == first["machine_key"] and again[0]["node_key"] == first["node_key"]


def test_ephemeral_logout_removes_node(testnet, tmp):
    net = testnet
    n = NodeProc(net, tmp, "mpyeph", authkey=net.authkey(ephemeral=True), run=1, logout=True)
    n.finish(120)
    assert "LOGGEDOUT" in n.lines, n.lines
    net.wait_for(lambda: hs_node(net, "mpyeph") is None, 20, what="ephemeral node removal")


def test_deleted_node_goes_to_needs_login(testnet, tmp):
    net = testnet
    stop = os.path.join(tmp, "stop")
    n = NodeProc(net, tmp, "mpydel", heapsize="256K", authkey=net.authkey(), run=60, stopfile=stop)
    try:
        n.wait_status(lambda s: s["state"] == "Running", 60)
        net.headscale("nodes", "delete", "-i", str(hs_node(net, "mpydel")["id"]), "--force", json_out=False)
        n.wait_status(lambda s: s["state"] == "NeedsLogin", 40)
        open(stop, "w").close()
        n.finish(60)
    finally:
        n.kill()
    assert any("no longer knows this node" in l for l in n.lines), n.lines[-20:]
    assert not any("Traceback" in l for l in n.lines), n.lines[-20:]
