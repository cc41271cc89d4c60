#!/usr/bin/env python3
"""The PyTorch side of the one-GPU side-by-side (issue 8): Hugging Face StableLmForCausalLM with the
shape of kiln's configs/stablelm-2-1_6b.yml, trained on random tokens, timed, with MFU.

What it trains, and how it matches `kiln train configs/stablelm-2-1_6b.yml` (bench/side_by_side/run.sh):
  model      transformers StableLmForCausalLM: 24 layers, d 2048, 32 heads of 64, SwiGLU 5632,
             vocab 100,352 (Arcade100k padded), partial rotary 0.25 (theta 10,000), Q/K/V biases,
             LayerNorm eps 1e-5, sequential residual, untied LM head; attn_implementation="sdpa"
             (causal, no mask: FlashAttention-2 through SDPA). HF's per-layer LayerNorms carry a
             bias that kiln's (and the released model's) don't: 98,304 parameters more.
  precision  fp32 weights (= fp32 master weights), bf16 autocast for the forward and backward,
             fp32 gradients and Adam moments, fp32 cross-entropy over the full vocabulary.
  optimizer  torch.optim.AdamW(fused=True on CUDA), lr 1e-3, betas (0.9, 0.95), eps 1e-8,
             weight decay 0.1 on matrices and embeddings (none on biases and norms, as kiln),
             global grad-norm clip 1.0 (as the kiln config; --grad-clip 0 disables). Constant lr.
  step       one micro batch per optimizer step (kiln: batch.grad_accum=1), random tokens, the
             loss over all T targets; the loss is read back (a host sync) every step, as kiln does.
  timing     --warmup-steps untimed steps (torch.compile's compilation happens there), then
             --steps timed steps, each with a CUDA synchronise at its end; tokens/s = tokens of
             the timed steps / their wall time.
  MFU        SPEC.md §5: FLOPs/token = 6N + 12·L·d·T (PaLM) or 6N + 6·L·d·T (causal-halved),
             N = non-embedding parameters + the LM-head matrix, counted for kiln's model (the
             same number `kiln plan` prints, so both sides divide by the same work);
             MFU = tokens/s × FLOPs/token / (--peak-tflops × 1e12).

CPU smoke test (no GPU needed):  python pytorch_train.py --tiny --steps 3 --warmup-steps 1 --no-compile
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--micro-batch", type=int, default=2, help="sequences per step (kiln: batch.micro_batch)")
    p.add_argument("--seq", type=int, default=4096, help="tokens per sequence")
    p.add_argument("--steps", type=int, default=40, help="timed optimizer steps")
    p.add_argument("--warmup-steps", type=int, default=10, help="untimed steps first (compilation, allocator warm-up)")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="peak dense bf16 TFLOP/s of the device (H100 SXM: 989; H200: 989; A100: 312)")
    p.add_argument("--no-compile", action="store_true", help="run eagerly (no torch.compile)")
    p.add_argument("--compile-mode", default=None,
                   help="torch.compile mode (default: torch's default; e.g. max-autotune-no-cudagraphs)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0, help="global grad-norm clip; 0 disables")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out", default=None,
                   help="JSON result file (default: $OUT/pytorch.json when OUT is set, else ./pytorch.json)")
    shape = p.add_argument_group("model shape (default: Stable LM 2 1.6B)")
    shape.add_argument("--tiny", action="store_true",
                       help="a tiny model for CPU smoke tests: 2 layers, d 64, 4 heads, ffn 192, vocab 512, seq 64")
    shape.add_argument("--layers", type=int, default=None)
    shape.add_argument("--hidden", type=int, default=None)
    shape.add_argument("--heads", type=int, default=None)
    shape.add_argument("--ffn", type=int, default=None)
    shape.add_argument("--vocab", type=int, default=None, help="padded vocabulary (embedding rows)")
    shape.add_argument("--rotary-pct", type=float, default=0.25)
    a = p.parse_args(argv)
    base = dict(layers=24, hidden=2048, heads=32, ffn=5632, vocab=100352)
    if a.tiny:
        base = dict(layers=2, hidden=64, heads=4, ffn=192, vocab=512)
        if a.seq == 4096:
            a.seq = 64
    for k, v in base.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.hidden % a.heads:
        p.error(f"--heads {a.heads} must divide --hidden {a.hidden}")
    return a


def flops_per_token(L, d, f, V, T, causal_halved):
    """SPEC.md §5 with N counted as kiln counts it for this architecture (docs: kiln plan):
    per layer 4d² (Q,K,V,out) + 3d (Q/K/V biases) + 3·d·f (SwiGLU) + 2d (bias-free LayerNorm
    weights), plus the final LayerNorm (weight and bias, 2d) and the LM-head matrix V·d."""
    n = L * (4 * d * d + 3 * d + 3 * d * f + 2 * d) + 2 * d + V * d
    attn = (6 if causal_halved else 12) * L * d * T
    return n, 6 * n + attn


def build_model(a, device):
    from transformers import AutoModelForCausalLM, StableLmConfig
    cfg = StableLmConfig(
        vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=a.ffn,
        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
        hidden_act="silu", max_position_embeddings=a.seq, initializer_range=0.02,
        layer_norm_eps=1e-5, use_cache=False, tie_word_embeddings=False,
        rope_theta=10000.0, partial_rotary_factor=a.rotary_pct,  # transformers 5 folds these into rope_parameters
        use_qkv_bias=True, qk_layernorm=False, use_parallel_residual=False,
        hidden_dropout=0.0, attention_dropout=0.0)
    # fp32 weights: these are the master weights; autocast makes the bf16 copies per op.
    # Built directly on the device (its initialisation runs there, not on the host's cores).
    with torch.device(device):
        try:
            model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa", dtype=torch.float32)
        except TypeError:  # transformers 4 spells it torch_dtype
            model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa", torch_dtype=torch.float32)
    impl = getattr(model.config, "_attn_implementation", None)
    if impl != "sdpa":
        raise SystemExit(f"pytorch_train: attention implementation is {impl!r}, not 'sdpa'")
    return model.to(device).train(), cfg


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)  # biases and norms: no decay (kiln does the same)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def main(argv=None):
    a = parse_args(argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    torch.manual_seed(a.seed)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True  # only fp32 matmuls outside autocast, if any
        torch.backends.cudnn.allow_tf32 = True
        torch.cuda.reset_peak_memory_stats(device)

    import transformers
    model, cfg = build_model(a, device)
    n_params = sum(p.numel() for p in model.parameters())
    n_embed = model.get_input_embeddings().weight.numel()
    n_kiln, fpt_palm = flops_per_token(a.layers, a.hidden, a.ffn, a.vocab, a.seq, False)
    _, fpt_causal = flops_per_token(a.layers, a.hidden, a.ffn, a.vocab, a.seq, True)

    fused = cuda  # fused AdamW on CUDA; the CPU smoke test uses the default (foreach) implementation
    opt = torch.optim.AdamW(param_groups(model, a.weight_decay), lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
                            fused=fused if fused else None)
    params = [p for p in model.parameters()]

    def loss_fn(x, y):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            logits = model(input_ids=x, use_cache=False).logits
        # fp32 cross-entropy over every target (kiln: fp32 cross-entropy, all T targets)
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))

    compiled = not a.no_compile
    fwd_loss = torch.compile(loss_fn, mode=a.compile_mode) if compiled else loss_fn

    # Random tokens, made once on the device and cycled (no input pipeline in either system's timing
    # to speak of: kiln's prefetch thread keeps two steps ahead).
    g = torch.Generator(device="cpu").manual_seed(a.seed)
    batches = [torch.randint(0, a.vocab, (a.micro_batch, a.seq + 1), generator=g).to(device) for _ in range(4)]

    def step(i):
        tok = batches[i % len(batches)]
        x, y = tok[:, :-1], tok[:, 1:]
        loss = fwd_loss(x, y)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, a.grad_clip) if a.grad_clip > 0 else None
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item(), (gnorm.item() if gnorm is not None else None)  # the host sync, as kiln's loss readout

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    print(f"pytorch_train: device {device}, {n_params:,} parameters (HF), N for MFU {n_kiln:,}, "
          f"micro batch {a.micro_batch} × seq {a.seq}, compile {'on' if compiled else 'off'}", flush=True)
    t_start = time.perf_counter()
    losses = []
    for i in range(a.warmup_steps):
        t0 = time.perf_counter()
        loss, _ = step(i)
        losses.append(loss)
        print(f"warm-up step {i + 1}/{a.warmup_steps}  loss {loss:.4f}  {time.perf_counter() - t0:.3f} s", flush=True)
    warmup_s = time.perf_counter() - t_start
    sync()
    times = []
    t_timed = time.perf_counter()
    for i in range(a.steps):
        t0 = time.perf_counter()
        loss, gnorm = step(a.warmup_steps + i)
        sync()
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        if i == 0 or (i + 1) % 10 == 0 or i + 1 == a.steps:
            print(f"step {i + 1}/{a.steps}  loss {loss:.4f}  grad norm {gnorm if gnorm is None else round(gnorm, 3)}"
                  f"  {times[-1]:.4f} s  {a.micro_batch * a.seq / times[-1]:.0f} tokens/s", flush=True)
    timed_s = time.perf_counter() - t_timed
    tokens = a.steps * a.micro_batch * a.seq
    tps = tokens / timed_s if a.steps else float("nan")
    peak = a.peak_tflops * 1e12

    mem = {}
    if cuda:
        free, total = torch.cuda.mem_get_info(device)
        mem = {"max_memory_allocated_bytes": torch.cuda.max_memory_allocated(device),
               "max_memory_reserved_bytes": torch.cuda.max_memory_reserved(device),
               "device_memory_in_use_bytes_at_end": total - free,  # total − free, as kiln's device_memory_bytes
               "device_memory_total_bytes": total}
    dev_name = torch.cuda.get_device_name(device) if cuda else (platform.processor() or platform.machine())
    result = {
        "system": "pytorch",
        "model": "transformers StableLmForCausalLM, attn_implementation=sdpa",
        "precision": "bf16 autocast over fp32 weights (fp32 master weights, fp32 grads, fp32 Adam moments), "
                     "fp32 cross-entropy",
        "optimizer": f"AdamW fused={bool(fused)} lr {a.lr} betas (0.9, 0.95) eps 1e-8 wd {a.weight_decay} "
                     f"(matrices and embeddings), grad clip {a.grad_clip}",
        "compile": compiled, "compile_mode": a.compile_mode,
        "shape": {"layers": a.layers, "hidden": a.hidden, "heads": a.heads, "ffn": a.ffn, "vocab": a.vocab,
                  "seq": a.seq, "micro_batch": a.micro_batch, "rotary_pct": a.rotary_pct},
        "parameters_hf": n_params, "embedding_parameters": n_embed,
        "n_for_mfu": n_kiln,
        "flops_per_token_palm": fpt_palm, "flops_per_token_causal_halved": fpt_causal,
        "warmup_steps": a.warmup_steps, "warmup_s": warmup_s,
        "steps": a.steps, "tokens_timed": tokens, "timed_s": timed_s,
        "tokens_per_s": tps,
        "step_time_s_mean": timed_s / a.steps if a.steps else None,
        "step_time_s_median": statistics.median(times) if times else None,
        "step_time_s_min": min(times) if times else None,
        "step_time_s_max": max(times) if times else None,
        "peak_tflops": a.peak_tflops,
        "mfu_palm": tps * fpt_palm / peak,
        "mfu_causal_halved": tps * fpt_causal / peak,
        "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
        "device": str(device), "device_name": dev_name,
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "cuda_version": torch.version.cuda, "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "python_version": platform.python_version(),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        **mem,
    }
    if losses and not math.isfinite(losses[-1]):
        print("pytorch_train: warning: the loss is not finite", file=sys.stderr)

    gib = 1024 ** 3
    print(f"\n== PyTorch ({dev_name}, torch {torch.__version__}, transformers {transformers.__version__}) ==")
    print(f"precision: {result['precision']}")
    print(f"timed: {a.steps} steps after {a.warmup_steps} warm-up steps ({warmup_s:.1f} s)")
    print(f"tokens/s: {tps:,.0f}   step time: mean {result['step_time_s_mean']:.4f} s, "
          f"median {result['step_time_s_median']:.4f} s")
    print(f"MFU (peak {a.peak_tflops:g} TFLOP/s): PaLM {100 * result['mfu_palm']:.2f}%  "
          f"causal-halved {100 * result['mfu_causal_halved']:.2f}%")
    if mem:
        print(f"memory: max allocated {mem['max_memory_allocated_bytes'] / gib:.2f} GiB, "
              f"max reserved {mem['max_memory_reserved_bytes'] / gib:.2f} GiB, "
              f"in use at end {mem['device_memory_in_use_bytes_at_end'] / gib:.2f} GiB")

    out = a.out or os.path.join(os.environ.get("OUT") or ".", "pytorch.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
