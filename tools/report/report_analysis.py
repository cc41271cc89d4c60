"""Loading kiln run directories and the numbers of `kiln report` (no plotting here).

A run directory holds config.yml (the resolved config) and metrics.jsonl (one JSON object per
line). Training records carry "loss" and "lr"; evaluation records carry "eval_loss". A resumed
run may log a step again: the last record of a kind for a step wins.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field


class ReportError(Exception):
    """A problem with the input (missing or unreadable files): exit code 2."""


@dataclass
class Run:
    path: str
    name: str
    config: dict
    train: list = field(default_factory=list)  # records with "loss", sorted by step
    eval: list = field(default_factory=list)   # records with "eval_loss", sorted by step
    global_batch: int | None = None
    seq_length: int | None = None

    @property
    def batch_tokens(self) -> int | None:
        if self.global_batch is not None and self.seq_length is not None:
            return self.global_batch * self.seq_length
        return None


# ---- config.yml ---------------------------------------------------------------------------------

def _read_config(path: str) -> dict:
    try:
        import yaml  # type: ignore
    except ImportError:
        yaml = None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if yaml is not None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ReportError(f"cannot parse {path}: {e}") from e
        return data if isinstance(data, dict) else {}
    return _tiny_yaml(text)


def _tiny_yaml(text: str) -> dict:
    """Reads nested `key: value` mappings (all the resolved config uses) without PyYAML."""
    root: dict = {}
    stack = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.lstrip().startswith("- "):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        value = value.strip()
        if value == "":
            child: dict = {}
            parent[key] = child
            stack.append((indent, child))
        else:
            parent[key] = _scalar(value)
    return root


def _scalar(v: str):
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None, "~": None}.get(v, v)


def config_get(config: dict, dotted: str, default=None):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


# ---- metrics.jsonl ------------------------------------------------------------------------------

def _read_metrics(path: str):
    train: dict[int, dict] = {}
    evals: dict[int, dict] = {}
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines):  # a run killed mid-write leaves a truncated last line
                continue
            raise ReportError(f"{path}:{i}: not a JSON line ({e.msg})") from e
        if not isinstance(rec, dict) or "step" not in rec:
            continue
        step = int(rec["step"])
        if "eval_loss" in rec:
            evals[step] = rec  # last record for a step wins (resumed runs repeat steps)
        if "loss" in rec:
            train[step] = rec
    return [train[s] for s in sorted(train)], [evals[s] for s in sorted(evals)]


def load_run(path: str) -> Run:
    """Loads one run directory; ReportError names the directory when something is missing."""
    shown = path.rstrip("/") or path
    if not os.path.isdir(path):
        raise ReportError(f"not a run directory: {shown}")
    metrics = os.path.join(path, "metrics.jsonl")
    config_file = os.path.join(path, "config.yml")
    if not os.path.isfile(metrics):
        raise ReportError(f"no metrics.jsonl in {shown}")
    if not os.path.isfile(config_file):
        raise ReportError(f"no config.yml in {shown}")
    config = _read_config(config_file)
    train, evals = _read_metrics(metrics)
    if not train and not evals:
        raise ReportError(f"no training or evaluation records in {metrics}")
    gb = config_get(config, "batch.global_batch")
    sl = config_get(config, "model.seq_length")
    return Run(path=path, name=os.path.basename(os.path.normpath(path)), config=config, train=train,
               eval=evals, global_batch=int(gb) if gb is not None else None,
               seq_length=int(sl) if sl is not None else None)


def natural_key(name: str):
    """Sort key that compares digit runs as numbers: bs=4 < bs=8 < bs=16."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def load_runs(paths: list[str]) -> list[Run]:
    """The runs, in natural order of their names (a shell glob sorts bs=16 before bs=4)."""
    runs = [load_run(p) for p in paths]  # every directory checked before anything is drawn
    names = [r.name for r in runs]
    for r in runs:  # two runs with the same basename: show the path instead
        if names.count(r.name) > 1:
            r.name = os.path.normpath(r.path)
    runs.sort(key=lambda r: natural_key(r.name))
    return runs


# ---- what varies ---------------------------------------------------------------------------------

# Keys that differ between any two runs without being an experimental choice.
_NOT_VARIED = ("train.name", "train.output_dir", "checkpoint.", "logging.")


def _flatten(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = d
    return out


def varied_keys(runs: list[Run]) -> list[str]:
    """The config keys whose values differ between the runs (a sweep's grid, derived keys with it),
    in config order."""
    flat = [_flatten(r.config) for r in runs]
    keys = []
    for f in flat:
        keys += [k for k in f if k not in keys]
    return [k for k in keys if not k.startswith(_NOT_VARIED) and len({repr(f.get(k)) for f in flat}) > 1]


def run_labels(runs: list[Run], keys: list[str]) -> dict:
    """Each run's label: the varied keys and its values ("style=cosine, lr=0.001"), each key by its
    last component where that is unambiguous; the run name when nothing varies."""
    if not keys:
        return {r.name: r.name for r in runs}
    last = [k.rsplit(".", 1)[-1] for k in keys]
    short = [l if last.count(l) == 1 else k for k, l in zip(keys, last)]
    labels = {}
    for r in runs:
        f = _flatten(r.config)
        labels[r.name] = ", ".join(f"{s}={f.get(k)}" for k, s in zip(keys, short))
    return labels


# ---- analysis -----------------------------------------------------------------------------------

def tokens_of(run: Run, rec: dict) -> int | None:
    if "tokens" in rec:
        return int(rec["tokens"])
    if run.batch_tokens is not None:
        return int(rec["step"]) * run.batch_tokens
    return None


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing mean of the last `window` logged values (fewer at the start)."""
    window = max(1, int(window))
    # Summed afresh each time (no running sum): window 1 gives the logged values exactly.
    return [math.fsum(values[max(0, i - window + 1):i + 1]) / min(i + 1, window) for i in range(len(values))]


def loss_series(run: Run, source: str, window: int):
    """(records, smoothed losses) of the chosen source: "eval" or "train"."""
    recs = run.eval if source == "eval" else run.train
    key = "eval_loss" if source == "eval" else "loss"
    vals = [float(r[key]) for r in recs]
    return recs, smooth(vals, window)


def average_lr(run: Run):
    """(integral average, mean of logged values, integral) of lr over the logged training steps.

    The integral is the trapezoid rule over the logged (step, lr) points; the integral average
    divides it by the span of steps it covers (first to last logged step), so uneven logging
    intervals weigh by the steps they cover. One logged point: both averages are that lr.
    """
    pts = [(int(r["step"]), float(r["lr"])) for r in run.train if "lr" in r]
    if not pts:
        return None, None, None
    mean = sum(lr for _, lr in pts) / len(pts)
    if len(pts) == 1:
        return pts[0][1], mean, 0.0
    integral = sum((s1 - s0) * (a + b) / 2 for (s0, a), (s1, b) in zip(pts, pts[1:]))
    span = pts[-1][0] - pts[0][0]
    return (integral / span if span > 0 else mean), mean, integral


def analyse(runs: list[Run], target_loss: float | None = None, smooth_window: int = 5) -> dict:
    source = "eval" if all(r.eval for r in runs) else "train"
    rows = []
    finals = []
    for run in runs:
        last_train = run.train[-1] if run.train else None
        last_eval = run.eval[-1] if run.eval else None
        last_any = max((r for r in (last_train, last_eval) if r), key=lambda r: int(r["step"]))
        recs, smoothed = loss_series(run, source, smooth_window)
        finals.append(smoothed[-1] if smoothed else math.nan)
        avg_int, avg_mean, integral = average_lr(run)
        rows.append({
            "run": run.name,
            "path": run.path,
            "global_batch": run.global_batch,
            "seq_length": run.seq_length,
            "batch_tokens": run.batch_tokens,
            "steps": int(last_any["step"]),
            "tokens": tokens_of(run, last_any),
            "final_train_loss": float(last_train["loss"]) if last_train else None,
            "final_eval_loss": float(last_eval["eval_loss"]) if last_eval else None,
            "final_smoothed_loss": smoothed[-1] if smoothed else None,
            "avg_lr_integral": avg_int,
            "avg_lr_mean": avg_mean,
            "lr_integral": integral,
            "peak_lr": config_get(run.config, "optimizer.lr"),
            "schedule_style": config_get(run.config, "schedule.style"),
        })

    valid_finals = [f for f in finals if not math.isnan(f)]
    target_default = target_loss is None
    if target_default:
        target_loss = max(valid_finals) if valid_finals else math.nan

    # Appendix D: steps and tokens to the target loss, by batch size.
    crossings = []
    for run, row in zip(runs, rows):
        recs, smoothed = loss_series(run, source, smooth_window)
        hit = next((i for i, v in enumerate(smoothed) if v <= target_loss), None)
        crossings.append({
            "run": run.name,
            "batch_tokens": run.batch_tokens,
            "reached": hit is not None,
            "step": int(recs[hit]["step"]) if hit is not None else None,
            "tokens": tokens_of(run, recs[hit]) if hit is not None else None,
        })
    groups: dict = {}
    for c in crossings:
        groups.setdefault(c["batch_tokens"], []).append(c)
    known = sorted(k for k in groups if k is not None)
    ref_key = known[0] if known else None

    def mean_of(items, key):
        vals = [c[key] for c in items if c["reached"] and c[key] is not None]
        return sum(vals) / len(vals) if vals else None

    ref_steps = mean_of(groups[ref_key], "step") if ref_key is not None else None
    ref_tokens = mean_of(groups[ref_key], "tokens") if ref_key is not None else None

    def ratios(steps, tokens):
        speed = ref_steps / steps if ref_steps and steps else None
        cost = tokens / ref_tokens if ref_tokens and tokens else None
        return speed, cost

    for c in crossings:
        c["speedup_steps"], c["token_cost_ratio"] = ratios(c["step"], c["tokens"])
    group_rows = []
    for key in known + ([None] if None in groups else []):
        items = groups[key]
        steps, tokens = mean_of(items, "step"), mean_of(items, "tokens")
        speed, cost = ratios(steps, tokens) if key is not None else (None, None)
        group_rows.append({"batch_tokens": key, "runs": [c["run"] for c in items],
                           "reached": sum(c["reached"] for c in items),
                           "mean_step": steps, "mean_tokens": tokens,
                           "speedup_steps": speed, "token_cost_ratio": cost})

    keys = varied_keys(runs)
    labels = run_labels(runs, keys)
    for row in rows:
        row["label"] = labels[row["run"]]
    avg_lrs = {round(r["avg_lr_integral"], 12) for r in rows if r["avg_lr_integral"] is not None}
    return {
        "runs": rows,
        "varied_keys": keys,
        "labels": labels,
        "batch_size_analysis": {
            # Shown only where the runs differ in global batch: with one batch size there is nothing
            # to compare (the numbers stay in the JSON).
            "applies": len(known) >= 2,
            "loss_source": source,
            "smoothing": {"method": "trailing_mean", "window": int(smooth_window)},
            "target_loss": target_loss,
            "target_loss_default": target_default,
            "reference_batch_tokens": ref_key,
            "runs": crossings,
            "groups": group_rows,
        },
        "schedule_analysis": {
            # Shown only where the runs' learning-rate curves differ (their average lr does).
            "applies": len(avg_lrs) >= 2,
            "average": "trapezoid integral of lr over logged steps / (last - first logged step)",
            "runs": [{"run": r["run"], "schedule_style": r["schedule_style"], "peak_lr": r["peak_lr"],
                      "avg_lr_integral": r["avg_lr_integral"], "avg_lr_mean": r["avg_lr_mean"],
                      "final_loss": r["final_eval_loss"] if source == "eval" else r["final_train_loss"]}
                     for r in rows],
        },
    }
