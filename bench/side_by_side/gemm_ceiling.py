#!/usr/bin/env python3
"""The two ceilings of one-GPU training speed, measured once with PyTorch (issue 8):

1. bf16 GEMM TFLOP/s at the Stable LM 2 1.6B model's GEMM shapes, M = micro_batch·seq tokens:
   Q/K/V 2048→6144, attention-out 2048→2048, gate+up 2048→2·5632, down 5632→2048, LM head
   2048→100352 — each as the forward (Y = X·Wᵀ, M×N×K), the input gradient (dX = dY·W, M×K×N)
   and the weight gradient (dW = dYᵀ·X, N×K×M) — plus a large square one (8192³ by default).
   From those, the GEMM-only step time of one training step (forward + both gradients of every
   linear layer, the LM head included) and the MFU it would allow if nothing else took time.
2. Device-to-device copy bandwidth (GB/s): dst.copy_(src) of a large buffer. Reported as bytes
   moved (read + write, 2 × size) per second, the figure an elementwise kernel is bound by, and as
   size per second.
3. (extra, --no-attention to skip) causal SDPA attention forward + backward at [micro_batch, 32
   heads, seq, 64] bf16, in TFLOP/s of the causal-halved count (the work actually done).

Timing: --warmup untimed calls, then --iters calls between two CUDA events, repeated --repeats
times; the best repeat is reported (the ceiling), the median beside it. On the CPU (--cpu, for a
smoke test with --tiny) time.perf_counter replaces the events.

    python bench/side_by_side/gemm_ceiling.py                  # on the GPU; JSON to $OUT/gemm_ceiling.json
    python bench/side_by_side/gemm_ceiling.py --cpu --tiny     # smoke test anywhere
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--micro-batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--ffn", type=int, default=5632)
    p.add_argument("--vocab", type=int, default=100352)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--square", type=int, default=8192, help="size of the square GEMM")
    p.add_argument("--copy-mib", type=int, default=2048, help="size of the copied buffer in MiB")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="for the percentages (H100 SXM dense bf16: 989)")
    p.add_argument("--no-attention", action="store_true")
    p.add_argument("--cpu", action="store_true", help="run on the CPU (smoke test)")
    p.add_argument("--tiny", action="store_true",
                   help="tiny sizes for a CPU smoke test (d 64, ffn 192, vocab 512, seq 64, square 256, copy 16 MiB)")
    p.add_argument("--out", default=None, help="JSON file (default: $OUT/gemm_ceiling.json when OUT is set, else ./)")
    a = p.parse_args(argv)
    if a.tiny:
        a.hidden, a.ffn, a.vocab, a.seq, a.layers, a.heads = 64, 192, 512, 64, 2, 4
        a.square, a.copy_mib, a.warmup, a.iters, a.repeats = 256, 16, 1, 3, 2
    return a


class Timer:
    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def time(self, fn, warmup, iters, repeats):
        """Seconds per call: (best, median) over repeats of iters back-to-back calls."""
        for _ in range(warmup):
            fn()
        per_call = []
        for _ in range(repeats):
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize()
                start.record()
                for _ in range(iters):
                    fn()
                end.record()
                end.synchronize()
                per_call.append(start.elapsed_time(end) / 1e3 / iters)
            else:
                t0 = time.perf_counter()
                for _ in range(iters):
                    fn()
                per_call.append((time.perf_counter() - t0) / iters)
        return min(per_call), statistics.median(per_call)


def main(argv=None):
    a = parse_args(argv)
    if not a.cpu and not torch.cuda.is_available():
        raise SystemExit("gemm_ceiling: no CUDA device; use --cpu (with --tiny) for a smoke test")
    device = torch.device("cpu" if a.cpu else "cuda")
    dt = torch.bfloat16
    timer = Timer(device)
    M, d, f, V = a.micro_batch * a.seq, a.hidden, a.ffn, a.vocab
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    rows, layers_time = [], 0.0

    # (label, K = input features, N = output features, how many per training step)
    linears = [("qkv", d, 3 * d, a.layers), ("attn out", d, d, a.layers), ("gate+up", d, 2 * f, a.layers),
               ("down", f, d, a.layers), ("lm head", d, V, 1)]
    print(f"device: {name}; torch {torch.__version__}; tokens per GEMM M = {a.micro_batch}·{a.seq} = {M}")
    print(f"{'GEMM':<22}{'M×N×K':>24}{'best TFLOP/s':>14}{'median':>10}{'% of peak':>11}")
    step_flops = 0.0
    for label, K, N, count in linears:
        x = torch.randn(M, K, device=device, dtype=dt)
        w = torch.randn(N, K, device=device, dtype=dt) * 0.02
        dy = torch.randn(M, N, device=device, dtype=dt)
        cases = [("fwd", (M, N, K), lambda: F.linear(x, w)),          # Y = X·Wᵀ
                 ("dgrad", (M, K, N), lambda: torch.mm(dy, w)),       # dX = dY·W
                 ("wgrad", (N, K, M), lambda: torch.mm(dy.t(), x))]   # dW = dYᵀ·X
        for kind, (m, n, k), fn in cases:
            best, med = timer.time(fn, a.warmup, a.iters, a.repeats)
            flops = 2.0 * m * n * k
            r = {"gemm": f"{label} {kind}", "m": m, "n": n, "k": k, "count_per_step": count,
                 "best_s": best, "median_s": med, "tflops_best": flops / best / 1e12,
                 "tflops_median": flops / med / 1e12}
            rows.append(r)
            layers_time += count * flops / (r["tflops_best"] * 1e12)
            step_flops += count * flops
            print(f"{r['gemm']:<22}{f'{m}×{n}×{k}':>24}{r['tflops_best']:>14.1f}{r['tflops_median']:>10.1f}"
                  f"{100 * r['tflops_best'] / a.peak_tflops:>10.1f}%")
        del x, w, dy

    S = a.square
    xa = torch.randn(S, S, device=device, dtype=dt)
    xb = torch.randn(S, S, device=device, dtype=dt)
    best, med = timer.time(lambda: torch.mm(xa, xb), a.warmup, a.iters, a.repeats)
    square = {"gemm": f"square {S}³", "m": S, "n": S, "k": S, "best_s": best, "median_s": med,
              "tflops_best": 2.0 * S ** 3 / best / 1e12, "tflops_median": 2.0 * S ** 3 / med / 1e12}
    print(f"{square['gemm']:<22}{f'{S}×{S}×{S}':>24}{square['tflops_best']:>14.1f}{square['tflops_median']:>10.1f}"
          f"{100 * square['tflops_best'] / a.peak_tflops:>10.1f}%")
    del xa, xb

    # What the GEMMs alone allow: one step's linear-layer work at the measured best speeds. The
    # model's FLOPs per token (PaLM) also count attention's 12·L·d·T, which these GEMMs don't do.
    tokens = M
    n_kiln = a.layers * (4 * d * d + 3 * d + 3 * d * f + 2 * d) + 2 * d + V * d
    fpt_palm = 6 * n_kiln + 12 * a.layers * d * a.seq
    gemm_only = {"linear_flops_per_step": step_flops, "linear_seconds_per_step": layers_time,
                 "linear_tflops": step_flops / layers_time / 1e12,
                 "tokens_per_s_if_only_linears": tokens / layers_time,
                 "mfu_palm_if_only_linears": tokens / layers_time * fpt_palm / (a.peak_tflops * 1e12)}
    print(f"linear layers of one step: {step_flops / 1e12:.2f} TFLOP in {layers_time * 1e3:.1f} ms at the best speeds "
          f"({gemm_only['linear_tflops']:.1f} TFLOP/s); if nothing else took time: "
          f"{gemm_only['tokens_per_s_if_only_linears']:,.0f} tokens/s, "
          f"MFU (PaLM) {100 * gemm_only['mfu_palm_if_only_linears']:.1f}%")

    attention = None
    if not a.no_attention:
        hd = d // a.heads
        q, k, v = (torch.randn(a.micro_batch, a.heads, a.seq, hd, device=device, dtype=dt, requires_grad=True)
                   for _ in range(3))
        do = torch.randn(a.micro_batch, a.heads, a.seq, hd, device=device, dtype=dt)

        def fwd():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

        def fwd_bwd():
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            torch.autograd.grad(out, (q, k, v), do)

        # Causal-halved work: forward 2 GEMMs of B·H·T²/2·hd each ×2 FLOPs; backward 2.5× that
        # (5 GEMMs, FlashAttention-2's count) — kiln's 6·L·d·T per token is fwd + 2×fwd.
        fwd_flops = 2 * 2 * a.micro_batch * a.heads * a.seq * a.seq / 2 * hd
        bf, mf = timer.time(fwd, a.warmup, a.iters, a.repeats)
        bfb, mfb = timer.time(fwd_bwd, a.warmup, a.iters, a.repeats)
        attention = {"shape": [a.micro_batch, a.heads, a.seq, hd], "fwd_best_s": bf, "fwd_median_s": mf,
                     "fwd_tflops_best": fwd_flops / bf / 1e12,
                     "fwd_bwd_best_s": bfb, "fwd_bwd_median_s": mfb,
                     "fwd_bwd_tflops_best": 3.5 * fwd_flops / bfb / 1e12,
                     "per_step_s_all_layers": a.layers * bfb}
        print(f"SDPA causal attention {a.micro_batch}×{a.heads}×{a.seq}×{hd}: forward {attention['fwd_tflops_best']:.1f} "
              f"TFLOP/s, forward+backward {attention['fwd_bwd_tflops_best']:.1f} TFLOP/s (causal-halved count, "
              f"backward = 2.5 × forward); {a.layers} layers: {a.layers * bfb * 1e3:.1f} ms per step")
        del q, k, v, do

    n_bytes = a.copy_mib * 1024 * 1024
    src = torch.empty(n_bytes, device=device, dtype=torch.uint8).fill_(1)
    dst = torch.empty_like(src)
    best, med = timer.time(lambda: dst.copy_(src), a.warmup, a.iters, a.repeats)
    copy = {"bytes": n_bytes, "best_s": best, "median_s": med,
            "gbps_read_plus_write_best": 2 * n_bytes / best / 1e9,
            "gbps_read_plus_write_median": 2 * n_bytes / med / 1e9,
            "gbps_size_best": n_bytes / best / 1e9}
    print(f"device-to-device copy of {a.copy_mib} MiB: {copy['gbps_read_plus_write_best']:.0f} GB/s read+write "
          f"(best; median {copy['gbps_read_plus_write_median']:.0f}), {copy['gbps_size_best']:.0f} GB/s of buffer size")
    del src, dst

    result = {"device_name": name, "torch_version": torch.__version__, "cuda_version": torch.version.cuda,
              "peak_tflops": a.peak_tflops, "tokens_per_gemm": M, "micro_batch": a.micro_batch, "seq": a.seq,
              "timing": f"{a.warmup} warm-up calls, {a.repeats} repeats of {a.iters} calls; best and median repeat",
              "gemms": rows, "square": square, "linear_layers_per_step": gemm_only, "attention": attention,
              "copy": copy, "command": " ".join([os.path.basename(sys.executable), *sys.argv])}
    out = a.out or os.path.join(os.environ.get("OUT") or ".", "gemm_ceiling.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
