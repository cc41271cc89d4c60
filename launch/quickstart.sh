#!/usr/bin/env bash
# The main job, end to end on this machine: install, build, then run what kiln has for real.
#
#   bash launch/quickstart.sh
#
# Today that is: the build report, a check and a plan of every shipped config, the GPT-NeoX
# import of the published Stable LM 2 config when ../shared/ is beside the project, and a dry run
# of the CPU quickstart config. (The trainer, when it lands, replaces the dry run with training.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash launch/setup.sh
kiln="${KILN_BUILD_DIR:-build}/kiln"

"$kiln" version
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

echo
echo "=== kiln train --dry-run configs/tiny.yml"
"$kiln" train --dry-run configs/tiny.yml | tail -n 25
