#!/usr/bin/env python3
"""A real, local tailnet for tests: Headscale (with its embedded DERP + STUN) and
real tailscaled peers, with throwaway state, torn down completely on exit.

Everything runs inside a private network namespace that has only a loopback
interface (when root and `ip` is available), so no packet can leave the machine
and ports never collide with anything else. Without root it falls back to the
host's loopback with random free ports.

TLS: a throwaway CA signs a certificate for "localhost"; Headscale serves the
control plane and the embedded DERP over HTTPS with it, tailscaled trusts it
through SSL_CERT_FILE and MicroPython gets the CA as DER (net.ca_der).

Shell use:  python3 tools/testnet.py [--peers N]   (prints the details, runs until Ctrl-C)
Python use: with Testnet(peers=2) as net: ...
"""
import datetime
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
GOBIN = os.path.join(BUILD, "go", "bin")
HOST = "localhost"  # DNS name in the certificate (mbedTLS 2.28 cannot match IP SANs)


class TestnetError(RuntimeError):
    pass


def _free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _use_netns():
    env = os.environ.get("TAILNET_TESTNET_NETNS")
    if env is not None:
        return env == "1"
    return os.geteuid() == 0 and shutil.which("ip") is not None


def make_ca(directory):
    """Create a CA and a localhost server certificate; return file paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tailnet test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName(HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {k: os.path.join(directory, k) for k in ("ca.pem", "ca.der", "server.pem", "server.key")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["ca.der"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.DER))
    with open(paths["server.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class Peer:
    """One real tailscaled in userspace-networking mode."""

    def __init__(self, net, name, proc, sock):
        self.net, self.name, self.proc, self.sock = net, name, proc, sock
        self.ip4 = self.ip6 = None

    def cli(self, *args, timeout=60, check=True):
        """Run the `tailscale` CLI against this peer; return stdout."""
        cmd = [os.path.join(GOBIN, "tailscale"), "--socket=" + self.sock] + list(args)
        p = self.net.run(cmd, timeout=timeout)
        if check and p.returncode != 0:
            raise TestnetError("tailscale %s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p.stdout if check else p

    def status(self):
        return json.loads(self.cli("status", "--json"))


class Testnet:
    def __init__(self, peers=0, derp_only=False, keep=False, log=None, policy=None):
        """policy: an ACL policy (dict) -> Headscale keeps it in its database and
        set_policy() replaces it live; None: no policy (everything allowed)."""
        self.n_peers = peers
        self.derp_only = derp_only
        self.policy = policy
        self.keep = keep or os.environ.get("TAILNET_TESTNET_KEEP") == "1"
        self.log = log or (lambda msg: print("testnet: " + msg, file=sys.stderr))
        self.netns = None
        self.procs = []
        self.peers = []
        self.user_id = None
        self.state_dir = None
        self.derp_region = 999

    # ---- process helpers ----------------------------------------------------
    @property
    def exec_prefix(self):
        """Prefix a command with this to run it inside the test network."""
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def run(self, cmd, timeout=60, env=None, **kw):
        full_env = dict(os.environ, **(env or {}))
        return subprocess.run(self.exec_prefix + list(cmd), capture_output=True, text=True,
                              timeout=timeout, env=full_env, **kw)

    def spawn(self, name, cmd, env=None):
        """Start a long-running process inside the network; output goes to <state>/<name>.log."""
        logf = open(os.path.join(self.state_dir, name + ".log"), "ab")
        full_env = dict(os.environ, **(env or {}))
        p = subprocess.Popen(self.exec_prefix + list(cmd), stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
        logf.close()
        p.tn_name = name
        self.procs.append(p)
        return p

    def logs(self, name, tail=40):
        try:
            with open(os.path.join(self.state_dir, name + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return ""

    def port(self, kind=socket.SOCK_STREAM):
        # A fresh namespace has every port free; avoid the ephemeral range anyway.
        return random.randint(20000, 29999) if self.netns else _free_port(kind)

    # ---- lifecycle ----------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        for b in ("headscale", "tailscaled", "tailscale"):
            if not os.access(os.path.join(GOBIN, b), os.X_OK):
                raise TestnetError("%s/%s missing: run `make testnet-tools`" % (GOBIN, b))
        self.state_dir = tempfile.mkdtemp(prefix="tailnet-testnet-")
        if _use_netns():
            self.netns = "tn%d-%04x" % (os.getpid() % 100000, random.getrandbits(16))
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        self.certs = make_ca(self.state_dir)
        self.ca_pem, self.ca_der = self.certs["ca.pem"], self.certs["ca.der"]
        self._start_headscale()
        for i in range(self.n_peers):
            self.add_peer("peer%d" % (i + 1))
        self.log("up: %s, %d peer(s), state in %s%s" % (
            self.control_url, len(self.peers), self.state_dir,
            ", netns " + self.netns if self.netns else ""))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.time() + 8
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait(5)
        self.procs = []
        if self.netns:
            # Anything else started inside the namespace (e.g. by a test) goes too.
            for _ in range(3):
                pids = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True,
                                      text=True).stdout.split()
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.2)
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
            self.netns = None
        if self.state_dir and not self.keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # ---- headscale ------------------------------------------------------------
    def _start_headscale(self):
        hs = os.path.join(self.state_dir, "hs")
        os.makedirs(hs)
        self.control_port = self.port()
        self.stun_port = self.port(socket.SOCK_DGRAM)
        self.control_url = "https://%s:%d" % (HOST, self.control_port)
        self.policy_path = os.path.join(hs, "policy.hujson")
        self.hs_config = os.path.join(hs, "config.yaml")
        cfg = {
            "server_url": self.control_url,
            "listen_addr": "127.0.0.1:%d" % self.control_port,
            "metrics_listen_addr": "127.0.0.1:%d" % self.port(),
            "grpc_listen_addr": "127.0.0.1:%d" % self.port(),
            "grpc_allow_insecure": False,
            "tls_cert_path": self.certs["server.pem"],
            "tls_key_path": self.certs["server.key"],
            "noise": {"private_key_path": os.path.join(hs, "noise_private.key")},
            "prefixes": {"v4": "100.64.0.0/10", "v6": "fd7a:115c:a1e0::/48", "allocation": "sequential"},
            "derp": {
                "server": {
                    "enabled": True, "region_id": self.derp_region, "region_code": "headscale",
                    "region_name": "Headscale Embedded DERP", "verify_clients": True,
                    "stun_listen_addr": "127.0.0.1:%d" % self.stun_port,
                    "private_key_path": os.path.join(hs, "derp_server_private.key"),
                    "automatically_add_embedded_derp_region": True, "ipv4": "127.0.0.1",
                },
                "urls": [], "paths": [], "auto_update_enabled": False,
            },
            "disable_check_updates": True,
            "node": {"expiry": 0, "ephemeral": {"inactivity_timeout": "70s"}},
            "database": {"type": "sqlite", "sqlite": {"path": os.path.join(hs, "db.sqlite"),
                                                      "write_ahead_log": True}},
            "log": {"level": "info"},
            "policy": {"mode": "database"} if self.policy is not None else {"mode": "file", "path": ""},
            "dns": {"magic_dns": True, "base_domain": "tailnet.test", "override_local_dns": False,
                    "nameservers": {"global": [], "split": {}}, "search_domains": [],
                    "extra_records": []},
            "unix_socket": os.path.join(hs, "headscale.sock"),
            "unix_socket_permission": "0770",
            "logtail": {"enabled": False},
        }
        with open(self.hs_config, "w") as f:
            json.dump(cfg, f, indent=1)  # JSON is valid YAML
        self.spawn("headscale", [os.path.join(GOBIN, "headscale"), "-c", self.hs_config, "serve"])
        deadline = time.time() + 60
        while True:
            p = self.run([os.path.join(GOBIN, "headscale"), "-c", self.hs_config, "users", "list",
                          "-o", "json"], timeout=20)
            if p.returncode == 0:
                break
            if self.procs[0].poll() is not None or time.time() > deadline:
                raise TestnetError("headscale did not start:\n" + self.logs("headscale"))
            time.sleep(0.3)
        users = self.headscale("users", "create", "tailnet")
        self.user_id = users["id"] if isinstance(users, dict) else None
        if self.user_id is None:
            self.user_id = [u for u in self.headscale("users", "list") if u["name"] == "tailnet"][0]["id"]
        if self.policy is not None:
            self.set_policy(self.policy)

    def set_policy(self, policy):
        """Replace the ACL policy (dict, Headscale's HuJSON schema) live; Headscale pushes
        the new packet filters to every node. Needs Testnet(policy=...)."""
        with open(self.policy_path, "w") as f:
            json.dump(policy, f, indent=1)
        self.headscale("policy", "set", "-f", self.policy_path, json_out=False)
        self.policy = policy

    def headscale(self, *args, json_out=True, check=True, timeout=60):
        """Run the headscale CLI; parsed JSON by default."""
        cmd = [os.path.join(GOBIN, "headscale"), "-c", self.hs_config] + list(args)
        if json_out:
            cmd += ["-o", "json"]
        p = self.run(cmd, timeout=timeout)
        if check and p.returncode != 0:
            raise TestnetError("headscale %s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        if not check:
            return p
        return json.loads(p.stdout) if json_out and p.stdout.strip() else p.stdout

    def authkey(self, reusable=True, ephemeral=False, expiration="1h", tags=()):
        args = ["preauthkeys", "create", "--user", str(self.user_id), "--expiration", expiration]
        if reusable:
            args.append("--reusable")
        if ephemeral:
            args.append("--ephemeral")
        if tags:
            args += ["--tags", ",".join(tags)]
        return self.headscale(*args)["key"]

    def nodes(self):
        return self.headscale("nodes", "list") or []

    # ---- tailscaled peers ----------------------------------------------------------
    def add_peer(self, name, ephemeral=False, authkey=None, socks5=False):
        """socks5: also serve SOCKS5 (CONNECT and UDP ASSOCIATE) into the tailnet on
        127.0.0.1:peer.socks5 (a userspace tailscaled has no other UDP client)."""
        d = os.path.join(self.state_dir, name)
        os.makedirs(d)
        sock = os.path.join(d, "tailscaled.sock")
        socks = []
        if socks5:
            socks5 = self.port()
            socks = ["--socks5-server=127.0.0.1:%d" % socks5]
        env = {"SSL_CERT_FILE": self.ca_pem, "TS_ASSUME_NETWORK_UP_FOR_TEST": "1",
               "TS_NO_LOGS_NO_SUPPORT": "true", "TS_DISABLE_PORTMAPPER": "1",
               "TS_LOGS_DIR": d, "HOME": d}
        if self.derp_only:
            env["TS_DEBUG_NEVER_DIRECT_UDP"] = "1"
        proc = self.spawn(name, [os.path.join(GOBIN, "tailscaled"), "--tun=userspace-networking",
                                 "--statedir=" + d, "--state=" + os.path.join(d, "tailscaled.state"),
                                 "--socket=" + sock, "--port=%d" % self.port(socket.SOCK_DGRAM),
                                 "--no-logs-no-support"] + socks, env=env)
        peer = Peer(self, name, proc, sock)
        peer.socks5 = socks5 or None
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if proc.poll() is not None or time.time() > deadline:
                raise TestnetError("tailscaled %s did not start:\n%s" % (name, self.logs(name)))
            time.sleep(0.1)
        key = authkey or self.authkey(reusable=False, ephemeral=ephemeral)
        p = peer.cli("up", "--login-server=" + self.control_url, "--auth-key=" + key,
                     "--hostname=" + name, "--accept-dns=false", "--timeout=60s",
                     timeout=90, check=False)
        if p.returncode != 0:
            raise TestnetError("tailscale up (%s) failed: %s%s\n--- tailscaled log\n%s" % (
                name, p.stdout, p.stderr, self.logs(name)))
        peer.ip4 = peer.cli("ip", "-4").strip()
        peer.ip6 = peer.cli("ip", "-6").strip()
        self.peers.append(peer)
        return peer

    def wait_for(self, predicate, timeout=30, interval=0.5, what="condition"):
        deadline = time.time() + timeout
        while True:
            v = predicate()
            if v:
                return v
            if time.time() > deadline:
                raise TestnetError("timed out waiting for " + what)
            time.sleep(interval)


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers", type=int, default=2)
    ap.add_argument("--derp-only", action="store_true")
    a = ap.parse_args()
    # A shell starting us in the background (`cmd &` in a script) leaves SIGINT ignored, and
    # Python keeps that: Ctrl-C / kill -INT must always tear the tailnet down.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with Testnet(peers=a.peers, derp_only=a.derp_only) as net:
        print("control URL : %s" % net.control_url)
        print("CA (PEM/DER): %s %s" % (net.ca_pem, net.ca_der))
        print("STUN        : 127.0.0.1:%d  DERP region %d" % (net.stun_port, net.derp_region))
        if net.netns:
            print("netns       : %s  (run things inside: ip netns exec %s ...)" % (net.netns, net.netns))
        print("auth key    : %s (reusable)" % net.authkey())
        for p in net.peers:
            print("peer        : %-8s %s %s  socket %s" % (p.name, p.ip4, p.ip6, p.sock))
        try:   # the KeyboardInterrupt may come as soon as the line below is out
            signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
            print("Ctrl-C to tear everything down.", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
