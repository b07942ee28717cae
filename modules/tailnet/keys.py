# Typed Curve25519 keys (tailscale types/key): machine, node and disco keys.
# Public text forms: "mkey:<hex>", "nodekey:<hex>", "discokey:<hex>" (64 hex chars).
# Private keys never print their bytes (repr shows only the public form).
from binascii import hexlify, unhexlify

MKEY = "mkey:"
NODEKEY = "nodekey:"
DISCOKEY = "discokey:"
_ZERO = bytes(32)


def _crypto():
    from tailnet import crypto
    return crypto


def clamp(b):
    b = bytearray(b)
    b[0] &= 248
    b[31] = (b[31] & 127) | 64
    return bytes(b)


def parse_hex(text, prefix):
    """Parse "<prefix><64 hex>" into 32 raw bytes (ValueError otherwise)."""
    if not isinstance(text, str) or not text.startswith(prefix) or len(text) != len(prefix) + 64:
        raise ValueError("bad key text, want " + prefix + "<64 hex>")
    try:
        return unhexlify(text[len(prefix):])
    except Exception:
        raise ValueError("bad hex in " + prefix + " key")


class Public:
    """A 32-byte public key of one kind (prefix selects the kind)."""

    def __init__(self, raw, prefix):
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
            raise ValueError("public key must be 32 bytes")
        self.raw = bytes(raw)
        self.prefix = prefix

    @classmethod
    def parse(cls, text, prefix):
        return cls(parse_hex(text, prefix), prefix)

    def text(self):
        return self.prefix + hexlify(self.raw).decode()

    def is_zero(self):
        return self.raw == _ZERO

    def short(self):
        # like tailscale's ShortString: "[abcde]"
        return "[" + self.text()[len(self.prefix):len(self.prefix) + 5] + "]"

    def __eq__(self, other):
        return isinstance(other, Public) and other.prefix == self.prefix and other.raw == self.raw

    def __hash__(self):
        return hash(self.raw)

    def __repr__(self):
        return self.text()

    __str__ = __repr__


class Private:
    """A clamped Curve25519 private key. repr/str never reveal it."""

    def __init__(self, raw, prefix):
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
            raise ValueError("private key must be 32 bytes")
        self._raw = clamp(raw)
        self.prefix = prefix
        self._pub = None

    @classmethod
    def generate(cls, prefix):
        return cls(_crypto().random(32), prefix)

    def secret(self):
        """The raw 32 private bytes (for crypto and the state file only)."""
        return self._raw

    def public(self):
        if self._pub is None:
            self._pub = Public(_crypto().x25519_base(self._raw), self.prefix)
        return self._pub

    def __repr__(self):
        return "<private " + self.public().text() + ">"

    __str__ = __repr__


def machine_private(raw=None):
    return Private(raw, MKEY) if raw is not None else Private.generate(MKEY)


def node_private(raw=None):
    return Private(raw, NODEKEY) if raw is not None else Private.generate(NODEKEY)


def disco_private(raw=None):
    return Private(raw, DISCOKEY) if raw is not None else Private.generate(DISCOKEY)


def zero_text(prefix):
    return prefix + "0" * 64
