# The node side of `make demo`, run by the MicroPython host firmware.
# Configuration comes from the environment that tools/demo.py sets.
import os
import sys

import tailnet

print("MicroPython %s on %s: tailnet %s imported from frozen bytecode (%s)" % (
    ".".join(str(v) for v in sys.implementation.version[:3]), sys.platform,
    tailnet.__version__, tailnet.__file__))
import _tncrypto  # noqa: E402,F401  (compiled-in C module)

if not hasattr(tailnet, "up"):
    print("tailnet.up() is not implemented in this build yet: the node does not join the tailnet.")
    sys.exit(0)
