#!/usr/bin/env bash
# One command from a fresh Debian 12 / Ubuntu 24.04 checkout to a built glm4v-desktop:
#   packaging/setup.sh [--build-dir DIR] [--cpu-only]
# Installs the system packages (apt-get), the pinned Python packages into .venv (libtorch comes from
# the torch wheel, DESIGN.md section 6), then configures and builds. A second run redoes nothing that
# is already done.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
cuda_flag=()
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$(realpath -m "$2"); shift 2 ;;
    --cpu-only) cuda_flag=(-DGLM4V_CUDA=OFF); shift ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ---- system packages ------------------------------------------------------------------------------
packages=(
    build-essential cmake ninja-build ccache pkg-config git
    python3 python3-venv python3-dev
    libpcre2-dev nlohmann-json3-dev libsentencepiece-dev libcli11-dev catch2
    libopencv-dev libsqlite3-dev libssl-dev zlib1g-dev
    clang-14 libclang-rt-14-dev
    libimgui-dev libglfw3-dev libmd4c-dev libfreetype-dev fonts-noto-cjk
    xvfb xauth desktop-file-utils
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${#missing[@]} system packages: ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    say "system packages: all present"
fi

# ---- Python environment (libtorch and the test oracles) -------------------------------------------
venv="$root/.venv"
requirements="$root/packaging/requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing pinned Python packages (libtorch is several GB the first time)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
else
    say "Python packages: up to date"
fi
torch_prefix=$("$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')

# ---- configure and build --------------------------------------------------------------------------
# nvcc is often installed but not on PATH.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
fi
say "configuring $build_dir"
cmake -S "$root" -B "$build_dir" -G Ninja \
    -DCMAKE_PREFIX_PATH="$torch_prefix" \
    -DGLM4V_PYTHON="$venv/bin/python" \
    "${cuda_flag[@]}"
say "building"
cmake --build "$build_dir" -j "$(nproc)"
say "done: run the tests with  ctest --test-dir ${build_dir#"$root"/} --output-on-failure"
