#!/usr/bin/env bash
# On a GPU machine with CUDA (nvcc, cuBLASLt, cuDNN, NCCL), CMake and ninja but without kiln's
# other libraries: unpacks the .debs of launch/gpu/fetch-deps.sh, builds kiln for the GPU's
# architecture and runs the GPU tests (every test runs; the GPU ones are the point).
#
#   bash launch/gpu/build-and-test.sh [CTEST_REGEX]     # default: the CUDA tests only
#
# Environment: KILN_CUDA_ARCHITECTURES (default 90: H100), KILN_BUILD_DIR (default build-gpu),
# OUT (a folder for the logs; default the build folder).
#
# The packages are unpacked into /tmp/kiln-deps and then copied into /usr WITHOUT overwriting
# anything the machine already has (cp -n): the machine's own libraries (CUDA, its libc, its
# compilers) win, and only what is missing is added. Meant for disposable GPU machines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
regex="${1:-[Cc]uda}"
build="${KILN_BUILD_DIR:-build-gpu}"
out="${OUT:-$build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if ! ls .deps/debs/*.deb >/dev/null 2>&1; then
  echo "build-and-test: no .deps/debs/*.deb; run launch/gpu/fetch-deps.sh where apt works and bring .deps/ along" >&2
  exit 2
fi
root=/tmp/kiln-deps
rm -rf "$root"
for f in .deps/debs/*.deb; do dpkg -x "$f" "$root"; done
cp -rn "$root/usr/." /usr/
[ -d "$root/etc" ] && cp -rn "$root/etc/." /etc/
ldconfig

echo "=== where CUDA's libraries are"
nvcc --version | tail -1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
for lib in libcublasLt.so libcudnn.so libnccl.so; do
  echo "$lib: $(ldconfig -p | grep -m1 "$lib" | sed 's/.*=> //' || echo 'not in ldconfig')"
done

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="${KILN_CUDA_ARCHITECTURES:-90}" 2>&1 | tee "$out/configure.log" | grep -E "kiln:|Error" || true
ninja -C "$build" 2>&1 | tee "$out/build.log" | tail -n 5
cd "$build"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest -R "$regex" --output-on-failure 2>&1 | tee "$out/ctest.log" | tail -n 40
