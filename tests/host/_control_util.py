"""Helpers shared by the control-plane tests (test_control*, test_h2*, test_hpack*, ...):
modules/ on sys.path (tailnet.crypto then uses its CPython shim), and mpy_in() to run the
host firmware behind a command prefix such as `ip netns exec`."""
import os
import subprocess
import sys

from mpy import MICROPYTHON, REPO

MODULES = os.path.join(REPO, "modules")
if MODULES not in sys.path:
    sys.path.insert(0, MODULES)


def mpy_in(prefix, code, heapsize=None, timeout=120, env=None, check=True, frozen=True):
    """Run code in the host firmware behind a command prefix (e.g. `ip netns exec`)."""
    cmd = list(prefix) + [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=" + str(heapsize)]
    cmd += ["-c", code]
    e = dict(os.environ)
    e["MICROPYPATH"] = ".frozen" if frozen else MODULES + ":.frozen"
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    if check and p.returncode != 0:
        raise AssertionError("micropython exited %d\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout, p.stderr))
    return p
