#!/usr/bin/env bash
# A 32-bit build of the host firmware (pointers and heap objects sized like the boards'
# 32-bit MicroPython), for the control-plane memory budget tests: same C modules and
# frozen package, no TLS and no FFI (no 32-bit mbedTLS/libffi here).
# Needs gcc-multilib. Output: $BUILD/host32/micropython.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$REPO/build}
MPY=$("$REPO/firmware/fetch-micropython.sh")
[ -x "$BUILD/host/mpy-cross" ] || make -C "$REPO" host >&2
mkdir -p "$BUILD/host32"
rm -f "$BUILD/host32/unix/frozen_content.c"  # stale qstrs otherwise (see firmware/build-host.sh)
make -s -C "$MPY/ports/unix" -j"${JOBS:-2}" BUILD="$BUILD/host32/unix" \
    MICROPY_MPYCROSS="$BUILD/host/mpy-cross" MICROPY_MPYCROSS_DEPENDENCY="$BUILD/host/mpy-cross" \
    MICROPY_FORCE_32BIT=1 MICROPY_PY_SSL=0 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=0 \
    MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 \
    USER_C_MODULES="$REPO/cmodules" FROZEN_MANIFEST="$REPO/boards/manifest_host.py" >&2
cp "$BUILD/host32/unix/micropython" "$BUILD/host32/micropython.tmp" && mv -f "$BUILD/host32/micropython.tmp" "$BUILD/host32/micropython"
echo "32-bit host firmware: $BUILD/host32/micropython" >&2
