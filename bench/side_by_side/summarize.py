#!/usr/bin/env python3
"""Summarise a side-by-side run (bench/side_by_side/run.sh): kiln's metrics.jsonl and
pytorch_train.py's JSON into one Markdown table (and a JSON twin).

kiln: the training records of metrics.jsonl with step > --kiln-warmup-steps. Each record's
tokens_per_s covers the steps since the previous record (logging.interval of them), so a window
lasts (tokens − previous tokens) / tokens_per_s seconds; tokens/s = Σ tokens / Σ seconds over the
kept windows (the time spent writing the records themselves is outside every window, as in kiln).
MFU is recomputed from that with the FLOPs per token of pytorch.json (the same 6N + 12·L·d·T /
6N + 6·L·d·T that `kiln plan` prints) and checked against kiln's own `mfu` metric when present.
Memory: the largest device_memory_bytes of the records (cudaMemGetInfo total − free, at the
records) and, where run.sh logged it, the peak of nvidia-smi's memory.used during the run.

    python summarize.py --kiln-metrics RUN/metrics.jsonl --pytorch-json pytorch.json [--kiln-warmup-steps 10]
"""
import argparse
import json
import math
import os
import sys

GIB = 1024 ** 3


def read_jsonl(path):
    out = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"summarize: {path}:{n}: skipped, not JSON ({e})", file=sys.stderr)
    return out


def kiln_summary(path, warmup_steps, launch_time_path=None):
    recs = [r for r in read_jsonl(path) if "tokens_per_s" in r and "tokens" in r]
    if not recs:
        raise ValueError(f"{path}: no training records (with tokens and tokens_per_s)")
    kept_tokens = kept_seconds = kept_steps = 0.0
    mfu_weighted = mfu_causal_weighted = 0.0
    has_mfu = all(r.get("mfu") is not None for r in recs[1:])
    has_mfu_causal = all(r.get("mfu_causal") is not None for r in recs[1:])
    windows = []
    prev_step, prev_tokens = 0, 0
    for r in recs:
        steps, tokens = r["step"] - prev_step, r["tokens"] - prev_tokens
        tps = r["tokens_per_s"]
        if r["step"] > warmup_steps and steps > 0 and tps and tps > 0:
            seconds = tokens / tps
            windows.append({"steps": f"{prev_step + 1}-{r['step']}", "tokens_per_s": tps, "seconds": seconds})
            kept_tokens += tokens
            kept_seconds += seconds
            kept_steps += steps
            if has_mfu:
                mfu_weighted += r["mfu"] * seconds
            if has_mfu_causal:
                mfu_causal_weighted += r["mfu_causal"] * seconds
        prev_step, prev_tokens = r["step"], r["tokens"]
    if not kept_seconds:
        raise ValueError(f"{path}: no training record after step {warmup_steps} "
                         f"(last step logged: {recs[-1]['step']}); run more steps or lower the warm-up")
    # The same figure from the records' wall-clock stamps (includes writing the records).
    boundary = [r for r in recs if r["step"] <= warmup_steps]
    wall = None
    if boundary and boundary[-1]["step"] == warmup_steps:
        dt = recs[-1]["time"] - boundary[-1]["time"]
        if dt > 0:
            wall = (recs[-1]["tokens"] - boundary[-1]["tokens"]) / dt
    dev = [r["device_memory_bytes"] for r in recs if r.get("device_memory_bytes") is not None]
    return {
        "tokens_per_s": kept_tokens / kept_seconds,
        "tokens_per_s_wall_clock": wall,
        "step_time_s_mean": kept_seconds / kept_steps,
        "timed_steps": int(kept_steps),
        "first_timed_step": warmup_steps + 1,
        "last_step": recs[-1]["step"],
        "windows": windows,
        "kiln_reported_mfu": mfu_weighted / kept_seconds if has_mfu else None,
        "kiln_reported_mfu_causal": mfu_causal_weighted / kept_seconds if has_mfu_causal else None,
        "device_memory_bytes_max": max(dev) if dev else None,
        "peak_rss_bytes": max((r.get("peak_rss_bytes") or 0) for r in recs) or None,
        "loss_first": recs[0].get("loss"),
        "loss_last": recs[-1].get("loss"),
        "startup_s": startup_seconds(recs, launch_time_path),
    }


def startup_seconds(recs, launch_time_path):
    """Seconds from launching kiln to its first step starting: the first record's wall-clock stamp
    minus the launch time (run.sh's kiln_launch_time) minus the steps that record covers."""
    if not launch_time_path or not os.path.exists(launch_time_path) or not recs:
        return None
    with open(launch_time_path) as fh:
        launched = float(fh.read().strip())
    first = recs[0]
    if "time" not in first or not first.get("tokens_per_s"):
        return None
    return first["time"] - launched - first["tokens"] / first["tokens_per_s"]


def nvsmi_peak_bytes(path):
    """Peak of an `nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms N` log (MiB)."""
    if not path or not os.path.exists(path):
        return None
    vals = []
    with open(path) as fh:
        for line in fh:
            try:
                vals.append(float(line.strip().split(",")[0]))
            except ValueError:
                pass
    return max(vals) * 1024 * 1024 if vals else None


def fmt_gib(b):
    return "—" if b is None else f"{b / GIB:.1f} GiB"


def fmt_pct(x):
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kiln-metrics", required=True)
    p.add_argument("--pytorch-json", required=True)
    p.add_argument("--kiln-warmup-steps", type=int, default=10, help="records up to this step are warm-up")
    p.add_argument("--gemm-json", default=None, help="gemm_ceiling.py's JSON, for the ceilings under the table")
    p.add_argument("--nvsmi-kiln", default=None, help="nvidia-smi memory.used log during the kiln run")
    p.add_argument("--nvsmi-pytorch", default=None, help="nvidia-smi memory.used log during the PyTorch run")
    p.add_argument("--commands", default=None, help="a text file with the exact commands, copied into the report")
    p.add_argument("--plan-json", default=None, help="`kiln plan --json` of the trained config: the planned memory")
    p.add_argument("--kiln-launch-time", default=None, help="a file holding the Unix time kiln was launched at")
    p.add_argument("--peak-tflops", type=float, default=None, help="default: the PyTorch JSON's")
    p.add_argument("--target-mfu", type=float, default=0.55, help="issue 8's goal, MFU counting causal-halved attention FLOPs")
    p.add_argument("--out-md", default=None, help="default: $OUT/summary.md when OUT is set, else ./summary.md")
    p.add_argument("--out-json", default=None, help="default: beside --out-md, summary.json")
    a = p.parse_args(argv)

    problems = []
    pt = None
    if not os.path.exists(a.pytorch_json):
        print(f"summarize: no PyTorch result ({a.pytorch_json}): PyTorch was not run", file=sys.stderr)
    else:
        try:
            with open(a.pytorch_json) as fh:
                pt = json.load(fh)
        except (OSError, json.JSONDecodeError) as e:
            problems.append(f"PyTorch result unreadable ({a.pytorch_json}: {e}); did pytorch_train.py fail? see its log")
    kl = None
    try:
        kl = kiln_summary(a.kiln_metrics, a.kiln_warmup_steps, a.kiln_launch_time)
    except (OSError, ValueError, KeyError) as e:
        problems.append(f"kiln result unreadable ({e}); see kiln's log")
    if kl and a.plan_json and os.path.exists(a.plan_json):
        try:
            with open(a.plan_json) as fh:
                kl["plan_memory_bytes"] = json.load(fh)["per_rank"]["memory_bytes"]["total"]
        except (OSError, json.JSONDecodeError, KeyError) as e:
            problems.append(f"kiln plan's JSON unreadable ({a.plan_json}: {e})")

    peak_tflops = a.peak_tflops or (pt or {}).get("peak_tflops") or 989.0
    peak = peak_tflops * 1e12
    # kiln's mfu metric is tokens_per_s × its FLOPs per token / KILN_PEAK_FLOPS, and the averages
    # above are time-weighted, so the FLOPs per token kiln used come back exactly (run.sh sets
    # KILN_PEAK_FLOPS from the same PEAK_TFLOPS).
    kiln_fpt = None
    if kl and kl["kiln_reported_mfu"] is not None:
        kiln_fpt = (kl["kiln_reported_mfu"] * peak / kl["tokens_per_s"],
                    kl["kiln_reported_mfu_causal"] * peak / kl["tokens_per_s"]
                    if kl["kiln_reported_mfu_causal"] is not None else None)
    if pt:
        fpt_palm, fpt_causal = pt["flops_per_token_palm"], pt["flops_per_token_causal_halved"]
        if kiln_fpt and abs(kiln_fpt[0] / fpt_palm - 1) > 1e-3:
            problems.append(f"kiln's mfu implies {kiln_fpt[0]:,.0f} FLOPs per token (PaLM) but the PyTorch model has "
                            f"{fpt_palm:,}: the two sides do not train the same shape, or KILN_PEAK_FLOPS was not "
                            f"{peak_tflops:g}e12")
    elif kiln_fpt and kiln_fpt[1] is not None:
        fpt_palm, fpt_causal = round(kiln_fpt[0]), round(kiln_fpt[1])
    else:  # Stable LM 2 1.6B at seq 4096, as `kiln plan` prints
        fpt_palm, fpt_causal = 11_049_295_872, 9_841_336_320

    rows = []
    if kl:
        kl["mfu_palm"] = kl["tokens_per_s"] * fpt_palm / peak
        kl["mfu_causal_halved"] = kl["tokens_per_s"] * fpt_causal / peak
        kl["nvidia_smi_peak_bytes"] = nvsmi_peak_bytes(a.nvsmi_kiln)
        rows.append(("kiln", kl["tokens_per_s"], kl["step_time_s_mean"], kl["mfu_palm"], kl["mfu_causal_halved"],
                     (f"{fmt_gib(kl['device_memory_bytes_max'])} in use" if kl["device_memory_bytes_max"] else "—"), kl["nvidia_smi_peak_bytes"]))
    if pt:
        pt["nvidia_smi_peak_bytes"] = nvsmi_peak_bytes(a.nvsmi_pytorch)
        mem = (f"{fmt_gib(pt['max_memory_reserved_bytes'])} reserved "
               f"({fmt_gib(pt['max_memory_allocated_bytes'])} allocated)"
               if pt.get("max_memory_reserved_bytes") is not None else "—")
        label = "PyTorch " + ("+ torch.compile" if pt.get("compile") else "eager")
        rows.append((label, pt["tokens_per_s"], pt["step_time_s_mean"], pt["mfu_palm"], pt["mfu_causal_halved"],
                     mem, pt["nvidia_smi_peak_bytes"]))
    ratio = kl["tokens_per_s"] / pt["tokens_per_s"] if kl and pt and pt["tokens_per_s"] else None

    device = (pt or {}).get("device_name", "unknown device")
    lines = [f"# One GPU: kiln vs PyTorch, Stable LM 2 1.6B shape", "",
             f"Device: **{device}**; peak used for MFU: {peak_tflops:g} TFLOP/s (dense bf16). "
             f"FLOPs per token: {fpt_palm:,} (PaLM, 6N + 12·L·d·T), {fpt_causal:,} (causal-halved, 6N + 6·L·d·T).",
             ""]
    if pt:
        sh = pt["shape"]
        lines.append(f"Micro batch {sh['micro_batch']} × {sh['seq']} tokens per step, one micro batch per "
                     f"optimizer step, random/synthetic tokens.")
        lines.append("")
    has_smi = any(r[6] is not None for r in rows)
    head = "| system | tokens/s | step time | MFU (PaLM) | MFU (causal-halved) | memory | "
    head += "peak memory.used (nvidia-smi) | " if has_smi else ""
    head += "kiln ÷ PyTorch |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for name, tps, st, m1, m2, mem, smi in rows:
        r = ratio if name == "kiln" else (1.0 if ratio is not None else None)
        line = f"| {name} | {tps:,.0f} | {st * 1e3:.1f} ms | {fmt_pct(m1)} | {fmt_pct(m2)} | {mem} | "
        line += f"{fmt_gib(smi)} | " if has_smi else ""
        line += ("—" if r is None else f"{r:.2f}×") + " |"
        lines.append(line)
    lines.append("")
    if kl:
        lines.append(f"kiln: steps {kl['first_timed_step']}–{kl['last_step']} timed ({kl['timed_steps']} steps, "
                     f"{len(kl['windows'])} logging windows; records up to step {a.kiln_warmup_steps} are warm-up). "
                     + (f"kiln's own mfu metric over the same windows: {fmt_pct(kl['kiln_reported_mfu'])} "
                        f"(PaLM), {fmt_pct(kl['kiln_reported_mfu_causal'])} (causal). "
                        if kl["kiln_reported_mfu"] is not None else "kiln logged no mfu (KILN_PEAK_FLOPS unset). ")
                     + (f"From the records' clocks (record writing included): {kl['tokens_per_s_wall_clock']:,.0f} "
                        "tokens/s. " if kl["tokens_per_s_wall_clock"] else "")
                     + "Memory: cudaMemGetInfo total − free at the log records (bf16 params and grads, fp32 "
                       "masters and Adam moments, activations, CUDA context).")
        lines.append("")
        extras = []
        if kl.get("plan_memory_bytes"):
            extras.append(f"`kiln plan` expects {fmt_gib(kl['plan_memory_bytes'])} per GPU for this config")
        if kl.get("startup_s") is not None:
            extras.append(f"start-up (launch to the first step) {kl['startup_s']:.1f} s")
        if extras:
            lines += ["kiln: " + "; ".join(extras) + ".", ""]
        mfu = kl["mfu_causal_halved"]
        lines.append(f"Issue 8's goal, {100 * a.target_mfu:.0f}% MFU (causal-halved attention FLOPs): "
                     f"{'met' if mfu >= a.target_mfu else 'not met'} ({fmt_pct(mfu)}). "
                     + ("" if ratio is None else f"kiln vs PyTorch: {ratio:.2f}× the tokens/s "
                        f"({'faster' if ratio > 1 else 'not faster'})."))
        lines.append("")
    if pt:
        lines.append(f"PyTorch: {pt['warmup_steps']} warm-up steps untimed (compilation included), {pt['steps']} "
                     f"timed (median step {pt['step_time_s_median'] * 1e3:.1f} ms); {pt['precision']}; "
                     f"{pt['optimizer']}; torch {pt['torch_version']}, transformers {pt['transformers_version']}, "
                     f"CUDA {pt.get('cuda_version')}. Memory: torch.cuda.max_memory_reserved "
                     f"(max_memory_allocated).")
        lines.append("")
    g = None
    if a.gemm_json and os.path.exists(a.gemm_json):
        with open(a.gemm_json) as fh:
            g = json.load(fh)
        lin = g["linear_layers_per_step"]
        lines += ["Ceilings (gemm_ceiling.py, same device):", "",
                  "| measurement | best | median |", "|---|---|---|"]
        for r in g["gemms"]:
            lines.append(f"| {r['gemm']} GEMM {r['m']}×{r['n']}×{r['k']} | {r['tflops_best']:.1f} TFLOP/s | "
                         f"{r['tflops_median']:.1f} TFLOP/s |")
        sq = g["square"]
        lines.append(f"| {sq['gemm']} GEMM | {sq['tflops_best']:.1f} TFLOP/s | {sq['tflops_median']:.1f} TFLOP/s |")
        if g.get("attention"):
            at = g["attention"]
            lines.append(f"| SDPA causal attention fwd+bwd {'×'.join(map(str, at['shape']))} | "
                         f"{at['fwd_bwd_tflops_best']:.1f} TFLOP/s | — |")
        c = g["copy"]
        lines.append(f"| device-to-device copy {c['bytes'] // 2**20} MiB (read + write) | "
                     f"{c['gbps_read_plus_write_best']:.0f} GB/s | {c['gbps_read_plus_write_median']:.0f} GB/s |")
        lines += ["", f"All linear layers of one step at the best GEMM speeds: {lin['linear_seconds_per_step'] * 1e3:.1f} ms "
                  f"({lin['tokens_per_s_if_only_linears']:,.0f} tokens/s, MFU (PaLM) "
                  f"{fmt_pct(lin['mfu_palm_if_only_linears'])} if nothing else took time).", ""]
    if problems:
        lines += ["Problems:", ""] + [f"- {x}" for x in problems] + [""]
    if a.commands and os.path.exists(a.commands):
        with open(a.commands) as fh:
            lines += ["Commands:", "", "```", fh.read().rstrip(), "```", ""]
    md = "\n".join(lines)
    print(md)

    out_md = a.out_md or os.path.join(os.environ.get("OUT") or ".", "summary.md")
    out_json = a.out_json or os.path.join(os.path.dirname(os.path.abspath(out_md)), "summary.json")
    os.makedirs(os.path.dirname(os.path.abspath(out_md)), exist_ok=True)
    with open(out_md, "w") as fh:
        fh.write(md + "\n")
    with open(out_json, "w") as fh:
        json.dump({"device_name": device, "peak_tflops": peak_tflops, "flops_per_token_palm": fpt_palm,
                   "flops_per_token_causal_halved": fpt_causal, "kiln": kl, "pytorch": pt,
                   "kiln_over_pytorch_tokens_per_s": ratio, "gemm_ceiling": g, "problems": problems}, fh, indent=2)
    print(f"wrote {out_md} and {out_json}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
