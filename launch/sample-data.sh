#!/usr/bin/env bash
# The sample corpus of configs/tiny.yml, made once in data/sample/ and verified on every call:
# kiln-data writes a deterministic ~3 MB JSONL corpus (no download), trains a 512-token byte-level
# BPE tokenizer on it and tokenizes it into a GPT-NeoX mmap indexed dataset
# (corpus_text_document.bin/.idx). Delete data/sample/ to remake it. Needs a built kiln-data
# (launch/setup.sh); KILN_BUILD_DIR picks the build folder (default build/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
kiln_data="${KILN_BUILD_DIR:-build}/kiln-data"
data=data/sample
if [ ! -f "$data/corpus_text_document.idx" ]; then
  mkdir -p "$data"
  echo "=== kiln-data: sample corpus → tokenizer → shards in $data/"
  "$kiln_data" sample-corpus --output "$data/corpus.jsonl" --size-mb 3 --seed 1
  "$kiln_data" train-tokenizer "$data/corpus.jsonl" --vocab-size 512 --output "$data/tokenizer.json"
  "$kiln_data" tokenize "$data/corpus.jsonl" --tokenizer "$data/tokenizer.json" --output "$data/corpus_text_document"
fi
"$kiln_data" verify "$data/corpus_text_document" --tokenizer "$data/tokenizer.json"
