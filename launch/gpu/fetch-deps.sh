#!/usr/bin/env bash
# Downloads the Debian packages kiln needs besides CUDA (MPI, HDF5, yaml-cpp, spdlog, fmt, CLI11,
# nlohmann-json, GoogleTest, OpenBLAS, PCRE2, zlib and their runtime libraries) as .deb files into
# .deps/debs/ (git-ignored), ~27 MB, so that they can travel to a GPU machine that has CUDA, nvcc,
# CMake and ninja but none of these libraries. Run on a Debian 12 machine with network access:
#
#   bash launch/gpu/fetch-deps.sh
#
# then copy the repository with .deps/ to the GPU machine and run launch/gpu/build-and-test.sh
# there (docs/building.md, "A GPU machine without our libraries").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=.deps/debs
mkdir -p "$out"
packages=(
  # headers and link-time libraries (the -dev packages of launch/setup.sh)
  libopenmpi-dev libhdf5-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libopenblas-openmp-dev libopenblas-dev libpcre2-dev zlib1g-dev
  # runtime libraries those link against, and mpirun
  openmpi-bin openmpi-common libopenmpi3 libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100
  libhdf5-fortran-102 libyaml-cpp0.7 libspdlog1.10 libfmt9 libopenblas0-openmp libpcre2-8-0 libsz2 libaec0
  libhwloc15 libhwloc-plugins libevent-core-2.1-7 libevent-pthreads-2.1-7 libpmix2 libfabric1 libucx0
  libibverbs1 librdmacm1 libpsm2-2 libpsm-infinipath1 libgfortran5 libnuma1 libmunge2 libnl-3-200
  libnl-route-3-200 libxnvctrl0 libltdl7 libcurl4 libjpeg62-turbo
)
(cd "$out" && apt-get download "${packages[@]}")
echo "fetch-deps: $(ls "$out"/*.deb | wc -l) packages, $(du -sh "$out" | cut -f1) in $out"
