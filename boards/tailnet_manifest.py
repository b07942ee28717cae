# Shared part of every board manifest: asyncio plus the tailnet package (bytecode, opt=3 strips
# asserts and line numbers to save flash). Board manifests include() this file; manifest code
# runs with this directory as cwd.
include("$(MPY_DIR)/extmod/asyncio")
# The CPython crypto shim (_crypto_cpython.py) is host-only: never frozen into a board.
import os

_HOST_ONLY = ("_crypto_cpython.py",)
_files = []
for _dir, _subdirs, _names in os.walk("../modules/tailnet"):
    _subdirs.sort()
    for _n in sorted(_names):
        if _n.endswith(".py") and _n not in _HOST_ONLY:
            _files.append(os.path.relpath(os.path.join(_dir, _n), "../modules/tailnet"))
package("tailnet", files=_files, base_path="../modules", opt=3)

# micropython-lib packages that are welcome when the MicroPython tree has micropython-lib (an
# upstream checkout with submodules). Debian's +ds source has an empty lib/micropython-lib, so
# each is optional: tailnet itself uses `tls` directly when `ssl` is absent.
for _name in ("ssl", "mip"):
    try:
        require(_name)
    except Exception:
        pass
