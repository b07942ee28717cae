#!/usr/bin/env bash
# Build MicroPython firmware for a board, with tailnet's C modules (cmodules/micropython.cmake)
# compiled in and modules/tailnet frozen (boards/<BOARD>/manifest.py).
#
#   firmware/build-board.sh BOARD          (make firmware BOARD=...)
#
# Output: $BUILD/firmware/<BOARD>/firmware.{elf,uf2,bin} (rp2) or firmware.bin (esp32),
#         plus sizes.txt. Everything downloaded or built is cached under $BUILD, so a second
#         run only recompiles what changed.
#
# Sources:
#   MicroPython   firmware/fetch-micropython.sh (MICROPY_DIR = any checkout, else Debian's
#                 micropython 1.25.0+ds source whose lib/ submodules are empty).
#   rp2           pico-sdk-source 2.1.1 + tinyusb-source 0.18.0 (Debian trixie .debs), lwip 2.2.1
#                 + mbedtls 3.6.6 + picotool 2.1.1 (Debian trixie sources), fetched through a
#                 private apt configuration under $BUILD/firmware/deps/apt (the machine's apt
#                 sources are never changed). A MICROPY_DIR with initialised submodules is used
#                 as it is. PICOTOOL_DIR=<prefix>/lib/cmake/picotool skips the picotool build.
#   Pico W        additionally lib/cyw43-driver: no registry carries it (see need_cyw43).
#   esp32         ESP-IDF (IDF_PATH, idf.py on PATH) — not buildable on this project's machines.
#
# Exit status 2 with a message on stderr naming what is missing and how to get it.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
export BUILD=${BUILD:-$REPO/build}
JOBS=${JOBS:-2}
BOARD=${1:-${BOARD:-}}
FW=$BUILD/firmware
DEPS=$FW/deps

die() { printf 'build-board: %s\n' "$*" >&2; exit 2; }
log() { printf 'build-board: %s\n' "$*" >&2; }

boards_list() { (cd "$REPO/boards" && ls -d */ 2>/dev/null | tr -d / | tr '\n' ' '); }

[ -n "$BOARD" ] || die "no board given. Usage: make firmware BOARD=<name>; boards: $(boards_list)"
BOARD_DIR=$REPO/boards/$BOARD
[ -f "$BOARD_DIR/board.env" ] || die "unknown board '$BOARD'; boards: $(boards_list)"
# board.env sets MP_PORT (rp2|esp32), UPSTREAM_BOARD, and NEEDS (space-separated: cyw43 idf).
# shellcheck source=/dev/null
. "$BOARD_DIR/board.env"
OUT=$FW/$BOARD

# ---------------------------------------------------------------------------------------------
# Fail-fast checks (before anything is downloaded)
# ---------------------------------------------------------------------------------------------
need_idf() {
    local target=$1 gcc=$2
    if [ -z "${IDF_PATH:-}" ]; then
        die "$BOARD needs ESP-IDF, and IDF_PATH is not set.
  MicroPython 1.25 supports ESP-IDF v5.2, v5.2.2, v5.3 and v5.4. No package registry here carries
  ESP-IDF or the $gcc toolchain; on a machine with internet:
      git clone -b v5.2.2 --recursive https://github.com/espressif/esp-idf.git
      ./esp-idf/install.sh $target && . ./esp-idf/export.sh      # sets IDF_PATH, puts idf.py on PATH
      make firmware BOARD=$BOARD"
    fi
    [ -f "$IDF_PATH/tools/idf.py" ] || die "IDF_PATH=$IDF_PATH is not an ESP-IDF checkout (no tools/idf.py)"
    command -v idf.py >/dev/null || die "idf.py is not on PATH: run '. \$IDF_PATH/export.sh' first"
    command -v "$gcc" >/dev/null || die "$gcc is not on PATH: run '\$IDF_PATH/install.sh $target' then '. \$IDF_PATH/export.sh'"
}

cyw43_help="$BOARD needs lib/cyw43-driver (the Infineon CYW43439 wifi driver and firmware blob,
  https://github.com/georgerobotics/cyw43-driver, release v1.1.0: the one MicroPython v1.25.0
  pins as its lib/cyw43-driver submodule). No package registry carries it, so it cannot be built on this
  project's machines. Either:
    (a) use an upstream checkout with the port's submodules:
          git clone -b v1.25.0 https://github.com/micropython/micropython
          make -C micropython/ports/rp2 BOARD=$UPSTREAM_BOARD submodules
          MICROPY_DIR=\$PWD/micropython make firmware BOARD=$BOARD
    (b) or keep the default source and point at a cyw43-driver checkout:
          git clone -b v1.1.0 https://github.com/georgerobotics/cyw43-driver
          CYW43_DRIVER_DIR=\$PWD/cyw43-driver make firmware BOARD=$BOARD"

for need in ${NEEDS:-}; do
    case $need in
        idf-esp32) need_idf esp32 xtensa-esp32-elf-gcc ;;
        idf-esp32s3) need_idf esp32s3 xtensa-esp32s3-elf-gcc ;;
        idf-esp32c3) need_idf esp32c3 riscv32-esp-elf-gcc ;;
        cyw43)
            if [ -n "${CYW43_DRIVER_DIR:-}" ]; then
                [ -f "$CYW43_DRIVER_DIR/src/cyw43.h" ] || die "CYW43_DRIVER_DIR=$CYW43_DRIVER_DIR has no src/cyw43.h"
            elif [ -z "${MICROPY_DIR:-}" ] || [ ! -f "$MICROPY_DIR/lib/cyw43-driver/src/cyw43.h" ]; then
                die "$cyw43_help"
            fi ;;
        *) die "board.env of $BOARD names an unknown need '$need'" ;;
    esac
done

case $MP_PORT in
    rp2) command -v arm-none-eabi-gcc >/dev/null || die "arm-none-eabi-gcc missing: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib"
         command -v cmake >/dev/null || die "cmake missing: apt-get install cmake" ;;
    esp32) ;;
    *) die "board.env of $BOARD has unknown MP_PORT '$MP_PORT'" ;;
esac

MPY=$("$REPO/firmware/fetch-micropython.sh")
mkdir -p "$OUT"

# ---------------------------------------------------------------------------------------------
# rp2 dependencies from Debian trixie (private apt configuration, cached)
# ---------------------------------------------------------------------------------------------
# Pinned: name, version, sha256 of the file apt fetches (apt also checks it against the signed
# index). Only the upstream .orig tarballs are fetched (--tar-only): Debian patches are not
# needed, and the picotool .dsc is not always on the mirror.
PICO_SDK_DEB=pico-sdk-source_2.1.1-1_all.deb
PICO_SDK_SHA=507a3ca37636641bc90239d7c04dc9dc28c5008087a8162102ea94d2273153d3
TINYUSB_DEB=tinyusb-source_0.18.0+dfsg-1_all.deb
TINYUSB_SHA=01ce2c645df68f14a8a7dcfc8fb355713152543757955820479a87949a61154e
LWIP_ORIG=lwip_2.2.1+dfsg1.orig.tar.xz
LWIP_SHA=83729c274c499d3348e9fbbe043a3113f3fa8953e7efddc7c21c7fcbb1f2b7b1
MBEDTLS_ORIG=mbedtls_3.6.6.orig.tar.bz2
MBEDTLS_SHA=8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a
PICOTOOL_ORIG=picotool_2.1.1+dfsg.orig.tar.xz
PICOTOOL_SHA=c515d75ce6df590ca783b3a4267f6e8a963ffec753aeeb1892f8ba1771b8786d

APT=$DEPS/apt
aptopts=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=/nonexistent
         -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
         -o "Dir::State::status=$APT/status" -o Acquire::Languages=none
         -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
         -o APT::Sandbox::User=root)

apt_ready() {
    [ -f "$APT/.updated" ] && return 0
    local mirror
    mirror=$(grep -hoE '^(URIs:|deb)[[:space:]]+[^[:space:]]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -v security | awk '{print $2}' | grep -E '^https?://' | head -n 1)
    [ -n "$mirror" ] || die "no Debian mirror found in the machine's apt sources"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || die "$keyring missing: apt-get install debian-archive-keyring"
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"
    : > "$APT/status"
    printf 'deb [signed-by=%s] %s trixie main\ndeb-src [signed-by=%s] %s trixie main\n' \
        "$keyring" "$mirror" "$keyring" "$mirror" > "$APT/sources.list"
    log "apt update (private trixie lists in $APT)"
    apt-get "${aptopts[@]}" update >&2 || die "apt-get update (trixie) failed"
    touch "$APT/.updated"
}

# fetch FILE SHA KIND NAME=VERSION: download into $DEPS/dl (deb: apt-get download; src: apt-get source)
fetch() {
    local file=$1 sha=$2 kind=$3 spec=$4
    mkdir -p "$DEPS/dl"
    if [ ! -f "$DEPS/dl/$file" ]; then
        apt_ready
        log "downloading $spec ($kind)"
        if [ "$kind" = deb ]; then
            (cd "$DEPS/dl" && apt-get "${aptopts[@]}" download "$spec" >&2) || die "apt-get download $spec failed"
        else
            (cd "$DEPS/dl" && apt-get "${aptopts[@]}" source --download-only --tar-only "$spec" >&2) || die "apt-get source $spec failed"
        fi
        [ -f "$DEPS/dl/$file" ] || die "could not fetch $file (apt: $spec from trixie)"
    fi
    echo "$sha  $DEPS/dl/$file" | sha256sum -c --quiet - >&2 || die "sha256 mismatch for $DEPS/dl/$file"
}

# unpack_deb FILE SHA SPEC SUBDIR DEST: the /usr/src/<SUBDIR> of a -source .deb -> DEST
unpack_deb() {
    local file=$1 sha=$2 spec=$3 sub=$4 dest=$5
    [ -f "$dest/.tailnet-$file" ] && return 0
    fetch "$file" "$sha" deb "$spec"
    rm -rf "$dest" "$DEPS/x"; mkdir -p "$DEPS/x"
    dpkg -x "$DEPS/dl/$file" "$DEPS/x"
    mv "$DEPS/x/usr/src/$sub" "$dest"; rm -rf "$DEPS/x"
    touch "$dest/.tailnet-$file"
}

# unpack_src FILE SHA SPEC DEST: an upstream .orig tarball -> DEST (top directory stripped)
unpack_src() {
    local file=$1 sha=$2 spec=$3 dest=$4
    [ -f "$dest/.tailnet-$file" ] && return 0
    fetch "$file" "$sha" src "$spec"
    rm -rf "$dest"; mkdir -p "$dest"
    tar -xf "$DEPS/dl/$file" -C "$dest" --strip-components=1
    touch "$dest/.tailnet-$file"
}

build_picotool() {
    local prefix=$DEPS/picotool
    if [ ! -x "$prefix/bin/picotool" ]; then
        unpack_src "$PICOTOOL_ORIG" "$PICOTOOL_SHA" picotool=2.1.1+dfsg-1 "$DEPS/picotool-src"
        log "building picotool 2.1.1"
        cmake -S "$DEPS/picotool-src" -B "$DEPS/picotool-build" -G "Unix Makefiles" \
            -DPICO_SDK_PATH="$DEPS/pico-sdk" -DUSE_PRECOMPILED=false \
            -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" >"$DEPS/picotool-build.log" 2>&1 \
            || { tail -n 30 "$DEPS/picotool-build.log" >&2; die "picotool configure failed (log: $DEPS/picotool-build.log)"; }
        make -C "$DEPS/picotool-build" -j"$JOBS" install >>"$DEPS/picotool-build.log" 2>&1 \
            || { tail -n 30 "$DEPS/picotool-build.log" >&2; die "picotool build failed (log: $DEPS/picotool-build.log)"; }
    fi
    echo "$prefix/lib/cmake/picotool"
}

# A MicroPython tree whose lib/ has what ports/rp2 needs. An upstream checkout with submodules
# is used in place; Debian's +ds tree is copied (so the host build's tree is never touched) and
# its empty lib/ directories are filled from the packages above.
rp2_source() {
    if [ -f "$MPY/lib/pico-sdk/pico_sdk_init.cmake" ] && [ -f "$MPY/lib/tinyusb/src/tusb.h" ]; then
        echo "$MPY"; return 0
    fi
    unpack_deb "$PICO_SDK_DEB" "$PICO_SDK_SHA" pico-sdk-source=2.1.1-1 pico-sdk "$DEPS/pico-sdk"
    unpack_deb "$TINYUSB_DEB" "$TINYUSB_SHA" tinyusb-source=0.18.0+dfsg-1 tinyusb "$DEPS/tinyusb"
    unpack_src "$LWIP_ORIG" "$LWIP_SHA" lwip=2.2.1+dfsg1-1+deb13u1 "$DEPS/lwip"
    unpack_src "$MBEDTLS_ORIG" "$MBEDTLS_SHA" mbedtls=3.6.6-0.1~deb13u1 "$DEPS/mbedtls"
    local src=$FW/src/micropython stamp
    stamp=$(ls "$MPY"/.fetched-* 2>/dev/null | head -n 1 || true)
    stamp=${stamp##*/}
    if [ -z "$stamp" ] || [ ! -f "$src/$stamp" ]; then
        log "copying MicroPython source to $src"
        rm -rf "$src"; mkdir -p "$FW/src"
        cp -a "$MPY" "$src"
        rm -rf "$src"/ports/*/build* "$src/mpy-cross/build"
        local d
        for d in pico-sdk tinyusb lwip mbedtls; do
            rm -rf "${src:?}/lib/$d"; cp -a "$DEPS/$d" "$src/lib/$d"
        done
        touch "$src/lib/pico-sdk/README.md" "$src/lib/micropython-lib/README.md"
        [ -n "$stamp" ] && touch "$src/$stamp"
    fi
    echo "$src"
}

build_rp2() {
    local src picotool_dir
    src=$(rp2_source)
    if [ -n "${CYW43_DRIVER_DIR:-}" ]; then
        # ports/rp2 looks for it at lib/cyw43-driver only.
        if [ "$src" = "$MPY" ] && [ -n "${MICROPY_DIR:-}" ]; then
            [ -f "$src/lib/cyw43-driver/src/cyw43.h" ] || die "set CYW43_DRIVER_DIR only with the default source, or init MICROPY_DIR's submodules"
        else
            rm -rf "$src/lib/cyw43-driver"; cp -a "$CYW43_DRIVER_DIR" "$src/lib/cyw43-driver"
        fi
    fi
    # Debian-derived tree: build picotool 2.1.1 from source (pico-sdk would otherwise try to
    # clone it). An upstream checkout lets pico-sdk find or fetch picotool itself.
    local cmake_args=""
    if [ -n "${PICOTOOL_DIR:-}" ]; then
        cmake_args="-Dpicotool_DIR=$PICOTOOL_DIR"
    elif [ "$src" != "$MPY" ]; then
        picotool_dir=$(build_picotool)
        cmake_args="-Dpicotool_DIR=$picotool_dir"
    fi
    # mpy-cross of this very tree, built beforehand: left to the rp2 build it would inherit
    # BUILD= from the command line and land in the wrong place.
    if [ ! -x "$src/mpy-cross/build/mpy-cross" ]; then
        log "building mpy-cross"
        env -u BUILD -u MAKEFLAGS make -s -C "$src/mpy-cross" -j"$JOBS" >&2 || die "mpy-cross build failed"
    fi
    export MICROPY_MPYCROSS=$src/mpy-cross/build/mpy-cross
    local cbuild=$OUT/cmake
    # ports/rp2 runs cmake only when $cbuild has no Makefile: start afresh when the configuration
    # (board dir, picotool, set of C modules) changed, e.g. when a cmodules/<new>/ appeared.
    local sig
    sig="$BOARD_DIR|$cmake_args|$src|$(ls "$REPO"/cmodules/*/micropython.cmake 2>/dev/null | tr '\n' ' ')"
    if [ -f "$cbuild/Makefile" ] && [ "$(cat "$cbuild/.tailnet-config" 2>/dev/null)" != "$sig" ]; then
        log "configuration changed: reconfiguring $cbuild"
        rm -rf "$cbuild"
    fi
    mkdir -p "$cbuild"
    echo "$sig" > "$cbuild/.tailnet-config"
    log "building $BOARD (ports/rp2, board $UPSTREAM_BOARD) in $cbuild"
    # CMAKE_ARGS goes through the environment: on the make command line it would replace the
    # port Makefile's own CMAKE_ARGS (board dir, user C modules) instead of adding to them.
    CMAKE_ARGS="$cmake_args" make -C "$src/ports/rp2" -j"$JOBS" \
        BOARD="$UPSTREAM_BOARD" BOARD_DIR="$BOARD_DIR" BUILD="$cbuild" \
        USER_C_MODULES="$REPO/cmodules/micropython.cmake" >&2 \
        || die "ports/rp2 build failed for $BOARD (see output above)"
    local f
    for f in firmware.elf firmware.uf2 firmware.bin; do
        [ -f "$cbuild/$f" ] && cp "$cbuild/$f" "$OUT/$f"
    done
    [ -f "$cbuild/firmware.elf.map" ] && cp "$cbuild/firmware.elf.map" "$OUT/firmware.map"
    [ -f "$OUT/firmware.uf2" ] || die "no firmware.uf2 produced in $cbuild"
    arm-none-eabi-size -A "$OUT/firmware.elf" > "$OUT/sizes-sections.txt"
    arm-none-eabi-size -B "$OUT/firmware.elf" > "$OUT/sizes.txt"
}

build_esp32() {
    [ -d "$MPY/ports/esp32" ] || die "$MPY has no ports/esp32"
    local sub
    for sub in berkeley-db-1.xx/README tinyusb/src/tusb.h; do
        [ -e "$MPY/lib/$sub" ] || die "$BOARD needs the esp32 port's submodules (lib/${sub%%/*} is empty in $MPY).
  Use an upstream checkout:  git clone -b v1.25.0 https://github.com/micropython/micropython
                             make -C micropython/ports/esp32 submodules   (with ESP-IDF exported)
                             MICROPY_DIR=\$PWD/micropython make firmware BOARD=$BOARD"
    done
    log "building $BOARD (ports/esp32, board $UPSTREAM_BOARD) with ESP-IDF at $IDF_PATH"
    make -C "$MPY/ports/esp32" -j"$JOBS" \
        BOARD="$UPSTREAM_BOARD" BOARD_DIR="$BOARD_DIR" BUILD="$OUT/idf" \
        USER_C_MODULES="$REPO/cmodules/micropython.cmake" >&2 \
        || die "ports/esp32 build failed for $BOARD (see output above)"
    local f
    for f in firmware.bin micropython.elf micropython.bin micropython.map; do
        [ -f "$OUT/idf/$f" ] && cp "$OUT/idf/$f" "$OUT/$f"
    done
    (cd "$OUT/idf" && idf.py size) > "$OUT/sizes.txt" 2>&1 || true
}

case $MP_PORT in
    rp2) build_rp2 ;;
    esp32) build_esp32 ;;
esac
log "firmware for $BOARD in $OUT"
cat "$OUT/sizes.txt" >&2 2>/dev/null || true
echo "$OUT"
