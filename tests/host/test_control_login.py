"""Interactive login and node-key expiry in the host firmware against real Headscale v0.29
(tools/testnet.py), approved/expired with the real headscale CLI:

- no auth key: the node prints the AuthURL, shows NeedsLogin + the URL in status() and the
  state callbacks, keeps waiting on it (RegisterRequest.Followup long-poll), reaches Running
  once `headscale auth register` approves it, and a restart needs no new login;
- never approved: stays NeedsLogin on the same URL, a rejected URL is replaced by a new one,
  up() times out with the URL in the error, down() while waiting returns at once;
- `headscale nodes expire`: the node notices (self node Expired in the map stream), goes
  NeedsLogin, rotates its node key (OldNodeKey) and re-registers with its reusable auth key,
  or, with a spent single-use key, falls back to the AuthURL; either way the same node ID
  and addresses come back, and a real tailscaled peer sees the new key;
- Headscale restarted while a login waits: the node reconnects with Followup=<old URL> and
  waits on the new URL it is given;
- the attached data plane follows the rotation (new static key in the engine, DERP
  redialled): a peer reaches the node again and the node reaches the peer."""
import json
import os
import re
import sys
import time

import pytest

from mpy import REPO
from test_control_interop import NodeProc, hs_node, ips_of, tmp  # noqa: F401 (fixture)

pytestmark = pytest.mark.interop
URL_RE = re.compile(r"tailnet: to authenticate, visit: (https://\S+/register/(\S+))")


@pytest.fixture(scope="module")
def net():
    from testnet import Testnet

    with Testnet(peers=1) as n:
        yield n


def wait_url(n, timeout=60):
    """The AuthURL the node prints, and its auth ID."""
    m = URL_RE.search(n.wait_line(lambda l: URL_RE.search(l) is not None, timeout))
    return m.group(1), m.group(2)


def waits(n):
    return [json.loads(l[5:]) for l in n.lines if l.startswith("WAIT ")]


def approve(net, auth_id):
    net.headscale("auth", "register", "--auth-id", auth_id, "--user", "tailnet", json_out=False)


def no_traceback(n):
    assert not [l for l in n.lines if "Traceback" in l], n.lines[-30:]


def test_interactive_login_then_restart(net, tmp):
    stop = os.path.join(tmp, "stop1")
    n = NodeProc(net, tmp, "mpyia", watch=True, timeout=None, run=60, stopfile=stop)
    try:
        url, auth_id = wait_url(n)
        assert url.startswith(net.control_url + "/register/"), url
        # NeedsLogin with the URL: state callback, status() dict and its printout
        n.wait_line(lambda l: l.startswith("WAIT ") and json.loads(l[5:]) == {
            "state": "NeedsLogin", "auth_url": url, "error": None}, 20)
        n.wait_line(lambda l: l == "# log in at: " + url, 10)
        assert "CB NeedsLogin" in n.lines and "# state: NeedsLogin" in n.lines, n.lines
        # ... and it keeps waiting on that URL (no new registration, no node yet)
        time.sleep(8)
        assert {w["auth_url"] for w in waits(n)} == {url} and len(waits(n)) >= 5, waits(n)
        assert not [l for l in n.lines if l.startswith("JOINED")]
        assert hs_node(net, "mpyia") is None
        t0 = time.time()
        approve(net, auth_id)
        n.wait_line(lambda l: l.startswith("JOINED"), 30)
        st = n.wait_status(lambda s: s["state"] == "Running", 10)
        print("\nRunning %.1f s after `headscale auth register`" % (time.time() - t0))
        hn = hs_node(net, "mpyia")
        assert hn is not None and sorted(hn["ip_addresses"]) == ips_of(st)
        assert hn["register_method"] == 2     # REGISTER_METHOD_CLI (1 would be an auth key)
        open(stop, "w").close()
        n.finish(60)
    finally:
        n.kill()
    no_traceback(n)
    assert n.lines.count("CB Running") == 1 and len([l for l in n.lines if URL_RE.search(l)]) == 1
    # restart: the persisted identity is still logged in (no URL, same node and key)
    b = NodeProc(net, tmp, "mpyia", watch=True, timeout=60, run=1)
    try:
        b.finish(90)
    finally:
        b.kill()
    assert any(l.startswith("JOINED") for l in b.lines), b.lines
    assert not [l for l in b.lines if URL_RE.search(l) or "NeedsLogin" in l], b.lines
    same = [x for x in net.nodes() if x.get("given_name") == "mpyia"]
    assert len(same) == 1 and same[0]["id"] == hn["id"] and same[0]["node_key"] == hn["node_key"]


def test_login_not_approved_rejected_and_down(net, tmp):
    n = NodeProc(net, tmp, "mpywait", watch=True, timeout=25)
    try:
        url, auth_id = wait_url(n)
        # rejected at control: the node gets a new URL and keeps waiting
        time.sleep(2)
        net.headscale("auth", "reject", "--auth-id", auth_id, json_out=False)
        url2, _ = wait_url(n, 20)
        assert url2 != url and url2.startswith(net.control_url + "/register/")
        # never approved: up() gives up with the URL in its error; down() returns at once
        err = n.wait_line(lambda l: l.startswith("ERROR"), 40)
        down = n.wait_line(lambda l: l.startswith("DOWN"), 20)
        n.finish(30)
    finally:
        n.kill()
    no_traceback(n)
    assert err == "ERROR OSError tailnet: not Running after 25 s (NeedsLogin: log in at %s)" % url2, err
    assert down.split()[1] == "Stopped" and float(down.split()[2]) < 3, down
    assert {w["state"] for w in waits(n)} == {"NeedsLogin"}
    assert hs_node(net, "mpywait") is None


def _expire_and_recover(net, n, name, reusable):
    st = n.wait_status(lambda s: s["state"] == "Running", 60)
    before = hs_node(net, name)
    net.headscale("nodes", "expire", "-i", str(before["id"]), json_out=False)
    t0 = time.time()
    n.wait_line(lambda l: l == "CB NeedsLogin", 30)
    noticed = time.time() - t0
    n.wait_line(lambda l: "node key expired; rotating" in l, 30)
    if not reusable:     # the spent key is refused: interactive login on the new key
        n.wait_line(lambda l: "authkey" in l.lower() and "interactive login" in l, 20)
        url, auth_id = wait_url(n, 20)
        n.wait_line(lambda l: l == "# log in at: " + url, 10)
        approve(net, auth_id)
    n.wait_line(lambda l: l == "CB Running", 30)
    st2 = n.wait_status(lambda s: s["state"] == "Running", 10)
    after = hs_node(net, name)
    print("\nexpiry noticed after %.1f s, Running again after %.1f s" % (noticed, time.time() - t0))
    assert after["id"] == before["id"] and after["machine_key"] == before["machine_key"]
    assert after["node_key"] != before["node_key"]
    assert sorted(after["ip_addresses"]) == sorted(before["ip_addresses"]) == ips_of(st) == ips_of(st2)
    assert len([x for x in net.nodes() if x.get("given_name") == name]) == 1
    # a real tailscaled peer gets the new node key
    pk = after["node_key"]
    net.wait_for(lambda: any(v.get("PublicKey") == pk for v in (net.peers[0].status().get("Peer") or {}).values()),
                 30, what="peer sees the rotated node key")
    return after


def test_key_expiry_reregisters_with_authkey(net, tmp):
    stop = os.path.join(tmp, "stop3")
    n = NodeProc(net, tmp, "mpyexp", authkey=net.authkey(reusable=True), watch=True, run=120, stopfile=stop)
    try:
        after = _expire_and_recover(net, n, "mpyexp", True)
        open(stop, "w").close()
        n.finish(60)
    finally:
        n.kill()
    no_traceback(n)
    assert not [l for l in n.lines if URL_RE.search(l)]
    # the rotated key was persisted: a restart is the same node, no new registration
    b = NodeProc(net, tmp, "mpyexp", authkey=net.authkey(reusable=True), run=1)
    try:
        b.finish(90)
    finally:
        b.kill()
    assert any(l.startswith("JOINED") for l in b.lines), b.lines
    again = hs_node(net, "mpyexp")
    assert again["id"] == after["id"] and again["node_key"] == after["node_key"]


def test_key_expiry_spent_key_falls_back_to_login(net, tmp):
    stop = os.path.join(tmp, "stop4")
    n = NodeProc(net, tmp, "mpyexp1", authkey=net.authkey(reusable=False), watch=True, run=120, stopfile=stop)
    try:
        _expire_and_recover(net, n, "mpyexp1", False)
        open(stop, "w").close()
        n.finish(60)
    finally:
        n.kill()
    no_traceback(n)


@pytest.mark.slow
def test_data_plane_after_key_rotation(net, tmp):
    """The attached data plane follows the rotated node key (same DataPlane, netstack and
    sockets): the engine takes the new static key (sessions wiped), DERP redials with it, and
    both a peer-initiated (TSMP ping) and a node-initiated (UDP echo through the netstack)
    handshake to the new key work."""
    import socket
    import subprocess
    sys.path.insert(0, os.path.join(REPO, "tools", "bench"))
    from dataplane_harness import ECHO_SERVER, ping, start_node, stop_node, udp_echo, wait_line
    echo_port = net.port(socket.SOCK_DGRAM)
    echo = subprocess.Popen(net.exec_prefix + [sys.executable, "-c", ECHO_SERVER, str(echo_port)])
    p, q, lines, cfg = start_node(net, tmp, hostname="mpdp", attach=True, netstack=True)
    try:
        ip4 = wait_line(q, lines, "UP", 90).split()[1]
        peer = net.peers[0]
        net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
        assert "via TSMP" in ping(peer, ip4, "--tsmp"), lines[-20:]
        before = hs_node(net, "mpdp")
        net.headscale("nodes", "expire", "-i", str(before["id"]), json_out=False)
        net.wait_for(lambda: hs_node(net, "mpdp")["node_key"] != before["node_key"], 30, what="key rotation")
        pk = hs_node(net, "mpdp")["node_key"]
        net.wait_for(lambda: any(v.get("PublicKey") == pk for v in (peer.status().get("Peer") or {}).values()),
                     30, what="peer sees the rotated node key")
        t0 = time.time()
        out = ping(peer, ip4, "--tsmp", count=3, tries=6)
        assert "via TSMP" in out, (out, lines[-20:])
        print("\nTSMP ping to the rotated key answered %.1f s after the peer saw it" % (time.time() - t0))
        got, n, ms = udp_echo(q, lines, cfg, peer.ip4, echo_port, 5, 100)
        assert got == n, (got, n, lines[-20:])
        st = stop_node(p, q, lines, cfg)
        assert st["dp"]["rekeys"] == 1 and st["derp"]["connects"] >= 2, st
        assert st["wg"]["handshakes"] >= 2, st
    finally:
        echo.kill()
        echo.wait(10)
        if p.poll() is None:
            p.kill()
            p.wait(10)


@pytest.mark.slow
def test_sockets_listener_after_key_rotation(net, tmp):
    """examples/host_demo.py's web server (a tailnet.sockets listener started before the
    rotation) answers a real tailscaled peer before and after `headscale nodes expire`."""
    from test_sockets_interop import HEAP, MICROPYTHON, Proc, nc, node_env
    peer = net.peers[0]
    env = dict(node_env(), TAILNET_AUTHKEY=net.authkey(reusable=True), TAILNET_CONTROL_URL=net.control_url,
               TAILNET_CA=net.ca_der, TAILNET_HOSTNAME="mpweb", TAILNET_RUN_SECONDS="150",
               TAILNET_STATE=os.path.join(tmp, "web.state"))
    node = Proc(net.exec_prefix + [MICROPYTHON, "-X", "heapsize=" + HEAP,
                                   os.path.join(REPO, "examples", "host_demo.py")], env)

    def fetch(ip):
        resp = b""
        for _ in range(6):
            resp = nc(net, peer, ip, 80, b"GET / HTTP/1.0\r\n\r\n", timeout=15)
            if resp:
                break
            time.sleep(1)
        return resp

    try:
        ip4 = node.wait("up: ", 90).split()[3]
        net.wait_for(lambda: ip4 in peer.cli("status"), timeout=30, what="node in peer status")
        assert fetch(ip4).startswith(b"HTTP/1.0 200 OK"), node.lines[-20:]
        before = hs_node(net, "mpweb")
        net.headscale("nodes", "expire", "-i", str(before["id"]), json_out=False)
        net.wait_for(lambda: hs_node(net, "mpweb")["node_key"] != before["node_key"], 30, what="key rotation")
        pk = hs_node(net, "mpweb")["node_key"]
        net.wait_for(lambda: any(v.get("PublicKey") == pk for v in (peer.status().get("Peer") or {}).values()),
                     30, what="peer sees the rotated node key")
        resp = fetch(ip4)
        assert resp.startswith(b"HTTP/1.0 200 OK"), (resp, node.lines[-20:])
    finally:
        node.kill()
    assert not [l for l in node.lines if "Traceback" in l], node.lines[-30:]


def _restart_headscale(net):
    import signal
    from testnet import GOBIN
    hs = [p for p in net.procs if getattr(p, "tn_name", "") == "headscale"][0]
    os.killpg(hs.pid, signal.SIGTERM)
    hs.wait(15)
    net.procs.remove(hs)
    net.spawn("headscale", [os.path.join(GOBIN, "headscale"), "-c", net.hs_config, "serve"])
    net.wait_for(lambda: net.headscale("users", "list", check=False).returncode == 0, 30, 0.3,
                 "headscale back")


def test_pending_login_survives_control_restart(net, tmp):
    """The control connection drops while the login waits: the node reconnects with its
    Followup URL; the restarted Headscale no longer knows it and hands out a new one."""
    n = NodeProc(net, tmp, "mpyrst", watch=True, timeout=None, run=1)
    try:
        url, _ = wait_url(n)
        time.sleep(2)
        _restart_headscale(net)
        url2, auth_id = wait_url(n, 60)
        assert url2 != url
        # the reconnect asked with Followup=<old URL> (a fresh request would say "starting node registration")
        assert "new followup node registration using auth id: " + auth_id in net.logs("headscale", 400)
        n.wait_line(lambda l: l == "# log in at: " + url2, 10)
        approve(net, auth_id)
        n.wait_line(lambda l: l.startswith("JOINED"), 30)
        n.finish(60)
    finally:
        n.kill()
    no_traceback(n)
    assert [l for l in n.lines if l.startswith("STATUS")][0].startswith('STATUS {"state": "Running"')
    assert hs_node(net, "mpyrst") is not None
