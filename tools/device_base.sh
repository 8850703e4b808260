#!/usr/bin/env bash
# The tree of COMMIT (default HEAD) in .device/NAME (default base), for gpu_check.sh's bench-base stage: a device call
# carries the working tree, not the history, so a baseline travels as files (2.5 MB; .device is git-ignored and
# carried). Several trees (BASES="base interleave") are built and timed in one call.
#
#   tools/device_base.sh a8eda76
#   tools/device_base.sh gemv-interleave-wip interleave
#   run(command="BASES='base interleave' bash tools/gpu_check.sh build bench-kernels bench-base", carry=[".device"])
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$ROOT" rev-parse --verify "${1:-HEAD}^{commit}")
name=${2:-base}
case $name in sysroot | golden | "" | */*) echo "device_base.sh: $name is not a tree's name" >&2; exit 2 ;; esac
rm -rf "${ROOT:?}/.device/$name"
mkdir -p "$ROOT/.device/$name"
# -m: files dated now, not at the commit, so that a warm machine's build of an older tree under NAME rebuilds them
git -C "$ROOT" archive "$commit" | tar -x -m -C "$ROOT/.device/$name"
echo "$commit" >"$ROOT/.device/$name/COMMIT"
echo ".device/$name: $(git -C "$ROOT" log --oneline -1 "$commit")"
