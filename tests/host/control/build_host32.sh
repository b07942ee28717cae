#!/usr/bin/env bash
# A 32-bit build of the host firmware (pointers and heap objects sized like the boards'
# 32-bit MicroPython), the honest stand-in for a board in the heap-cap tests: same C modules
# and frozen package, no FFI, and TLS from mbedTLS 3.6 built here for 32 bits with
# MicroPython's board configuration (mbedtls_config_host32.h: TLS buffers allocated from
# the MicroPython heap with m_tracked_calloc, IN 16384 / OUT 4096 bytes, as on rp2/stm32).
# mbedTLS source: Debian trixie's mbedtls 3.6.6 (sha256-checked orig tarball), fetched with
# the private apt configuration of firmware/fetch-micropython.sh; or MBEDTLS_DIR (a 3.6.x
# checkout); NO_TLS32=1 builds without TLS as before.
# TLS_HEAP=libc: the ESP32 stand-in instead, in its own directory ($BUILD/host32-esp): the same
# mbedTLS configuration without the bare-metal allocation hooks (mbedtls_config_host32_libc.h),
# so mbedTLS allocates with libc calloc/free outside the MicroPython heap, as ESP-IDF's mbedTLS
# does on ESP32 (the IDF heap). Reuses $BUILD/host/mpy-cross and the fetched mbedTLS source.
# Needs gcc-multilib. Output: $BUILD/host32/micropython (TLS_HEAP=libc: $BUILD/host32-esp/micropython).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$REPO/build}
MPY=$("$REPO/firmware/fetch-micropython.sh")
[ -x "$BUILD/host/mpy-cross" ] || make -C "$REPO" host >&2
case "${TLS_HEAP:-gc}" in
    gc) OUT=$BUILD/host32; CFGH=mbedtls_config_host32.h ;;
    libc) OUT=$BUILD/host32-esp; CFGH=mbedtls_config_host32_libc.h
          [ -z "${NO_TLS32:-}" ] || { echo "TLS_HEAP=libc needs TLS (unset NO_TLS32)" >&2; exit 1; } ;;
    *) echo "TLS_HEAP must be gc or libc" >&2; exit 1 ;;
esac
mkdir -p "$BUILD/host32" "$OUT"

MBEDTLS_VERSION=3.6.6
MBEDTLS_DEB_VERSION=3.6.6-0.1~deb13u1
MBEDTLS_ORIG_SHA256=8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a
fetch_mbedtls() {   # -> prints the source dir
    local dest=$BUILD/host32/mbedtls/src work=$BUILD/apt-trixie
    if [ -n "${MBEDTLS_DIR:-}" ]; then echo "$MBEDTLS_DIR"; return; fi
    if [ -f "$dest/.fetched-$MBEDTLS_DEB_VERSION" ]; then echo "$dest"; return; fi
    [ -f "$work/sources.list" ] || { echo "no $work/sources.list (run firmware/fetch-micropython.sh)" >&2; exit 1; }
    local aptopts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent
                   -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
                   -o Acquire::Languages=none -o APT::Sandbox::User=root)
    mkdir -p "$work/mbedtls"
    if ! ls "$work/mbedtls"/mbedtls_${MBEDTLS_VERSION}.orig.tar.* >/dev/null 2>&1; then
        apt-get "${aptopts[@]}" update >&2
        (cd "$work/mbedtls" && apt-get "${aptopts[@]}" source --download-only "mbedtls=$MBEDTLS_DEB_VERSION" >&2)
    fi
    local orig
    orig=$(ls "$work/mbedtls"/mbedtls_${MBEDTLS_VERSION}.orig.tar.* | head -n 1)
    echo "$MBEDTLS_ORIG_SHA256  $orig" | sha256sum -c - >&2 || { echo "sha256 mismatch for $orig" >&2; exit 1; }
    rm -rf "$dest" "$dest.tmp" && mkdir -p "$dest.tmp"
    tar -xf "$orig" -C "$dest.tmp" --strip-components=1
    mv "$dest.tmp" "$dest"
    touch "$dest/.fetched-$MBEDTLS_DEB_VERSION"
    echo "$dest"
}

TLS=(MICROPY_PY_SSL=0 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=0)
CFLAGS32=""
LDFLAGS32=""
if [ -z "${NO_TLS32:-}" ]; then
    MB=$(fetch_mbedtls)
    if [ "$OUT" != "$BUILD/host32" ]; then   # its own copy: the library is built in the tree
        src=$MB MB=$OUT/mbedtls/src
        if [ ! -f "$MB/.copied" ] || [ "$src/.fetched-$MBEDTLS_DEB_VERSION" -nt "$MB/.copied" ]; then
            rm -rf "$MB" && mkdir -p "$MB"
            for d in include library 3rdparty framework scripts; do
                if [ -e "$src/$d" ]; then cp -a "$src/$d" "$MB/"; fi
            done
            find "$MB" \( -name '*.o' -o -name '*.a' \) -delete
            touch "$MB/.copied"
        fi
    fi
    CFG="-I$MPY -I$REPO/tests/host/control -DMBEDTLS_CONFIG_FILE='\"$CFGH\"'"
    mkdir -p "$OUT/mbedtls"
    stamp=$OUT/mbedtls/cfg.stamp
    if ! cmp -s "$REPO/tests/host/control/$CFGH" "$stamp" 2>/dev/null; then
        make -s -C "$MB/library" clean >&2 || true
    fi
    make -s -C "$MB/library" -j"${JOBS:-2}" CC=gcc AR=ar CFLAGS="-m32 -Os $CFG" \
        libmbedcrypto.a libmbedx509.a libmbedtls.a >&2
    cp "$REPO/tests/host/control/$CFGH" "$stamp"
    TLS=(MICROPY_PY_SSL=1 MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1)
    # the mbedTLS headers built here come before the system's (Debian's 2.28 in /usr/include)
    CFLAGS32="-I$MB/include $CFG"
    # m_tracked_calloc (mbedTLS's allocator on the boards) needs MICROPY_TRACKED_ALLOC;
    # the libc variant (ESP32: IDF heap) allocates with calloc/free and needs nothing
    [ "${TLS_HEAP:-gc}" = libc ] || CFLAGS32="-DMICROPY_TRACKED_ALLOC=1 $CFLAGS32"
    LDFLAGS32="-L$MB/library"
fi
# the configuration changes struct layouts (mpstate): a build of the other kind starts over
kind=$([ -z "${NO_TLS32:-}" ] && echo tls || echo notls)
[ "$(cat "$OUT/kind" 2>/dev/null)" = "$kind" ] || rm -rf "$OUT/unix"
echo "$kind" > "$OUT/kind"

rm -f "$OUT/unix/frozen_content.c"  # stale qstrs otherwise (see firmware/build-host.sh)
make -s -C "$MPY/ports/unix" -j"${JOBS:-2}" BUILD="$OUT/unix" \
    MICROPY_MPYCROSS="$BUILD/host/mpy-cross" MICROPY_MPYCROSS_DEPENDENCY="$BUILD/host/mpy-cross" \
    MICROPY_FORCE_32BIT=1 "${TLS[@]}" \
    MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 \
    CFLAGS_EXTRA="$CFLAGS32" LDFLAGS_EXTRA="$LDFLAGS32" \
    USER_C_MODULES="$REPO/cmodules" FROZEN_MANIFEST="$REPO/boards/manifest_host.py" >&2
cp "$OUT/unix/micropython" "$OUT/micropython.tmp" && mv -f "$OUT/micropython.tmp" "$OUT/micropython"
echo "32-bit host firmware (TLS heap: ${TLS_HEAP:-gc}): $OUT/micropython" >&2
