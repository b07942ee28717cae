#!/usr/bin/env bash
# Obtain a pinned MicroPython source tree into $BUILD/micropython.
#  - MICROPY_DIR set: use that checkout as it is (any upstream tag; users with
#    internet clone micropython at v1.25.0 and pass it here).
#  - otherwise: Debian trixie's source package micropython 1.25.0+ds, fetched
#    with a private apt configuration (the machine's apt sources are not
#    touched), its .orig tarball checked against a pinned sha256.
# Prints the path of the source tree on stdout (last line).
set -euo pipefail

BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
MP_DEB_VERSION=1.25.0+ds-1
MP_ORIG_SHA256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
DEST=$BUILD/micropython

if [ -n "${MICROPY_DIR:-}" ]; then
    [ -f "$MICROPY_DIR/py/mkrules.mk" ] || { echo "MICROPY_DIR=$MICROPY_DIR is not a MicroPython checkout" >&2; exit 1; }
    echo "$MICROPY_DIR"
    exit 0
fi

if [ -f "$DEST/.fetched-$MP_DEB_VERSION" ]; then
    echo "$DEST"
    exit 0
fi

command -v dpkg-source >/dev/null || { echo "dpkg-source missing: apt-get install dpkg-dev" >&2; exit 1; }

# The Debian mirror the machine already uses (never a host of our own choosing).
mirror=$(grep -hoE '^(URIs:|deb)[[:space:]]+[^[:space:]]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -v security | awk '{print $2}' | grep -E '^https?://' | head -n 1 || true)
[ -n "$mirror" ] || { echo "no Debian mirror found in the machine's apt sources" >&2; exit 1; }

work=$BUILD/apt-trixie
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src [trusted=yes] $mirror trixie main" > "$work/sources.list"
aptopts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent
         -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
         -o Acquire::Languages=none -o APT::Sandbox::User=root)
echo "fetching micropython $MP_DEB_VERSION source from $mirror (trixie)" >&2
apt-get "${aptopts[@]}" update >&2
(cd "$work/src" && apt-get "${aptopts[@]}" source --download-only "micropython=$MP_DEB_VERSION" >&2)

orig=$(ls "$work/src"/micropython_*.orig.tar.xz | head -n 1)
echo "$MP_ORIG_SHA256  $orig" | sha256sum -c - >&2 || { echo "sha256 mismatch for $orig" >&2; exit 1; }

rm -rf "$DEST" "$work/src/x"
(cd "$work/src" && dpkg-source --no-check -x micropython_${MP_DEB_VERSION}.dsc x >&2)
mv "$work/src/x" "$DEST"
touch "$DEST/.fetched-$MP_DEB_VERSION"
echo "$DEST"
