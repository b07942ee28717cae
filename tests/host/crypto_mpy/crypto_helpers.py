"""pytest-side helpers for the crypto tests (CPython only)."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from mpy import MICROPYTHON, VECTORS, run_mpy  # noqa: E402


def need_firmware():
    assert os.path.exists(MICROPYTHON), "host firmware missing: run `make host` (%s)" % MICROPYTHON


def run_script(name, *args, heapsize=None, timeout=300):
    """Run tests/host/crypto_mpy/<name> inside the firmware with argv."""
    need_firmware()
    path = os.path.join(HERE, name)
    # sys.argv[:] = ... (plain assignment to sys.argv does not work in MicroPython 1.25)
    code = "import sys\nsys.argv[:] = %r\nexec(open(%r).read())" % ([path] + list(args), path)
    return run_mpy(code, heapsize=heapsize, timeout=timeout)


def run_batch(cases, tmp_path, timeout=300):
    """Run a list of {"op", "args"} cases through tailnet.crypto in the firmware."""
    inp = os.path.join(str(tmp_path), "in.json")
    out = os.path.join(str(tmp_path), "out.json")
    with open(inp, "w") as f:
        json.dump(cases, f)
    run_script("fw_batch.py", inp, out, timeout=timeout)
    with open(out) as f:
        return json.load(f)
