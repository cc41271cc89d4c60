#!/usr/bin/env python3
"""Loads a model directory kiln exported with transformers and prints its fp32 logits.

usage: hf_logits.py MODEL_DIR TOKENS_JSON OUT_JSON
TOKENS_JSON: {"batch": B, "seq": T, "tokens": [B*T ints]}; OUT_JSON gets {"logits": [...]},
[B*T, vocab] row-major. Used by tests/hf/hf_parity_test.cpp when transformers is installed.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    model_dir, tokens_path, out_path = sys.argv[1:4]
    with open(tokens_path) as f:
        spec = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    tokens = torch.tensor(spec["tokens"], dtype=torch.long).reshape(spec["batch"], spec["seq"])
    with torch.no_grad():
        logits = model(input_ids=tokens).logits.float()
    with open(out_path, "w") as f:
        json.dump({"architecture": type(model).__name__, "logits": logits.flatten().tolist()}, f)


if __name__ == "__main__":
    main()
