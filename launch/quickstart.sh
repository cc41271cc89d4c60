#!/usr/bin/env bash
# The main job, end to end on this machine: install, build, make a corpus and its tokenizer,
# tokenize it into GPT-NeoX shards, and train the tiny model on them on the CPU.
#
#   bash launch/quickstart.sh
#
# Data (data/sample/, made once and reused; delete the folder to remake it): kiln-data writes a
# deterministic sample corpus (~3 MB of JSONL, no download), trains a 512-token byte-level BPE
# tokenizer on it, and tokenizes it into an mmap indexed dataset (corpus_text_document.bin/.idx),
# which it then verifies. Then configs/tiny.yml trains on those shards into
# runs/tiny-<timestamp>/ (resolved config, metrics.jsonl, train.log, checkpoints/), the last
# checkpoint is exported for Hugging Face transformers (runs/tiny-<timestamp>/hf), every shipped config is
# planned and, when ../shared/ is beside the project, the published Stable LM 2 GPT-NeoX config is
# imported.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash launch/setup.sh
kiln="${KILN_BUILD_DIR:-build}/kiln"
kiln_data="${KILN_BUILD_DIR:-build}/kiln-data"

"$kiln" version
echo

bash launch/sample-data.sh
data=data/sample
"$kiln_data" inspect "$data/corpus_text_document" --tokenizer "$data/tokenizer.json" --decode 1 | head -n 30
echo
run="tiny-$(date +%Y%m%d-%H%M%S)"
echo "=== kiln train configs/tiny.yml"
"$kiln" train configs/tiny.yml --set train.name="$run"
echo
echo "=== kiln export-hf (the last checkpoint, as transformers' StableLmForCausalLM)"
"$kiln" export-hf "runs/$run/checkpoints/step-00000200" -o "runs/$run/hf"
ls -l "runs/$run/hf"

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
