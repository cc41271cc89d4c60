#!/usr/bin/env python3
"""The results of launch/gpu/device-check.sh: counts the GPU tests, writes the results JSON and
prints the summary table (standard library only: it runs on the bare GPU machine too).

    results.py count-tests WORK            # GoogleTest XML files in WORK → WORK/gpu_tests.json
    results.py write WORK OUT --elapsed S  # OUT/bench/results/<date>-<gpu>.json, OUT/summary.txt

WORK is device-check.sh's scratch folder (stages.tsv, the tests' XML, attention.json,
side-by-side/); OUT its output folder. The JSON's keys are documented in docs/cuda-backend.md
("The results file"). Exit status of `write`: 0 when every stage passed or was skipped for a
stated reason and the benchmark summary found no problem, 2 when the libraries were missing, 1
otherwise.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

TEST_EXECUTABLES = ["cuda_ops_tests", "cuda_optim_tests", "cuda_model_tests"]
GIB = 1024 ** 3


def read_json(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None


def count_tests(work):
    """Passed / failed / skipped over the test executables' XML reports; an executable that left
    no report (crashed, or cut at its timeout) counts as one failure under its own name."""
    total = {"passed": 0, "failed": 0, "skipped": 0, "executables": {}, "failures": []}
    for name in TEST_EXECUTABLES:
        rc_path = os.path.join(work, name + ".rc")
        if not os.path.exists(rc_path):
            continue  # not in the kit
        with open(rc_path) as fh:
            rc = int(fh.read().strip() or 1)
        counts = {"passed": 0, "failed": 0, "skipped": 0, "exit": rc}
        xml_path = os.path.join(work, name + ".xml")
        try:
            root = ET.parse(xml_path).getroot()
        except (OSError, ET.ParseError):
            root = None
        if root is None:
            counts["failed"] = 1
            why = "stopped at its timeout" if rc in (124, 137) else f"exit {rc}, no report"
            total["failures"].append(f"{name} ({why})")
        else:
            for case in root.iter("testcase"):
                full = f"{case.get('classname')}.{case.get('name')}"
                if case.find("failure") is not None:
                    counts["failed"] += 1
                    total["failures"].append(full)
                elif case.get("result") == "skipped" or case.find("skipped") is not None:
                    counts["skipped"] += 1
                elif case.get("status", "run") == "run":
                    counts["passed"] += 1
            if rc != 0 and counts["failed"] == 0:
                counts["failed"] = 1
                total["failures"].append(f"{name} (exit {rc} with no failed test: a crash after the tests?)")
        for k in ("passed", "failed", "skipped"):
            total[k] += counts[k]
        total["executables"][name] = counts
    with open(os.path.join(work, "gpu_tests.json"), "w") as fh:
        json.dump(total, fh, indent=2)
    for name, c in total["executables"].items():
        print(f"  {name}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped (exit {c['exit']})")
    print(f"gpu tests: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    for f in total["failures"][:20]:
        print(f"  FAILED {f}")
    return 0


def read_stages(work):
    stages = {}
    try:
        with open(os.path.join(work, "stages.tsv")) as fh:
            next(fh)
            for line in fh:
                name, status, secs, budget, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
                stages[name] = {"status": status, "seconds": float(secs or 0), "budget_s": int(budget or 0),
                                "note": note}
    except OSError:
        pass
    return stages


def device_info(work, smoke):
    try:
        with open(os.path.join(work, "gpu.csv")) as fh:
            name, driver, memory, clock = [x.strip() for x in fh.readline().split(",")][:4]
            return {"device": name, "driver": driver, "memory": memory, "max_sm_clock": clock}
    except (OSError, ValueError):
        return {"device": "cpu (smoke)" if smoke else "unknown (no nvidia-smi)"}


def libraries(out):
    libs = {}
    try:
        with open(os.path.join(out, "device-check.log"), errors="replace") as fh:
            for line in fh:
                m = re.match(r"^(found|uses) (lib[^:]+): (/\S+)", line)
                if m:
                    libs[m.group(2)] = m.group(3)
    except OSError:
        pass
    return libs


def kit_commit(manifest):
    try:
        with open(manifest) as fh:
            for line in fh:
                if line.startswith("commit: "):
                    return line[len("commit: "):].strip()
    except OSError:
        pass
    return None


def tree_commit(root):
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "diff", "--quiet"]).returncode != 0
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def sanitizer(work, out):
    res = {}
    for tool in ("memcheck", "racecheck"):
        p = os.path.join(work, f"sanitizer-{tool}.rc")
        if os.path.exists(p):
            with open(p) as fh:
                res[tool] = {"exit": int(fh.read().strip() or 1)}
    if res:
        try:
            with open(os.path.join(out, "sanitizer.log"), errors="replace") as fh:
                text = fh.read()
            for tool, chunk in zip(("memcheck", "racecheck"), re.split(r"^### racecheck.*$", text, flags=re.M)):
                if tool in res:
                    m = re.findall(r"ERROR SUMMARY: (\d+) error", chunk) or re.findall(r"RACECHECK SUMMARY: (\d+) hazard", chunk)
                    res[tool]["errors"] = int(m[-1]) if m else None
        except OSError:
            pass
    return res


def side_by_side(work):
    s = read_json(os.path.join(work, "side-by-side", "summary.json")) or {}
    kl, pt, g = s.get("kiln") or {}, s.get("pytorch") or {}, s.get("gemm_ceiling") or {}

    def peak(d, own):
        vals = [v for v in (d.get("nvidia_smi_peak_bytes"), d.get(own)) if v]
        return max(vals) if vals else None

    kiln = {"tokens_per_s": kl.get("tokens_per_s"), "mfu_palm": kl.get("mfu_palm"),
            "mfu_causal": kl.get("mfu_causal_halved"),
            "peak_memory_bytes": peak(kl, "device_memory_bytes_max"),
            "plan_memory_bytes": kl.get("plan_memory_bytes"), "startup_s": kl.get("startup_s"),
            "step_time_s": kl.get("step_time_s_mean"), "timed_steps": kl.get("timed_steps"),
            "loss_first": kl.get("loss_first"), "loss_last": kl.get("loss_last")} if kl else None
    pytorch = {"tokens_per_s": pt.get("tokens_per_s"), "mfu_palm": pt.get("mfu_palm"),
               "mfu_causal": pt.get("mfu_causal_halved"),
               "peak_memory_bytes": peak(pt, "max_memory_reserved_bytes"),
               "step_time_s": pt.get("step_time_s_mean"), "torch": pt.get("torch_version"),
               "compile": pt.get("compile")} if pt else None
    ceilings = None
    if g:
        ceilings = {"gemm_tflops": (g.get("square") or {}).get("tflops_best"),
                    "gemm_tflops_model_shapes": {r["gemm"] + f" {r['m']}x{r['n']}x{r['k']}": r["tflops_best"]
                                                 for r in g.get("gemms", [])},
                    "copy_gbytes_per_s": (g.get("copy") or {}).get("gbps_read_plus_write_best"),
                    "sdpa_attention_tflops": (g.get("attention") or {}).get("fwd_bwd_tflops_best")}
    return kiln, pytorch, ceilings, s.get("kiln_over_pytorch_tokens_per_s"), s.get("problems") or []


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def fmt(x, spec, unit=""):
    return "—" if x is None else f"{x:{spec}}{unit}"


def summary_lines(r):
    L = []
    ok = "PASS" if r["verdict"] == 0 else "FAIL"
    L.append(f"kiln device check: {ok} — {r['device']}, kit {str(r.get('kit_commit'))[:12]}, "
             f"{r['date']}, {r['total_seconds']} s{' (SMOKE: CPU sizes)' if r['smoke'] else ''}")
    L.append("")
    L.append(f"{'stage':<11} {'status':<8} {'time':>7} {'budget':>7}  note")
    for name, s in r["stages"].items():
        L.append(f"{name:<11} {s['status']:<8} {s['seconds']:>6.0f}s {s['budget_s']:>6}s  {s['note']}")
    t = r.get("gpu_tests")
    if t:
        L += ["", f"GPU tests: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped"]
        L += [f"  FAILED {f}" for f in t["failures"][:8]]
        if len(t["failures"]) > 8:
            L.append(f"  … and {len(t['failures']) - 8} more (gpu-tests.log)")
    a = r.get("attention") or {}
    if a:
        sh = r.get("attention_shape") or {}
        title = f"attention (B {sh.get('batch')}, T {sh.get('seq')}, H {sh.get('heads')})"
        L += ["", f"{title:<32} {'fwd ms':>8} {'bwd ms':>8} {'fwd TF/s':>8} {'bwd TF/s':>8} {'rel err':>9}"]
        for name, c in a.items():
            L.append(f"{name:<32} {fmt(c.get('fwd_ms'), '8.3f')} {fmt(c.get('bwd_ms'), '8.3f')} "
                     f"{fmt(c.get('fwd_tflops'), '8.1f')} {fmt(c.get('bwd_tflops'), '8.1f')} "
                     f"{fmt(c.get('max_rel_err'), '9.2e')} {'' if c.get('pass') else ' FAIL'}")
    k, p = r.get("kiln"), r.get("pytorch")
    if k or p:
        model = "tiny shape (SMOKE)" if r["smoke"] else "Stable LM 2 1.6B"
        L += ["", f"{'training, ' + model:<28} {'tokens/s':>10} {'MFU PaLM':>9} {'causal':>7} {'peak mem':>9} {'plan':>7}"]
        for name, d in (("kiln", k), ("PyTorch", p)):
            if d:
                L.append(f"{name:<28} {fmt(d.get('tokens_per_s'), '10,.0f')} {fmt(d.get('mfu_palm') and 100 * d['mfu_palm'], '8.1f', '%')} "
                         f"{fmt(d.get('mfu_causal') and 100 * d['mfu_causal'], '6.1f', '%')} "
                         f"{fmt(d.get('peak_memory_bytes') and d['peak_memory_bytes'] / GIB, '6.1f', ' GiB')} "
                         f"{fmt(d.get('plan_memory_bytes') and d['plan_memory_bytes'] / GIB, '4.1f', ' GiB')}")
        if r.get("kiln_over_pytorch") is not None:
            L.append(f"kiln ÷ PyTorch: {r['kiln_over_pytorch']:.2f}× tokens/s")
        if k and k.get("startup_s") is not None:
            L.append(f"kiln start-up: {k['startup_s']:.1f} s")
    c = r.get("ceilings")
    if c:
        L.append(f"ceilings: GEMM {fmt(c.get('gemm_tflops'), '.0f')} TFLOP/s, copy {fmt(c.get('copy_gbytes_per_s'), ',.0f')} GB/s, "
                 f"SDPA attention {fmt(c.get('sdpa_attention_tflops'), '.0f')} TFLOP/s")
    s = r.get("sanitizer")
    if s:
        L.append("sanitizer: " + ", ".join(f"{tool} exit {v['exit']} ({fmt(v.get('errors'), 'd')} reported)"
                                            for tool, v in s.items()))
    for prob in r.get("problems", []):
        L.append(f"problem: {prob}")
    L += ["", f"results: {r['results_file']}"]
    return L


def write(work, out, elapsed):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    manifest = os.environ.get("manifest") or os.path.join(root, ".gpu", "MANIFEST")
    smoke = os.environ.get("smoke", os.environ.get("SMOKE", "0")) == "1"
    stages = read_stages(work)
    info = device_info(work, smoke)
    kiln, pytorch, ceilings, ratio, problems = side_by_side(work)
    att = read_json(os.path.join(work, "attention.json")) or {}
    now = datetime.datetime.now(datetime.timezone.utc)
    r = {"schema": 1, "date": now.strftime("%Y-%m-%d"), "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
         "smoke": smoke, **info, "commit": tree_commit(root), "kit_commit": kit_commit(manifest),
         "total_seconds": elapsed, "stages": stages, "libraries": libraries(out),
         "gpu_tests": read_json(os.path.join(work, "gpu_tests.json")),
         "attention": att.get("cases") or {}, "attention_shape": att.get("shape"),
         "attention_device": att.get("device"), "attention_skipped": att.get("skipped"),
         "kiln": kiln, "pytorch": pytorch, "kiln_over_pytorch": ratio, "ceilings": ceilings,
         "sanitizer": sanitizer(work, out), "problems": problems}
    if stages.get("libs", {}).get("status") not in (None, "ok"):
        verdict = 2
    else:
        bad_stage = any(s["status"] not in ("ok", "skipped") for s in stages.values())
        bad_tests = bool(r["gpu_tests"] and r["gpu_tests"]["failed"])
        bad_att = any(not c.get("pass") for c in r["attention"].values())
        verdict = 1 if bad_stage or bad_tests or bad_att or problems else 0
    r["verdict"] = verdict
    name = f"{r['date']}-{'cpu-smoke' if smoke else slug(info['device'])}.json"
    rel = os.path.join("bench", "results", name)
    r["results_file"] = rel
    os.makedirs(os.path.join(out, "bench", "results"), exist_ok=True)
    with open(os.path.join(out, rel), "w") as fh:
        json.dump(r, fh, indent=2)
        fh.write("\n")
    text = "\n".join(summary_lines(r)) + "\n"
    with open(os.path.join(out, "summary.txt"), "w") as fh:
        fh.write(text)
    print("=" * 78)
    print(text, end="")
    return verdict


def main(argv):
    if len(argv) >= 2 and argv[0] == "count-tests":
        return count_tests(argv[1])
    if len(argv) >= 3 and argv[0] == "write":
        elapsed = int(argv[argv.index("--elapsed") + 1]) if "--elapsed" in argv else None
        return write(argv[1], argv[2], elapsed)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
