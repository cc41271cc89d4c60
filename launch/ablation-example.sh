#!/usr/bin/env bash
# The worked ablation examples of docs/ablations.md, one command each, on the CPU:
#
#   bash launch/ablation-example.sh schedule      # cosine vs rsqrt vs hyb vs hyb2 (Stable LM 2, App. B)
#   bash launch/ablation-example.sh batch-size    # global batch 4/8/16/32 sequences (App. D)
#
# Installs and builds what is missing (launch/setup.sh), makes the sample corpus
# (launch/sample-data.sh), trains the sweep configs/sweeps/<name>-ablation.yml into
# runs/ablation-<name>/ (finished runs are skipped, interrupted ones resumed) and writes the
# report with its plots to docs/examples/<name>-ablation/ (or to $OUT when set).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case "${1:-}" in
  schedule | batch-size) name="$1" ;;
  *) echo "usage: bash launch/ablation-example.sh schedule|batch-size" >&2; exit 2 ;;
esac
bash launch/setup.sh
bash launch/sample-data.sh
kiln="${KILN_BUILD_DIR:-build}/kiln"
sweep="configs/sweeps/$name-ablation.yml"
runs="$(sed -n 's/^output_dir: *//p' "$sweep")"
"$kiln" sweep "$sweep"
"$kiln" report "$runs"/* -o "${OUT:-docs/examples/$name-ablation}"
