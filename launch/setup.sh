#!/usr/bin/env bash
# Installs the Debian packages kiln needs (only those missing) and builds kiln into build/.
#
#   bash launch/setup.sh
#
# Environment:
#   KILN_BUILD_DIR            build folder (default: build)
#   KILN_CUDA_ARCHITECTURES   CUDA architectures when nvcc is found (default: "80;90")
#   KILN_CMAKE_ARGS           extra CMake arguments, e.g. -DKILN_CUDA=OFF
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libopenblas-openmp-dev libpcre2-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kiln report (tools/report) plots with matplotlib and reads config.yml with PyYAML.
if ! python3 -c "import matplotlib, yaml" >/dev/null 2>&1; then
  echo "setup: installing matplotlib and pyyaml for kiln report"
  python3 -m pip install --quiet matplotlib pyyaml || echo "setup: pip install failed; kiln report needs matplotlib" >&2
fi

# nvcc is often installed outside PATH; CMake only needs to be told where.
if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi

build="${KILN_BUILD_DIR:-build}"
# shellcheck disable=SC2086  # KILN_CMAKE_ARGS is a list of arguments
cmake -S . -B "$build" -G Ninja -DCMAKE_CUDA_ARCHITECTURES="${KILN_CUDA_ARCHITECTURES:-80;90}" ${KILN_CMAKE_ARGS:-}
cmake --build "$build" -j "$(nproc)"
