"""A control server of ours for tests (CPython asyncio): /key, the /ts2021 upgrade with an
independent Noise responder, HTTP/2 from the `h2` package, register and map. `mode` makes
it hostile: oversized frames, bad HPACK, truncated JSON, invalid keys, mid-stream close,
register errors. Run standalone: python3 _control_server.py <port> <mode>."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys

import h2.config
import h2.connection
import h2.events
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl.bindings import crypto_scalarmult, crypto_scalarmult_base


def H(*parts):
    return hashlib.blake2s(b"".join(parts)).digest()


def hk(ck, ikm, n):
    prk = hmac.new(ck, ikm, hashlib.blake2s).digest()
    out, prev = [], b""
    for i in range(1, n + 1):
        prev = hmac.new(prk, prev + bytes([i]), hashlib.blake2s).digest()
        out.append(prev)
    return out


def respond(init, server_priv):
    version = int.from_bytes(init[:2], "big")
    spub = crypto_scalarmult_base(server_priv)
    h = H(b"Noise_IK_25519_ChaChaPoly_BLAKE2s")
    ck = h
    h = H(h, b"Tailscale Control Protocol v%d" % version)
    h = H(h, spub)
    epub = init[5:37]
    h = H(h, epub)
    ck, k = hk(ck, crypto_scalarmult(server_priv, epub), 2)
    mpub = ChaCha20Poly1305(k).decrypt(bytes(12), init[37:85], h)
    h = H(h, init[37:85])
    ck, k = hk(ck, crypto_scalarmult(server_priv, mpub), 2)
    ChaCha20Poly1305(k).decrypt(bytes(12), init[85:101], h)
    h = H(h, init[85:101])
    re = os.urandom(32)
    repub = crypto_scalarmult_base(re)
    h = H(h, repub)
    ck = hk(ck, crypto_scalarmult(re, epub), 1)[0]
    ck, k = hk(ck, crypto_scalarmult(re, mpub), 2)
    tag = ChaCha20Poly1305(k).encrypt(bytes(12), b"", h)
    k1, k2 = hk(ck, b"", 2)
    return b"\x02\x00\x30" + repub + tag, mpub, version, k2, k1


def K(prefix, i):
    return "%s:%064x" % (prefix, i)


def node(i):
    v4 = "100.64.%d.%d" % (i >> 8, i & 255)
    return {"ID": i, "Key": K("nodekey", 1000 + i), "DiscoKey": K("discokey", 2000 + i),
            "Name": "peer%d.tailnet.test." % i, "Addresses": [v4 + "/32", "fd7a:115c:a1e0::%x/128" % i],
            "AllowedIPs": [v4 + "/32", "fd7a:115c:a1e0::%x/128" % i],
            "Endpoints": ["127.0.0.1:%d" % (41000 + i), "192.168.1.%d:41641" % (i & 255)],
            "HomeDERP": 999, "Online": True, "Machine": K("mkey", 3000 + i),
            "Hostinfo": {"Hostname": "peer%d" % i, "OS": "linux", "IPNVersion": "1.96.0",
                         "Services": [{"Proto": "peerapi4", "Port": 12345}], "NetInfo": {"PreferredDERP": 999}},
            "Created": "2026-11-27T00:00:00Z", "LastSeen": "2026-11-27T00:00:00Z",
            "CapMap": {"https://tailscale.com/cap/is-admin": None}, "KeyExpiry": "0001-01-01T00:00:00Z"}


def frame_msg(obj):
    b = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
    return len(b).to_bytes(4, "little") + b


class Server:
    def __init__(self, mode="ok", early=True, peers=2):
        self.mode = mode
        self.early = early
        self.peers = peers
        self.priv = os.urandom(32)
        self.connections = 0
        self.registers = []
        self.maps = []
        self.port = None

    async def start(self):
        self.srv = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.srv.sockets[0].getsockname()[1]
        return self

    async def handle(self, r, w):
        try:
            line = await r.readline()
            hdrs = {}
            while True:
                l = await r.readline()
                if not l.strip():
                    break
                k, _, v = l.decode().partition(":")
                hdrs[k.strip().lower()] = v.strip()
            if line.startswith(b"GET /key"):
                body = json.dumps({"legacyPublicKey": K("mkey", 0),
                                   "publicKey": "mkey:" + crypto_scalarmult_base(self.priv).hex()}).encode()
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await w.drain()
                w.close()
                return
            self.connections += 1
            init = base64.b64decode(hdrs["x-tailscale-handshake"])
            resp, mpub, version, tx, rx = respond(init, self.priv)
            self.version = version
            w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n" + resp)
            await self.noise_h2(r, w, tx, rx)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            w.close()

    async def noise_h2(self, r, w, tx, rx):
        ntx = [0]

        def send(pt):
            out = b""
            for i in range(0, len(pt), 4077):
                ct = ChaCha20Poly1305(tx).encrypt(b"\0" * 4 + ntx[0].to_bytes(8, "big"), pt[i:i + 4077], None)
                ntx[0] += 1
                out += bytes([4]) + len(ct).to_bytes(2, "big") + ct
            w.write(out)

        if self.early:  # like headscale: three records
            payload = json.dumps({"nodeKeyChallenge": K("chalpub", 7)}).encode()
            send(b"\xff\xff\xffTS")
            send(len(payload).to_bytes(4, "big"))
            send(payload)
        self.window = asyncio.Event()
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        send(conn.data_to_send())
        await w.drain()
        nrx, buf, bodies = 0, b"", {}
        while True:
            d = await r.read(65536)
            if not d:
                return
            buf += d
            while len(buf) >= 3 and len(buf) >= 3 + int.from_bytes(buf[1:3], "big"):
                n = int.from_bytes(buf[1:3], "big")
                pt = ChaCha20Poly1305(rx).decrypt(b"\0" * 4 + nrx.to_bytes(8, "big"), buf[3:3 + n], None)
                nrx += 1
                buf = buf[3 + n:]
                for ev in conn.receive_data(pt):
                    if isinstance(ev, h2.events.RequestReceived):
                        bodies[ev.stream_id] = [dict(ev.headers), b""]
                    elif isinstance(ev, h2.events.DataReceived):
                        bodies[ev.stream_id][1] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.WindowUpdated):
                        self.window.set()
                    elif isinstance(ev, h2.events.StreamEnded):
                        hd, body = bodies.pop(ev.stream_id)
                        asyncio.ensure_future(self.serve(conn, send, w, ev.stream_id, hd, json.loads(body)))
                send(conn.data_to_send())
                await w.drain()

    async def send_body(self, conn, sid, data, flush, w):
        """Send DATA within the client's flow-control windows (waits for WINDOW_UPDATE)."""
        while data:
            n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(data))
            if n <= 0:
                self.window.clear()
                await asyncio.wait_for(self.window.wait(), 10)
                continue
            conn.send_data(sid, data[:n])
            data = data[n:]
            flush()
            await w.drain()

    async def serve(self, conn, send, w, sid, hd, req):
        path = hd[b":path"]

        def flush():
            send(conn.data_to_send())

        if path == b"/machine/register":
            self.registers.append(req)
            resp = {"User": {"ID": 1, "DisplayName": "tester"}, "MachineAuthorized": True}
            if self.mode == "register_error":
                resp = {"Error": "invalid authkey"}
            conn.send_headers(sid, [(":status", "200"), ("content-type", "application/json")])
            conn.send_data(sid, json.dumps(resp).encode(), end_stream=True)
            flush()
            return
        self.maps.append(req)
        if not req.get("Stream"):
            conn.send_headers(sid, [(":status", "200")], end_stream=True)
            flush()
            return
        conn.send_headers(sid, [(":status", "200"), ("content-type", "application/json")])
        first = {"Node": dict(node(100), Key=req["NodeKey"]), "Peers": [node(i) for i in range(1, self.peers + 1)],
                 "DERPMap": {"Regions": {"999": {"RegionID": 999, "RegionCode": "t", "Nodes": [{"Name": "999a", "RegionID": 999, "HostName": "localhost"}]}}}}
        m = self.mode
        if m == "badkey":
            first["Peers"][0]["Key"] = "nodekey:xyz"
        if m == "oversized":
            flush()
            send(b"\x10\x00\x00\x00\x00\x00\x00\x00\x01" + b"\0" * 100)   # 1 MiB DATA frame header
            await w.drain()
            return
        if m == "badhpack":
            flush()
            send(b"\x00\x00\x06\x01\x04\x00\x00\x00" + bytes([sid]) + b"\xff\xff\xff\xff\xff\x7f")
            await w.drain()
            return
        body = frame_msg(first)
        if m == "truncjson":
            body = frame_msg(json.dumps(first).encode()[:-20])
        if m == "close":
            conn.send_data(sid, body[:len(body) // 2])
            flush()
            await w.drain()
            w.close()
            return
        await self.send_body(conn, sid, body, flush, w)
        if m == "truncjson":
            return
        for i in range(3):
            await asyncio.sleep(0.3)
            conn.send_data(sid, frame_msg({"PeersChanged": [node(50 + i)]} if i == 1 else {"KeepAlive": True}))
            flush()
            await w.drain()
        if m == "goaway":
            conn.close_connection()
            flush()
            await w.drain()


async def _main(port, mode, peers=2):
    s = Server(mode, peers=peers)
    s.srv = await asyncio.start_server(s.handle, "127.0.0.1", port)
    print("listening", port, mode, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "ok",
                      int(sys.argv[3]) if len(sys.argv) > 3 else 2))
