# tailnet: disco messages (Ping / Pong / CallMeMaybe) and UDP demultiplexing.
# MIT license
#
# Sans-I/O. Layout from tailscale disco/disco.go:
#   magic "TS\xf0\x9f\x92\xac"(6) | sender disco pub(32) | nonce(24) | box(tag 16 || ct)
#   box key = crypto_box_beforenm(peer disco pub, my disco priv), one per peer, cached.
#   plaintext = type(1) | version(1)=0 | payload

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


from tailnet import crypto

MAGIC = b"TS\xf0\x9f\x92\xac"
_MAGIC_LEN = const(6)
_KEY_LEN = const(32)
_NONCE_LEN = const(24)
_TAG_LEN = const(16)
HEADER_LEN = const(62)  # magic + key + nonce
OVERHEAD = const(78)  # HEADER_LEN + tag

PING = const(0x01)
PONG = const(0x02)
CALL_ME_MAYBE = const(0x03)

TXID_LEN = const(12)
EP_LEN = const(18)  # ip16 + port BE16
MAX_CMM_ENDPOINTS = const(16)

# Datagram kinds for classify()
KIND_WG = const(0)
KIND_DISCO = const(1)
KIND_STUN = const(2)
KIND_GENEVE = const(3)
KIND_UNKNOWN = const(4)

# Address a peer's DERP-relayed disco packets appear to come from (magicsock).
DERP_MAGIC_IP = b"\x00" * 10 + b"\xff\xff" + bytes((127, 3, 3, 40))

_V4MAPPED = b"\x00" * 10 + b"\xff\xff"


def classify(b):
    """Classify a received UDP datagram like magicsock's packetLooksLike."""
    n = len(b)
    if n >= 20 and (b[0] & 0xC0) == 0 and b[1] == 0x01 and b[4:8] == b"\x21\x12\xa4\x42":
        return KIND_STUN
    if n >= 8 and (b[0] & 0xC0) == 0 and (b[1] & 0x3F) == 0 and b[7] == 0:
        if b[2] == 0x7A and (b[3] == 0x11 or b[3] == 0x12):
            return KIND_GENEVE  # peer relay; not supported, dropped by the caller
    if n >= 38 and b[0:_MAGIC_LEN] == MAGIC:
        return KIND_DISCO
    if n >= 4 and 1 <= b[0] <= 4 and b[1] == 0 and b[2] == 0 and b[3] == 0:
        return KIND_WG
    return KIND_UNKNOWN


def ip16(ip):
    """4- or 16-byte address, or dotted-quad str -> 16 bytes (v4-mapped)."""
    if isinstance(ip, str):
        ip = bytes(int(x) for x in ip.split("."))
    if len(ip) == 4:
        return _V4MAPPED + bytes(ip)
    if len(ip) == 16:
        return bytes(ip)
    raise ValueError("ip must be 4 or 16 bytes")


def unmap(ip):
    """16-byte address -> 4 bytes if v4-mapped, else unchanged."""
    if len(ip) == 16 and ip[:12] == _V4MAPPED:
        return bytes(ip[12:])
    return bytes(ip)


# ---- inner messages --------------------------------------------------------


def ping(txid, node_key, pad=0):
    if len(txid) != TXID_LEN or len(node_key) != _KEY_LEN:
        raise ValueError("txid 12, node key 32")
    return bytes((PING, 0)) + bytes(txid) + bytes(node_key) + bytes(pad)


def pong(txid, ip, port):
    if len(txid) != TXID_LEN:
        raise ValueError("txid 12")
    return bytes((PONG, 0)) + bytes(txid) + ip16(ip) + bytes(((port >> 8) & 0xFF, port & 0xFF))


def call_me_maybe(endpoints):
    """endpoints: iterable of (ip, port)."""
    out = bytearray((CALL_ME_MAYBE, 0))
    for ip, port in endpoints:
        out += ip16(ip)
        out.append((port >> 8) & 0xFF)
        out.append(port & 0xFF)
    return bytes(out)


def parse(plain):
    """Decode an opened plaintext. Returns one of
      (PING, txid, node_key_or_None)
      (PONG, txid, ip16, port)
      (CALL_ME_MAYBE, [(ip16, port), ...])
    or None for unknown types / bad versions / short messages (trailing bytes ignored)."""
    n = len(plain)
    if n < 2 or plain[1] != 0:
        return None
    t = plain[0]
    if t == PING and n >= 2 + TXID_LEN:
        key = bytes(plain[14:46]) if n >= 46 else None
        return (PING, bytes(plain[2:14]), key)
    if t == PONG and n >= 2 + TXID_LEN + EP_LEN:
        return (PONG, bytes(plain[2:14]), bytes(plain[14:30]), (plain[30] << 8) | plain[31])
    if t == CALL_ME_MAYBE:
        eps = []
        i = 2
        while i + EP_LEN <= n and len(eps) < MAX_CMM_ENDPOINTS:
            eps.append((bytes(plain[i : i + 16]), (plain[i + 16] << 8) | plain[i + 17]))
            i += EP_LEN
        return (CALL_ME_MAYBE, eps)
    return None


# ---- sealing / opening -----------------------------------------------------


class Disco:
    """Disco box for one local disco key. Shared keys are computed once per known peer
    (set_peers / add_peer); packets from unknown senders are dropped without any X25519."""

    def __init__(self, priv, pub=None):
        self.priv = bytes(priv)
        self.pub = bytes(pub) if pub is not None else crypto.x25519_base(self.priv)
        self._shared = {}  # peer disco pub (bytes) -> box key
        self.stats = {"short": 0, "bad_magic": 0, "unknown": 0, "bad_box": 0, "bad_msg": 0}

    def add_peer(self, disco_pub):
        disco_pub = bytes(disco_pub)
        if disco_pub not in self._shared:
            try:
                self._shared[disco_pub] = crypto.box_beforenm(disco_pub, self.priv)
            except ValueError:  # low-order key
                return False
        return True

    def remove_peer(self, disco_pub):
        self._shared.pop(bytes(disco_pub), None)

    def set_peers(self, disco_pubs):
        keep = {}
        for k in disco_pubs:
            k = bytes(k)
            s = self._shared.get(k)
            if s is None:
                try:
                    s = crypto.box_beforenm(k, self.priv)
                except ValueError:
                    continue
            keep[k] = s
        self._shared = keep

    def known(self, disco_pub):
        return bytes(disco_pub) in self._shared

    def seal(self, peer_pub, plain, nonce=None):
        """Whole disco packet for `plain` (an inner message) to peer_pub (must be added)."""
        key = self._shared.get(bytes(peer_pub))
        if key is None:
            raise KeyError("unknown disco peer")
        if nonce is None:
            nonce = crypto.random(_NONCE_LEN)
        return MAGIC + self.pub + bytes(nonce) + crypto.secretbox_seal(key, nonce, plain)

    def open(self, pkt):
        """Returns (sender_disco_pub, parsed message) or None (counted in stats)."""
        try:
            return self._open(pkt)
        except Exception:  # hostile input never escapes
            self.stats["bad_msg"] += 1
            return None

    def _open(self, pkt):
        if len(pkt) < OVERHEAD + 2:
            self.stats["short"] += 1
            return None
        if pkt[0:_MAGIC_LEN] != MAGIC:
            self.stats["bad_magic"] += 1
            return None
        sender = bytes(pkt[6:38])
        key = self._shared.get(sender)
        if key is None:
            self.stats["unknown"] += 1
            return None
        plain = crypto.secretbox_open(key, bytes(pkt[38:62]), bytes(pkt[62:]))
        if plain is None:
            self.stats["bad_box"] += 1
            return None
        msg = parse(plain)
        if msg is None:
            self.stats["bad_msg"] += 1
            return None
        return sender, msg
