#!/usr/bin/env bash
# The GPU check's CPU smoke mode, end to end, so that launch/gpu/pack.sh and device-check.sh cannot
# rot between GPU runs: a kit from this build (KILN_PACK_REUSE, no second build), then
# SMOKE=1 device-check.sh on it, then the outputs checked: exit 0, the results JSON with every key
# docs/cuda-backend.md promises, the GPU tests present and skipped (none failed), the attention
# harness's CPU self-test exact in all six cases, kiln's tiny CPU run measured, at most 8 files at most 2 folders below OUT, and the summary printed last.
#
#   device_check_smoke_test.sh BUILD_DIR
set -euo pipefail
build="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tmp="$(mktemp -d /tmp/kiln-smoke-test.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

KILN_PACK_REUSE="$build" KILN_PACK_OUT="$tmp/kit" bash "$root/launch/gpu/pack.sh"
[[ -s "$tmp/kit/kit.tar.xz" && -s "$tmp/kit/MANIFEST" ]] || { echo "FAIL: the kit has no kit.tar.xz or MANIFEST"; exit 1; }
grep -q "  bin/kiln " "$tmp/kit/MANIFEST" || { echo "FAIL: the MANIFEST lists no bin/kiln"; exit 1; }

set +e
SMOKE=1 KIT="$tmp/kit" OUT="$tmp/out" OMP_NUM_THREADS=1 bash "$root/launch/gpu/device-check.sh" > "$tmp/stdout" 2>&1
rc=$?
set -e
cat "$tmp/stdout"
[[ $rc == 0 ]] || { echo "FAIL: device-check.sh exited $rc"; exit 1; }

python3 - "$tmp/out" "$build" <<'PY'
import glob, json, os, sys
out, build = sys.argv[1], sys.argv[2]
files = [os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs]
problems = []
if len(files) > 8:
    problems.append(f"{len(files)} files under OUT (at most 8): {files}")
deep = [f for f in files if f.count("/") > 2]
if deep:
    problems.append(f"files more than 2 folders below OUT: {deep}")
results = glob.glob(os.path.join(out, "bench", "results", "*-cpu-smoke.json"))
if len(results) != 1:
    sys.exit(f"FAIL: expected one bench/results/*-cpu-smoke.json, found {files}")
r = json.load(open(results[0]))
for key in ("device", "commit", "gpu_tests", "kiln", "pytorch", "ceilings", "attention", "stages"):
    if key not in r:
        problems.append(f"results JSON lacks {key}")
for key in ("passed", "failed", "skipped"):
    if key not in (r.get("gpu_tests") or {}):
        problems.append(f"gpu_tests lacks {key}")
for key in ("tokens_per_s", "mfu_palm", "mfu_causal", "peak_memory_bytes", "plan_memory_bytes", "startup_s"):
    if key not in (r.get("kiln") or {}):
        problems.append(f"kiln lacks {key}")
cuda_built = os.path.exists(os.path.join(build, "tests", "cuda_ops_tests"))
t = r.get("gpu_tests") or {}
if cuda_built and not (t.get("skipped", 0) > 0 and t.get("failed") == 0):
    problems.append(f"GPU tests should all skip or pass without a GPU: {t}")
att = r.get("attention") or {}
if cuda_built and (len(att) != 6 or not all(c.get("pass") and c.get("max_rel_err") == 0 for c in att.values())):
    problems.append(f"the attention harness's CPU self-test should pass all 6 cases with error 0: {att}")
if not ((r.get("kiln") or {}).get("tokens_per_s") or 0) > 0:
    problems.append(f"kiln's CPU run was not measured: {r.get('kiln')}")
if not ((r.get("kiln") or {}).get("plan_memory_bytes") or 0) > 0:
    problems.append("no planned memory from kiln plan")
want = {"env", "libs", "gpu_tests", "attention", "kiln", "pytorch", "ceiling", "summary", "sanitizer"}
if set(r["stages"]) != want:
    problems.append(f"stages {sorted(r['stages'])}, expected {sorted(want)}")
bad = {k: v for k, v in r["stages"].items() if v["status"] not in ("ok", "skipped")}
if bad:
    problems.append(f"stages not ok: {bad}")
summary = open(os.path.join(out, "summary.txt")).read()
if "kiln device check: PASS" not in summary:
    problems.append("summary.txt does not say PASS")
if problems:
    sys.exit("FAIL:\n  " + "\n  ".join(problems))
print(f"smoke test: ok ({len(files)} files: {sorted(files)})")
PY
tail -n 3 "$tmp/stdout" | grep -q "results: bench/results/" || { echo "FAIL: the summary is not the last thing printed"; exit 1; }

# A kit that cannot load: one more executable, linked against a library that is then deleted.
mkdir -p "$tmp/bad/kit" "$tmp/bad/x"
xz -dc "$tmp/kit/kit.tar.xz" | tar -C "$tmp/bad/x" -xf -
echo 'int kiln_probe(void) { return 0; }' > "$tmp/bad/m.c"
echo 'int kiln_probe(void); int main(void) { return kiln_probe(); }' > "$tmp/bad/p.c"
cc -shared -fPIC -o "$tmp/bad/libkilnprobemissing.so" "$tmp/bad/m.c"
cc -o "$tmp/bad/x/bin/probe" "$tmp/bad/p.c" -L"$tmp/bad" -lkilnprobemissing
rm "$tmp/bad/libkilnprobemissing.so"
tar -C "$tmp/bad/x" -cf - bin lib | xz -T0 -0 > "$tmp/bad/kit/kit.tar.xz"
cp "$tmp/kit/MANIFEST" "$tmp/bad/kit/"
set +e
SMOKE=1 KIT="$tmp/bad/kit" OUT="$tmp/bad/out" bash "$root/launch/gpu/device-check.sh" > "$tmp/bad/stdout" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || { cat "$tmp/bad/stdout"; echo "FAIL: a kit missing a library exited $rc, expected 2"; exit 1; }
grep -q "missing libraries: libkilnprobemissing.so" "$tmp/bad/out/summary.txt" ||
  { cat "$tmp/bad/out/summary.txt"; echo "FAIL: the summary does not name the missing library"; exit 1; }
grep -q "^kiln device check: FAIL" "$tmp/bad/out/summary.txt" || { echo "FAIL: the summary does not say FAIL"; exit 1; }
echo "smoke test: a kit missing a library stops at the library check (exit 2, named)"
