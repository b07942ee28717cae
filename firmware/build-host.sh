#!/usr/bin/env bash
# Build mpy-cross and the MicroPython unix port with tailnet's C modules compiled in
# (USER_C_MODULES=cmodules) and modules/tailnet frozen (boards/manifest_host.py).
# Output: $BUILD/host/micropython and $BUILD/host/mpy-cross. Incremental.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
JOBS=${JOBS:-2}
MPY=$("$REPO/firmware/fetch-micropython.sh")
OUT=$BUILD/host
mkdir -p "$OUT"

make -s -C "$MPY/mpy-cross" -j"$JOBS" BUILD="$OUT/mpy-cross-build" >&2
cp "$OUT/mpy-cross-build/mpy-cross" "$OUT/mpy-cross.tmp" && mv -f "$OUT/mpy-cross.tmp" "$OUT/mpy-cross"

# The generated frozen-content C file keeps the qstrs of the previous manifest; when a
# C module adds identifiers that used to be frozen-only qstrs it no longer compiles
# ("redeclaration of enumerator MP_QSTR_..."). Regenerating it is cheap.
rm -f "$OUT/unix/frozen_content.c"
make -s -C "$MPY/ports/unix" -j"$JOBS" \
    BUILD="$OUT/unix" \
    MICROPY_MPYCROSS="$OUT/mpy-cross" MICROPY_MPYCROSS_DEPENDENCY="$OUT/mpy-cross" \
    MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 \
    USER_C_MODULES="$REPO/cmodules" \
    FROZEN_MANIFEST="$REPO/boards/manifest_host.py" >&2
# Copy then rename, so a binary that a running test holds open is replaced, not rewritten.
cp "$OUT/unix/micropython" "$OUT/micropython.tmp" && mv -f "$OUT/micropython.tmp" "$OUT/micropython"
echo "host firmware: $OUT/micropython" >&2
