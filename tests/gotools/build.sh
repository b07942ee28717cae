#!/usr/bin/env bash
# Build the real Tailscale components the tests run against, from pinned Go modules
# (tests/gotools/*/go.mod + go.sum), into $BUILD/go/bin. A binary that is already
# present and newer than its go.mod/go.sum is not rebuilt.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
OUT=$BUILD/go/bin
mkdir -p "$OUT"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

need() {  # need <go.mod dir> <binary>...: true when any binary is missing or stale
    local dir=$1; shift
    for b in "$@"; do
        [ -x "$OUT/$b" ] || return 0
        [ "$OUT/$b" -nt "$dir/go.sum" ] || return 0
        [ "$OUT/$b" -nt "$dir/go.mod" ] || return 0
    done
    return 1
}

build() {  # build <module dir> <pkg>...
    local dir=$1; shift
    echo "go build ($(basename "$dir")): $*" >&2
    (cd "$dir" && go build -trimpath -o "$OUT/" "$@")
}

if need "$HERE/headscale" headscale; then
    build "$HERE/headscale" github.com/juanfont/headscale/cmd/headscale
fi
if need "$HERE/tailscale" tailscaled tailscale derper; then
    build "$HERE/tailscale" tailscale.com/cmd/tailscaled tailscale.com/cmd/tailscale tailscale.com/cmd/derper
fi
# Our own Go programs (test peers, testcontrol wrapper) build the same way when present.
for d in "$HERE"/*/; do
    name=$(basename "$d")
    case $name in headscale|tailscale) continue ;; esac
    [ -f "$d/go.mod" ] || continue
    # Our own small programs: always hand them to go build (quick when up to date),
    # so an edited .go file is never run stale.
    build "$d" .
    [ -x "$OUT/$name" ] || { echo "expected $OUT/$name from $d" >&2; exit 1; }
done
"$OUT/headscale" version >/dev/null 2>&1 || true
echo "go tools in $OUT" >&2
