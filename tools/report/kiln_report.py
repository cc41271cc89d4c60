#!/usr/bin/env python3
"""kiln report: plots and numbers comparing kiln training runs.

    python3 tools/report/kiln_report.py RUN_DIR... -o OUT_DIR [--target-loss X] [--format md|html]
                                        [--smooth N]

Writes OUT_DIR/report.md (or report.html), OUT_DIR/report.json and PNG figures. Every run
directory is checked (config.yml and metrics.jsonl present and readable) before anything is
drawn; a problem with the input prints "kiln report: ..." and exits with code 2.
See docs/report.md for what each number means.
"""
from __future__ import annotations

import argparse
import html
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from report_analysis import ReportError, analyse, load_runs  # noqa: E402

EXIT_BAD_INPUT = 2


def _fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        if v.is_integer() and abs(v) >= 10 ** digits:
            return str(int(v))  # a mean of token counts: no exponent
        return f"{v:.{digits}g}"
    return str(v)


def _tables(result: dict):
    """(title, header, rows, note) of each table, shared by the md and html writers."""
    runs = result["runs"]
    bsa = result["batch_size_analysis"]
    keys = result["varied_keys"]
    tables = [(
        "Runs",
        ["run", "varies"] + ["final train loss", "final eval loss", "tokens", "steps", "global batch (tokens)"],
        [[r["run"], r["label"] if keys else "—", _fmt(r["final_train_loss"]), _fmt(r["final_eval_loss"]),
          _fmt(r["tokens"]), _fmt(r["steps"]), _fmt(r["batch_tokens"])] for r in runs],
        ("Keys that differ between the runs (plots are labelled by them): " + ", ".join(f"`{k}`" for k in keys) + "."
         if keys else "The runs' configs do not differ (outside names, paths, logging and checkpoints)."),
    )]
    skipped = []
    sm = bsa["smoothing"]
    note = (f"Target {bsa['loss_source']} loss {_fmt(bsa['target_loss'], 6)}"
            f"{' (default: the highest final smoothed loss among the runs)' if bsa['target_loss_default'] else ''}; "
            f"loss smoothed by a trailing mean of the last {sm['window']} logged values; the first logged "
            f"step whose smoothed loss is ≤ the target counts. Speed-up = reference steps / steps; token cost "
            f"= tokens / reference tokens; reference = the smallest batch "
            f"({_fmt(bsa['reference_batch_tokens'])} tokens, mean over its runs).")
    if not bsa["applies"]:
        skipped.append(f"No batch-size analysis: every run has the same global batch "
                       f"({_fmt(bsa['reference_batch_tokens'])} tokens).")
    else:
        tables += _batch_size_tables(bsa, note)
    sched = result["schedule_analysis"]["runs"]
    if not result["schedule_analysis"]["applies"]:
        skipped.append("No schedule analysis: every run has the same average learning rate.")
    else:
        tables.append(_schedule_table(result, sched))
    if skipped:  # a section of text only (no header: the writers print no table)
        tables.append(("Not shown", [], [], " ".join(skipped)))
    return tables


def _batch_size_tables(bsa: dict, note: str):
    return [(
        "Batch size (Stable LM 2, Appendix D)",
        ["run", "global batch (tokens)", "step at target", "tokens at target", "speed-up (steps)",
         "token cost ratio"],
        [[c["run"], _fmt(c["batch_tokens"]), _fmt(c["step"]) if c["reached"] else "not reached",
          _fmt(c["tokens"]), _fmt(c["speedup_steps"]), _fmt(c["token_cost_ratio"])] for c in bsa["runs"]],
        note,
    ), (
        "Batch size groups",
        ["global batch (tokens)", "runs", "mean step at target", "mean tokens at target", "speed-up (steps)",
         "token cost ratio"],
        [[_fmt(g["batch_tokens"]), ", ".join(g["runs"]), _fmt(g["mean_step"]), _fmt(g["mean_tokens"]),
          _fmt(g["speedup_steps"]), _fmt(g["token_cost_ratio"])] for g in bsa["groups"]],
        "",
    )]


def _schedule_table(result: dict, sched: list):
    bsa = result["batch_size_analysis"]
    same_schedule = len({(x["schedule_style"], x["peak_lr"]) for x in sched}) == 1
    return (
        "Schedule (Stable LM 2, Appendix B)",
        ["run", "schedule", "peak lr", "average lr (integral)", "average lr (mean of logged)",
         f"final {bsa['loss_source']} loss"],
        [[s["run"], _fmt(s["schedule_style"]), _fmt(s["peak_lr"]), _fmt(s["avg_lr_integral"]),
          _fmt(s["avg_lr_mean"]), _fmt(s["final_loss"])] for s in result["schedule_analysis"]["runs"]],
        ("Every run has the same schedule and peak lr. " if same_schedule else "") +
        "Average lr = trapezoid integral of lr over the logged steps divided by the steps it spans "
        "(first to last logged step); the plain mean of the logged values is shown beside it.",
    )


def write_markdown(result: dict, plots: list[str], path: str) -> None:
    out = ["# kiln training report", ""]
    for title, header, rows, note in _tables(result):
        out += [f"## {title}", ""]
        if note:
            out += [note, ""]
        if not header:
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
        out.append("")
    out += ["## Plots", ""]
    out += [f"![{p}]({p})\n" for p in plots]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def write_html(result: dict, plots: list[str], path: str) -> None:
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'><title>kiln training report</title>",
           "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>",
           "<h1>kiln training report</h1>"]
    for title, header, rows, note in _tables(result):
        out.append(f"<h2>{e(title)}</h2>")
        if note:
            out.append(f"<p>{e(note)}</p>")
        if not header:
            continue
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</table>")
    out.append("<h2>Plots</h2>")
    out += [f"<p><img src='{e(p)}' alt='{e(p)}'></p>" for p in plots]
    out.append("</body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def _json_safe(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="kiln report", description="Plots and numbers comparing kiln runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (config.yml + metrics.jsonl)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the report")
    p.add_argument("--target-loss", type=float, default=None,
                   help="loss for the batch-size analysis (default: highest final smoothed loss among the runs)")
    p.add_argument("--format", choices=["md", "html"], default="md")
    p.add_argument("--smooth", type=int, default=5, metavar="N",
                   help="trailing-mean window (logged values) for the target crossing (default 5; 1 = raw)")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return EXIT_BAD_INPUT if e.code else 0
    if args.smooth < 1:
        print("kiln report: --smooth must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        runs = load_runs(args.runs)
    except ReportError as e:
        print(f"kiln report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"kiln report: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT

    result = analyse(runs, args.target_loss, args.smooth)
    os.makedirs(args.output, exist_ok=True)
    from report_plots import make_plots  # matplotlib only once the input is known good
    plots = make_plots(runs, result, args.output)
    result["plots"] = plots
    report_name = "report.md" if args.format == "md" else "report.html"
    result["report"] = report_name
    with open(os.path.join(args.output, "report.json"), "w", encoding="utf-8") as f:
        json.dump(_json_safe(result), f, indent=2)
        f.write("\n")
    (write_markdown if args.format == "md" else write_html)(result, plots, os.path.join(args.output, report_name))
    print(f"kiln report: wrote {os.path.join(args.output, report_name)} ({len(runs)} runs, {len(plots)} plots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
