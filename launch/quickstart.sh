#!/usr/bin/env bash
# The main job, end to end on this machine: install, build, train the tiny model on the CPU.
#
#   bash launch/quickstart.sh
#
# Trains configs/tiny.yml on kiln's synthetic language into runs/tiny-<timestamp>/ (resolved
# config, metrics.jsonl, train.log), then plans every shipped config and, when ../shared/ is beside
# the project, imports the published Stable LM 2 GPT-NeoX config.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash launch/setup.sh
kiln="${KILN_BUILD_DIR:-build}/kiln"

"$kiln" version
echo
echo "=== kiln train configs/tiny.yml"
"$kiln" train configs/tiny.yml --set train.name="tiny-$(date +%Y%m%d-%H%M%S)"

for config in configs/*.yml; do
  echo
  echo "=== kiln plan $config"
  "$kiln" plan "$config"
done

neox=../shared/reference/configs/stablelm-2-1_6b.yml
if [ -f "$neox" ]; then
  echo
  echo "=== kiln config import-neox $neox (with the released model's biases)"
  out="$(mktemp -d)/stablelm-2-1_6b.yml"
  "$kiln" config import-neox "$neox" -o "$out" --set model.qkv_bias=true --set model.final_norm_bias=true
  "$kiln" plan "$out" | head -n 20
fi
