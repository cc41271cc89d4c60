#!/usr/bin/env bash
# Builds kiln (installing missing packages) and runs the whole test suite with CTest.
#
#   bash launch/run_tests.sh
#
# GPU tests skip where no GPU is visible. Same environment knobs as launch/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash launch/setup.sh
ctest --test-dir "${KILN_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
