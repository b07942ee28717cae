"""Foundation: the host firmware build and the real local test tailnet."""
import json
import os
import subprocess
import time

import pytest

from mpy import run_mpy


# ---- host firmware ---------------------------------------------------------------

def test_firmware_imports_package_and_c_module(micropython, tmp_path):
    p = run_mpy("import tailnet, _tncrypto\nprint(tailnet.__version__, type(_tncrypto).__name__)",
                cwd=str(tmp_path))
    version, kind = p.stdout.split()
    assert version.count(".") == 2
    assert kind == "module"


def test_package_is_frozen_not_loaded_from_files(micropython, tmp_path):
    # An empty working directory and a search path of only ".frozen": the import can
    # only be satisfied by bytecode frozen into the binary.
    p = run_mpy("import sys, tailnet\nprint(sys.path)\nprint(tailnet.__file__)", cwd=str(tmp_path),
                env={"MICROPYPATH": ".frozen"})
    path_line, file_line = p.stdout.strip().splitlines()
    assert path_line in ("['.frozen']", "['', '.frozen']")  # '' = the (empty) cwd
    assert file_line.endswith("tailnet/__init__.py")
    assert not os.path.exists(os.path.join(str(tmp_path), file_line))
    # And a decoy package on the filesystem is not what gets imported.
    decoy = tmp_path / "tailnet"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('decoy loaded from the filesystem')\n")
    p = run_mpy("import sys\nsys.path[:] = ['.frozen', '']\nimport tailnet\nprint('frozen ok')",
                cwd=str(tmp_path))
    assert p.stdout.strip() == "frozen ok"


def test_c_module_is_builtin(micropython, tmp_path):
    # A compiled-in module has no __file__; a .mpy or .py one would.
    p = run_mpy("import _tncrypto\nprint(hasattr(_tncrypto, '__file__'))", cwd=str(tmp_path))
    assert p.stdout.strip() == "False"


def test_heap_cap_is_enforced(micropython):
    # The memory budgets of later issues rely on -X heapsize really capping the heap.
    p = run_mpy("b = bytearray(200 * 1024)", heapsize="64K", check=False)
    assert p.returncode != 0
    assert "MemoryError" in p.stderr + p.stdout


# ---- the real test tailnet ---------------------------------------------------------

def _ips(node):
    return node.get("ip_addresses") or node.get("ipAddresses") or []


@pytest.mark.interop
@pytest.mark.slow
def test_two_tailscaled_peers_join_and_ping_via_derp():
    from testnet import Testnet

    with Testnet(peers=2, derp_only=True) as net:
        nodes = net.nodes()
        names = sorted(n["given_name"] if "given_name" in n else n["name"] for n in nodes)
        assert names == ["peer1", "peer2"]
        for n in nodes:
            v4 = [ip for ip in _ips(n) if "." in ip]
            assert v4 and v4[0].startswith("100.64."), n
        a, b = net.peers
        assert a.ip4.startswith("100.64.") and b.ip4.startswith("100.64.")
        # Both sides see each other in their netmap.
        net.wait_for(lambda: any(p.get("HostName") == "peer2" for p in a.status().get("Peer", {}).values()),
                     what="peer2 in peer1's netmap")
        out = a.cli("ping", "--c", "5", "--until-direct=false", b.ip4, timeout=60)
        assert "pong from peer2" in out and "via DERP(headscale)" in out, out
        # STUN and DERP latency: netcheck probes our STUN port and the TLS DERP server.
        report = a.cli("netcheck", timeout=60)
        print(report)
        assert "UDP: true" in report, report
        assert "IPv4: yes, 127.0.0.1:" in report, report
        assert "Nearest DERP: Headscale Embedded DERP" in report, report
        assert a.status()["Self"]["Relay"] == "headscale"


@pytest.mark.interop
def test_ephemeral_key_makes_ephemeral_node_and_wrong_key_is_refused():
    from testnet import Testnet, TestnetError

    with Testnet(peers=0) as net:
        net.add_peer("eph", ephemeral=True)
        nodes = {n["name"]: n for n in net.nodes()}
        assert nodes["eph"]["pre_auth_key"]["ephemeral"] is True
        with pytest.raises(TestnetError) as e:
            net.add_peer("bad", authkey="0" * 48)
        msg = str(e.value)
        print("refused as expected:", msg.splitlines()[0][:300])
        assert "invalid" in msg.lower() or "auth" in msg.lower()
        assert "bad" not in {n["name"] for n in net.nodes()}


@pytest.mark.interop
def test_launcher_leaves_no_processes_behind():
    from testnet import Testnet

    net = Testnet(peers=1)
    with net:
        pids = [p.pid for p in net.procs]
        netns = net.netns
        assert len(pids) == 2  # headscale + tailscaled
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid) or _zombie(pid), pid
    if netns:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert netns not in out
    assert not os.path.exists(net.state_dir)


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.interop
def test_launcher_cleans_up_after_ctrl_c(tmp_path):
    """The shell form tears everything down on SIGINT."""
    import signal
    import sys
    from mpy import REPO

    p = subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "testnet.py"), "--peers", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C" in line:
            break
    assert any(l.startswith("peer") for l in lines), "".join(lines)
    netns = [l.split()[2] for l in lines if l.startswith("netns")]
    state = [l.split("state in ")[1].split(",")[0].strip() for l in lines if "state in " in l]
    assert state, "".join(lines)
    p.send_signal(signal.SIGINT)
    t0 = time.time()
    try:   # teardown is ~1-10 s; a loaded CI machine once needed more than 30 s
        rest = p.communicate(timeout=90)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("launcher still running 90 s after SIGINT:\n" + p.communicate()[0][-3000:])
    print("\nteardown after SIGINT: %.1f s %s" % (time.time() - t0, rest[-600:]))
    if netns:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert netns[0] not in out
    # Every process the launcher started had its state directory on its command line.
    left = subprocess.run(["pgrep", "-f", state[0]], capture_output=True, text=True).stdout
    assert left.strip() == "", left
    assert not os.path.exists(state[0])
