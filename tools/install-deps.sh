#!/usr/bin/env bash
# Install what the build and the tests need and is missing: Debian packages (when root)
# and the pinned Python test requirements. Never touches apt sources.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
APT_PKGS=(
  build-essential pkg-config libffi-dev libmbedtls-dev dpkg-dev xz-utils   # unix port (system mbedTLS)
  gcc-multilib                                                             # 32-bit unix port (memory tests)
  iproute2 iptables nftables procps conntrack                        # test network namespaces
  valgrind                                                                 # ctgrind / callgrind
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib  # Cortex-M builds
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf gcc-xtensa-lx106     # RV32 / Xtensa compile checks
  libsodium-dev cmake                                                      # benchmarks baseline, picotool
)
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "apt: installing ${missing[*]}" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        echo "missing Debian packages (install as root): ${missing[*]}" >&2
    fi
fi
python3 -m pip install -q --disable-pip-version-check -r "$REPO/tests/requirements.txt" >&2
