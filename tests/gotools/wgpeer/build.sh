#!/usr/bin/env bash
# Build the wireguard-go test peer into $BUILD/go/bin/wgpeer (pinned go.mod/go.sum).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
BUILD=${BUILD:-$REPO/build}
mkdir -p "$BUILD/go/bin"
cd "$HERE"
GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$BUILD/go/bin/wgpeer" .
echo "$BUILD/go/bin/wgpeer"
