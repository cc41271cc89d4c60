"""The PNG figures of `kiln report` (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from report_analysis import Run, tokens_of  # noqa: E402


def _save(fig, out_dir: str, name: str, plots: list) -> None:
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, name), dpi=110)
    plt.close(fig)
    plots.append(name)


def _curve(runs: list[Run], labels: dict, out_dir: str, plots: list, kind: str, x: str) -> None:
    key = "loss" if kind == "train" else "eval_loss"
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        recs = run.train if kind == "train" else run.eval
        if x == "tokens":
            pts = [(tokens_of(run, r), float(r[key])) for r in recs]
            pts = [p for p in pts if p[0] is not None]
        else:
            pts = [(int(r["step"]), float(r[key])) for r in recs]
        if pts:
            style = "-" if kind == "train" else "o-"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=labels[run.name], markersize=3)
    ax.set_xlabel("tokens" if x == "tokens" else "step")
    ax.set_ylabel(f"{kind} loss")
    ax.set_title(f"{kind} loss vs {'tokens' if x == 'tokens' else 'step'}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, out_dir, f"{kind}_loss_vs_{'tokens' if x == 'tokens' else 'steps'}.png", plots)


def make_plots(runs: list[Run], result: dict, out_dir: str) -> list[str]:
    """Draws every figure into out_dir; returns the file names, in report order."""
    plots: list[str] = []
    labels = result["labels"]
    for x in ("tokens", "steps"):
        _curve(runs, labels, out_dir, plots, "train", x)
    if any(r.eval for r in runs):
        for x in ("tokens", "steps"):
            _curve(runs, labels, out_dir, plots, "eval", x)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        pts = [(int(r["step"]), float(r["lr"])) for r in run.train if "lr" in r]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=labels[run.name])
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate vs step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, out_dir, "lr_vs_step.png", plots)

    # Appendix D: steps and tokens to the target loss against batch size, where batch sizes differ.
    bsa = result["batch_size_analysis"]
    if bsa["applies"]:
        _batch_size_plot(bsa, labels, out_dir, plots)
    # Appendix B: average learning rate against final loss, where the lr curves differ.
    if result["schedule_analysis"]["applies"]:
        _schedule_plot(result, labels, out_dir, plots)
    return plots


def _batch_size_plot(bsa: dict, labels: dict, out_dir: str, plots: list) -> None:
    pts = [(c["batch_tokens"], c["step"], c["tokens"], c["run"]) for c in bsa["runs"]
           if c["reached"] and c["batch_tokens"] is not None]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    if pts:
        a1.plot([p[0] for p in pts], [p[1] for p in pts], "o")
        a2.plot([p[0] for p in pts], [p[2] for p in pts], "o")
        for p in pts:
            a1.annotate(labels.get(p[3], p[3]), (p[0], p[1]), fontsize=7)
        for a in (a1, a2):
            a.set_xscale("log")
    a1.set_xlabel("global batch (tokens)")
    a1.set_ylabel("steps to target")
    a2.set_xlabel("global batch (tokens)")
    a2.set_ylabel("tokens to target")
    fig.suptitle(f"steps / tokens to {bsa['loss_source']} loss {bsa['target_loss']:.4g}")
    for a in (a1, a2):
        a.grid(alpha=0.3)
    _save(fig, out_dir, "batch_size_target.png", plots)


def _schedule_plot(result: dict, labels: dict, out_dir: str, plots: list) -> None:
    bsa = result["batch_size_analysis"]
    sa = [s for s in result["schedule_analysis"]["runs"]
          if s["avg_lr_integral"] is not None and s["final_loss"] is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in sa:
        ax.plot([s["avg_lr_integral"]], [s["final_loss"]], "o", label=labels.get(s["run"], s["run"]))
    ax.set_xlabel("average learning rate (integral / steps)")
    ax.set_ylabel(f"final {bsa['loss_source']} loss")
    ax.set_title("final loss vs average learning rate")
    ax.grid(alpha=0.3)
    if sa:
        ax.legend(fontsize=8)
    _save(fig, out_dir, "schedule_avg_lr.png", plots)
