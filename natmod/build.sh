#!/usr/bin/env bash
# Build tailnet for boards running *stock* MicroPython (no custom firmware):
#   - _tncrypto (crypto) and _tnwg (WireGuard engine) as dynamic native modules (.mpy with
#     machine code) per architecture,
#   - the tailnet package compiled to .mpy bytecode (architecture-independent),
#   - mip package files: `mpremote mip install <dist>/package-<arch>.json` installs both.
# Also builds a stock unix-port MicroPython (no cmodules, only asyncio frozen) into
# $BUILD/stock/ to prove that path on the host (tests/host/test_natmod.py).
#
#   natmod/build.sh [ARCH...]        default: x64 armv6m armv7emsp rv32imc (+ xtensawin if the
#                                     ESP32 toolchain is on PATH)
# Output: $BUILD/natmod/dist/{package.json,package-<arch>.json,tailnet/*.mpy,<arch>/_tn*.mpy}
#
# Architectures: x64 = host (unix port); armv6m = RP2040 (Pico, Pico W); armv7emsp = RP2350
# (Pico 2 / 2 W; MicroPython 1.25's closest arch for Cortex-M33); rv32imc = ESP32-C3;
# xtensawin = ESP32 / ESP32-S3 (needs xtensa-esp32-elf-gcc from ESP-IDF: not on this machine).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export BUILD=${BUILD:-$REPO/build}
JOBS=${JOBS:-2}
OUT=$BUILD/natmod
DIST=$OUT/dist
STOCK=$BUILD/stock
log() { printf 'natmod: %s\n' "$*" >&2; }
die() { printf 'natmod: %s\n' "$*" >&2; exit 2; }

MPY=$("$REPO/firmware/fetch-micropython.sh")
python3 -c "import elftools" 2>/dev/null || die "pyelftools missing: pip install -r tests/requirements.txt"

# ---- stock unix port + its mpy-cross ------------------------------------------------------
mkdir -p "$STOCK"
make -s -C "$MPY/mpy-cross" -j"$JOBS" BUILD="$STOCK/mpy-cross-build" >&2
cp "$STOCK/mpy-cross-build/mpy-cross" "$STOCK/mpy-cross"
MPY_CROSS=$STOCK/mpy-cross
if [ "${NATMOD_SKIP_STOCK:-0}" != 1 ]; then
    make -s -C "$MPY/ports/unix" -j"$JOBS" BUILD="$STOCK/unix" \
        MICROPY_MPYCROSS="$MPY_CROSS" MICROPY_MPYCROSS_DEPENDENCY="$MPY_CROSS" \
        MICROPY_SSL_AXTLS=0 MICROPY_SSL_MBEDTLS=1 MICROPY_PY_BTREE=0 \
        FROZEN_MANIFEST="$REPO/natmod/stock_manifest.py" >&2
    cp "$STOCK/unix/micropython" "$STOCK/micropython"
    log "stock unix firmware: $STOCK/micropython"
fi

# ---- native modules ---------------------------------------------------------------------------
toolchain_for() {
    case $1 in
        x64|x86) echo gcc ;;
        armv6m|armv7m|armv7emsp|armv7emdp) echo arm-none-eabi-gcc ;;
        rv32imc) echo riscv64-unknown-elf-gcc ;;
        xtensawin) echo xtensa-esp32-elf-gcc ;;
        xtensa) echo xtensa-lx106-elf-gcc ;;
        *) die "unknown ARCH $1" ;;
    esac
}

archs=("$@")
if [ ${#archs[@]} -eq 0 ]; then
    archs=(x64 armv6m armv7emsp rv32imc)
    command -v xtensa-esp32-elf-gcc >/dev/null && archs+=(xtensawin)
fi

mkdir -p "$DIST"
rm -rf "$DIST/tailnet" "$DIST"/package*.json
built=()
for arch in "${archs[@]}"; do
    cc=$(toolchain_for "$arch")
    if ! command -v "$cc" >/dev/null; then
        case $arch in
            xtensawin) log "skip xtensawin: needs xtensa-esp32-elf-gcc (ESP-IDF: '. \$IDF_PATH/export.sh'), then: natmod/build.sh xtensawin" ;;
            *) log "skip $arch: $cc not found" ;;
        esac
        continue
    fi
    if [ "$arch" = rv32imc ] && [ ! -d /usr/lib/picolibc/riscv64-unknown-elf ]; then
        log "skip rv32imc: apt-get install picolibc-riscv64-unknown-elf"
        continue
    fi
    mkdir -p "$DIST/$arch"
    for mod in tncrypto tnwg; do
        stage=$OUT/$arch/$mod
        mkdir -p "$stage"
        ln -sfn "$REPO/natmod/$mod/Makefile" "$stage/Makefile"
        ln -sfn "$REPO/natmod/$mod" "$stage/src"
        ln -sfn "$REPO/cmodules/core" "$stage/core"
        log "building _$mod for $arch"
        make -s -C "$stage" MPY_DIR="$MPY" ARCH="$arch" MPY_CROSS="$MPY_CROSS" >&2 \
            || die "_$mod build failed for $arch"
        cp "$stage/_$mod.mpy" "$DIST/$arch/_$mod.mpy"
    done
    built+=("$arch")
done

# ---- tailnet as .mpy + mip package files ----------------------------------------------------
# Package every architecture built so far (this run or an earlier one).
all=()
for d in "$DIST"/*/_tncrypto.mpy; do
    [ -f "$d" ] && [ -f "$(dirname "$d")/_tnwg.mpy" ] && all+=("$(basename "$(dirname "$d")")")
done
python3 "$REPO/natmod/mkpackage.py" --mpy-cross "$MPY_CROSS" --src "$REPO/modules" \
    --dist "$DIST" "${all[@]}" >&2
log "dist: $DIST (native built now: ${built[*]:-none}; packaged: ${all[*]:-none})"
echo "$DIST"
