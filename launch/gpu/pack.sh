#!/usr/bin/env bash
# Builds the GPU kit on a CPU machine: what launch/gpu/device-check.sh runs on a GPU machine that
# has CUDA's libraries but none of kiln's others (docs/cuda-backend.md, "Checking on a GPU").
#
#   bash launch/gpu/pack.sh                       # Release, sm_90, into .gpu/ (git-ignored)
#   KILN_PACK_REUSE=build bash launch/gpu/pack.sh # no build: the binaries of an existing build
#                                                 # (the CI smoke test), source paths only warned of
#
# The kit, .gpu/kit.tar.xz (device-check.sh unpacks it into /tmp) holding
#   bin/   kiln, the CUDA test executables and cuda_attention_check, stripped
#   lib/   the shared libraries they need that a bare GPU machine lacks: the closure `ldd` finds,
#          without glibc, libstdc++, libgcc and the CUDA libraries (cudart, cuBLAS(Lt), NCCL,
#          cuDNN, the driver), which come from the GPU machine
# and beside it .gpu/MANIFEST: commit, build, the files with their sizes and SHA-256. Unpacked the
# kit is about 80 MiB (OpenBLAS alone 35); packed it must stay under 40 MiB, since a GPU call
# carries at most 64 MiB with the working tree. No binary may name the source or build tree
# (`strings`): tests find configs via $KILN_SOURCE_DIR.
#
# Environment: KILN_PACK_OUT (default .gpu), KILN_PACK_BUILD_DIR (default build-gpu-pack),
# KILN_CUDA_ARCHITECTURES (default 90: H100/H200), KILN_CMAKE_ARGS (extra CMake arguments),
# KILN_PACK_REUSE (an existing build folder to take the binaries from, instead of building).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${KILN_PACK_OUT:-.gpu}"
limit_mib=40
binaries=(kiln tests/cuda_ops_tests tests/cuda_optim_tests tests/cuda_model_tests bench/cuda_attention_check)

die() { echo "pack: $*" >&2; exit 1; }

if [[ -n "${KILN_PACK_REUSE:-}" ]]; then
  build="$KILN_PACK_REUSE"
  [[ -d "$build" ]] || die "KILN_PACK_REUSE=$build is not a build folder"
  strict=0
else
  build="${KILN_PACK_BUILD_DIR:-build-gpu-pack}"
  strict=1
  if [[ -z "${CUDACXX:-}" ]] && ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  fi
  [[ -n "${CUDACXX:-}" ]] || command -v nvcc >/dev/null || die "no nvcc: the kit needs the CUDA backend"
  mkdir -p "$build"
  log="$build/pack-configure.log"
  # shellcheck disable=SC2086  # KILN_CMAKE_ARGS is a list of arguments
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_RELOCATABLE=ON -DKILN_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${KILN_CUDA_ARCHITECTURES:-90}" ${KILN_CMAKE_ARGS:-} >"$log" 2>&1 ||
    { tail -n 30 "$log" >&2; die "configure failed (log: $log)"; }
  grep -q "kiln: CUDA backend ON" "$log" || die "CMake found no CUDA compiler (log: $log)"
  targets=()
  for b in "${binaries[@]}"; do targets+=("$(basename "$b")"); done
  cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
fi
build="$(cd "$build" && pwd)"

tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/lib"
trap 'rm -rf "$tmp"' EXIT
missing_bins=()
for b in "${binaries[@]}"; do
  if [[ -x "$build/$b" ]]; then
    cp "$build/$b" "$tmp/bin/"
    strip --strip-all "$tmp/bin/$(basename "$b")"
  else
    missing_bins+=("$b")
  fi
done
if ((${#missing_bins[@]})); then
  ((strict)) && die "not built: ${missing_bins[*]}"
  echo "pack: warning: not in $build (no CUDA there?): ${missing_bins[*]}" >&2
fi

# What the GPU machine provides: glibc's libraries and the loader, the compiler runtime, and CUDA's.
provided='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libmvec|libnsl|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libnccl|libcudnn[a-z_]*|libnvrtc|libnvJitLink|libcufile)\.so'
declare -A taken=()
for f in "$tmp"/bin/*; do
  while read -r name arrow path _; do
    [[ "$arrow" == "=>" ]] || continue
    [[ "$name" =~ $provided ]] && continue
    [[ "$path" == "not" ]] && die "$(basename "$f") needs $name, which this machine lacks"
    [[ -n "${taken[$name]:-}" ]] && continue
    cp -L "$path" "$tmp/lib/$name"
    taken[$name]="$path"
  done < <(ldd "$f")
done
chmod -R u+w,go-w "$tmp/lib"
strip --strip-unneeded "$tmp"/lib/* 2>/dev/null || true

# No path of this machine's trees in a binary; and a RUNPATH into them would be one too.
leaks=()
for f in "$tmp"/bin/*; do
  for tree in "$root" "$build"; do
    if strings -a "$f" | grep -qF "$tree"; then leaks+=("$(basename "$f") names $tree"); break; fi
  done
done
if ((${#leaks[@]})); then
  printf 'pack: %s\n' "${leaks[@]}" >&2
  ((strict)) && die "binaries carry source or build paths (build with -DKILN_RELOCATABLE=ON)"
  echo "pack: warning: the kit is not relocatable (a reused build); fine for the smoke test only" >&2
fi

{
  echo "kiln GPU kit"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm), $(ldd --version | head -1)"
  echo "build: $build ($(grep -m1 '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" | cut -d= -f2)," \
       "CUDA architectures $(grep -m1 '^CMAKE_CUDA_ARCHITECTURES' "$build/CMakeCache.txt" | cut -d= -f2))"
  echo "libraries the GPU machine must provide: glibc, libstdc++, libgcc_s, libcudart, libcublas, libcublasLt, libnccl (and libcuda)"
  echo "files:"
  (cd "$tmp" && find bin lib -type f | sort | while read -r f; do
     printf '  %-40s %10d  %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"; done)
} > "$tmp/MANIFEST"

unpacked_kib=$(du -sk "$tmp/bin" "$tmp/lib" | awk '{ s += $1 } END { print s }')
n_bin=$(ls "$tmp/bin" | wc -l) n_lib=$(ls "$tmp/lib" | wc -l)
tar -C "$tmp" -cf - bin lib | xz -T0 -6 > "$tmp/kit.tar.xz"
rm -rf "$tmp/bin" "$tmp/lib"
size_kib=$(du -sk "$tmp" | cut -f1)
if ((size_kib > limit_mib * 1024)); then
  die "the kit is $((size_kib / 1024)) MiB packed, over $limit_mib MiB (the MANIFEST lists the files: $tmp/MANIFEST)"
fi
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "pack: $out/kit.tar.xz: $n_bin executables, $n_lib libraries, $((unpacked_kib / 1024)) MiB unpacked," \
     "$((size_kib / 1024)) MiB packed"
