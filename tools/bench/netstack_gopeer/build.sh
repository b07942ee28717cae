#!/usr/bin/env bash
# Build the gVisor-netstack WireGuard peer into $BUILD/go/bin/netstack_gopeer.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$REPO/build}
mkdir -p "$BUILD/go/bin"
cd "$HERE"
GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$BUILD/go/bin/netstack_gopeer" .
echo "$BUILD/go/bin/netstack_gopeer"
