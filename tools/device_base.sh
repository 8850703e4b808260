#!/usr/bin/env bash
# The tree of COMMIT (default HEAD) in .device/base, for gpu_check.sh's bench-base stage: a device call carries the
# working tree, not the history, so a baseline travels as files (2.5 MB; .device is git-ignored and carried).
#
#   tools/device_base.sh a8eda76
#   run(command="bash tools/gpu_check.sh build bench-kernels bench-base", carry=[".device"])
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$ROOT" rev-parse --verify "${1:-HEAD}^{commit}")
rm -rf "$ROOT/.device/base"
mkdir -p "$ROOT/.device/base"
git -C "$ROOT" archive "$commit" | tar -x -C "$ROOT/.device/base"
echo "$commit" >"$ROOT/.device/base/COMMIT"
echo ".device/base: $(git -C "$ROOT" log --oneline -1 "$commit")"
