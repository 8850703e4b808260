#!/usr/bin/env bash
# Fills .device/ (git-ignored) with what tools/gpu_check.sh needs on the GPU machine, which has no apt: the Debian
# packages of the engine's build dependencies unpacked into .device/sysroot, and the golden cases in .device/golden.
# Run on the development machine, then name .device in the device call's carry.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GOLDEN=${GLM4V_GOLDEN_DIR:-$ROOT/../shared/golden}
DEBS=$(mktemp -d)
trap 'rm -rf "$DEBS"' EXIT
(cd "$DEBS" && apt-get download libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 \
    libsentencepiece-dev libsentencepiece0 libprotobuf-lite32 nlohmann-json3-dev libcli11-dev catch2 \
    pkgconf pkgconf-bin libpkgconf3)
rm -rf "$ROOT/.device/sysroot" "$ROOT/.device/golden"
mkdir -p "$ROOT/.device/sysroot"
for deb in "$DEBS"/*.deb; do dpkg -x "$deb" "$ROOT/.device/sysroot"; done
rm -rf "$ROOT/.device/sysroot/usr/share/doc" "$ROOT/.device/sysroot/usr/share/man"
cp -r "$GOLDEN" "$ROOT/.device/golden"
chmod -R u+w "$ROOT/.device/golden"
du -sh "$ROOT/.device"
