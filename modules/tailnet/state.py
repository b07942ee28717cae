# The node's persistent state: one small file, written atomically.
#   line 1: "tailnet-state 1 <sha256 hex of the body>"
#   rest:   JSON object (keys, control URL, node/user IDs, WireGuard timestamp floor)
# save(): write <path>.tmp, flush, fsync where available, rename over <path>.
# load(): a missing file gives None; a corrupt or truncated file raises StateError and is
# left untouched (never silently replaced with fresh keys).
import json
import os
from binascii import hexlify

MAGIC = "tailnet-state"
VERSION = 1


class StateError(Exception):
    pass


def _digest(body):
    import hashlib
    return hexlify(hashlib.sha256(body).digest()).decode()


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def encode(d):
    body = json.dumps(d).encode()
    return ("%s %d %s\n" % (MAGIC, VERSION, _digest(body))).encode() + body


def decode(data, path="state"):
    nl = data.find(b"\n")
    if nl < 0:
        raise StateError("%s: truncated state file (no header)" % path)
    head = data[:nl].decode().split()
    body = data[nl + 1:]
    if len(head) != 3 or head[0] != MAGIC:
        raise StateError("%s: not a tailnet state file" % path)
    if head[1] != str(VERSION):
        raise StateError("%s: unsupported state version %s" % (path, head[1]))
    if _digest(body) != head[2]:
        raise StateError("%s: state file corrupt or truncated (checksum mismatch)" % path)
    try:
        d = json.loads(body)
    except ValueError:
        raise StateError("%s: state file body is not JSON" % path)
    if not isinstance(d, dict):
        raise StateError("%s: state file body is not an object" % path)
    return d


def load(path):
    """Return the saved dict, or None when there is no state yet. Raises StateError."""
    tmp = path + ".tmp"
    if not _exists(path):
        if _exists(tmp):
            # a crash between removing the old file and renaming (FAT fallback below)
            d = _read(tmp)
            os.rename(tmp, path)
            return d
        return None
    return _read(path)


def _read(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise StateError("%s: cannot read state file: %s" % (path, e))
    return decode(data, path)


def save(path, d):
    data = encode(d)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        fsync = getattr(os, "fsync", None)
        if fsync is not None and hasattr(f, "fileno"):
            fsync(f.fileno())
    try:
        os.rename(tmp, path)
    except OSError:
        # filesystems whose rename does not replace (FAT): remove then rename
        os.remove(path)
        os.rename(tmp, path)
    _sync_dir(path)


def _sync_dir(path):
    fsync = getattr(os, "fsync", None)
    if fsync is None or not hasattr(os, "O_RDONLY"):
        return
    d = path.rsplit("/", 1)[0] if "/" in path else "."
    try:
        fd = os.open(d, os.O_RDONLY)
        try:
            fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
