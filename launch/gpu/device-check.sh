#!/usr/bin/env bash
# The whole GPU check in one call (docs/cuda-backend.md, "Checking on a GPU"): on a bare Linux
# machine with an NVIDIA GPU and CUDA's libraries somewhere on it, from the working tree plus the
# kit that launch/gpu/pack.sh made on a CPU machine (.gpu/).
#
#   bash launch/gpu/device-check.sh           # OUT=/some/folder to keep the outputs there
#   SMOKE=1 bash launch/gpu/device-check.sh   # anywhere: the same stages at CPU sizes (CI runs it)
#
# Stages, each under a time budget (seconds; a stage that overruns is stopped and reported, and
# the whole check keeps to DEADLINE_S, default 470, cutting the budgets of the last stages to it):
#   env        the machine: GPU, driver, glibc, python and torch                          10
#   libs       CUDA's libraries found (toolkit, driver, PyTorch's wheels), printed; stops the
#              check at once, listing what is missing, if any binary cannot load            20
#   gpu_tests  the CUDA test executables, run directly, each under its own timeout        100
#   attention  cuda_attention_check: the real shapes, timed, against the CPU reference      45
#   kiln       Stable LM 2 1.6B, 20 steps on random tokens, with the per-op profile         90
#   pytorch    the same model in PyTorch (bench/side_by_side)                              150
#   ceiling    GEMM and copy ceilings (bench/side_by_side/gemm_ceiling.py)                  30
#   summary    kiln vs PyTorch (bench/side_by_side/summarize.py)                            10
#   sanitizer  compute-sanitizer memcheck and racecheck on small kernel cases               60
# then the results JSON and the summary table (launch/gpu/results.py), outside any budget.
# BUDGET_<STAGE> (e.g. BUDGET_PYTORCH=200) changes one.
#
# Outputs under OUT (default: a new folder in /tmp), at most 8 files, at most 2 folders deep:
#   bench/results/<date>-<gpu>.json   the results, ready to commit
#   summary.txt                      the table printed last
#   device-check.log                 everything this script printed
#   gpu-tests.log  kiln-train.log  op_profile.txt  side-by-side.md  sanitizer.log
# Environment: KIT (default .gpu), OUT, SMOKE, PYTHON (python3), DEADLINE_S, KEEP_WORK (1 keeps the
# scratch folder in /tmp: the unpacked kit, the benchmark runs).
# Exit status: 0 all passed; 1 something failed or was cut; 2 the kit cannot run here.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
kit="${KIT:-.gpu}"
if [[ ! -f "$kit/kit.tar.xz" ]]; then
  echo "device-check: no kit at $kit (kit.tar.xz missing); make it with: bash launch/gpu/pack.sh" >&2
  exit 2
fi
out="${OUT:-$(mktemp -d /tmp/kiln-device-check.XXXXXX)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d /tmp/kiln-device-check-work.XXXXXX)"
# The kit unpacked into scratch space: nothing is written into the machine's system folders.
kit_src="$(cd "$kit" && pwd)"
manifest="$kit_src/MANIFEST"
if command -v xz >/dev/null; then
  xz -dc "$kit/kit.tar.xz" | tar -C "$work" -xf - || { echo "device-check: cannot unpack $kit/kit.tar.xz" >&2; exit 2; }
else
  "${PYTHON:-python3}" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
    "$kit/kit.tar.xz" "$work" || { echo "device-check: cannot unpack $kit/kit.tar.xz" >&2; exit 2; }
fi
kit="$work"
smoke="${SMOKE:-0}"
py="${PYTHON:-python3}"
deadline="${DEADLINE_S:-470}"
t0=$(date +%s)
exec > >(tee "$out/device-check.log") 2>&1
tee_pid=$!
# The log is complete before the script returns (the device tool fetches OUT right after).
# The scratch folder (the unpacked kit, the runs) goes unless KEEP_WORK=1: OUT has what matters.
finish() {
  exec 1>&- 2>&-
  wait "$tee_pid" 2>/dev/null
  [[ "${KEEP_WORK:-0}" == 1 ]] || rm -rf "$work"
  exit "$1"
}
echo "device-check: kit $kit_src (unpacked in $kit), outputs $out, scratch $work$([[ $smoke == 1 ]] && echo ', SMOKE (CPU sizes)')"
printf 'stage\tstatus\tseconds\tbudget\tnote\n' > "$work/stages.tsv"

# run_stage NAME DEFAULT_BUDGET FUNCTION: runs FUNCTION in a child bash under the budget (cut at the
# deadline), records ok / failed / cut / skipped. A function reports "skipped" by exiting 3, with
# its reason as the last line of $work/NAME.note.
run_stage() {
  local name="$1" budget="$2" fn="$3" var
  var="BUDGET_${name^^}"
  budget="${!var:-$budget}"
  local left=$((deadline - ($(date +%s) - t0)))
  local note=""
  if ((left < 3)); then
    printf '%s\tcut\t0\t%s\tno time left before the %s s deadline\n' "$name" "$budget" "$deadline" >> "$work/stages.tsv"
    echo "=== $name: not run, no time left"
    return
  fi
  ((budget > left)) && budget=$left note="budget cut to the deadline; "
  echo "=== $name (budget ${budget} s)"
  local s=$(date +%s.%N)
  timeout --kill-after=5 "$budget" bash -c "$fn"
  local rc=$?
  local secs
  secs=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  local status=ok
  case $rc in
    0) ;;
    3) status=skipped ;;
    124 | 137) status=cut; note+="stopped at its budget" ;;
    *) status=failed; note+="exit $rc" ;;
  esac
  [[ -s "$work/$name.note" ]] && note+="${note:+; }$(tail -n 1 "$work/$name.note")"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$budget" "$note" >> "$work/stages.tsv"
  echo "--- $name: $status in ${secs} s${note:+ ($note)}"
}

export root kit out work smoke py manifest
# kiln's processes get the kit's and CUDA's libraries; nothing else (PyTorch) does.
kenv() { env LD_LIBRARY_PATH="$(cat "$work/ld_library_path")" KILN_SOURCE_DIR="$root" "$@"; }
export -f kenv

stage_env() {
  uname -srm
  ldd --version 2>&1 | head -n 1
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader |
      tee "$work/gpu.csv"
  else
    echo "no nvidia-smi"
  fi
  "$py" -c 'import sys; print("python", sys.version.split()[0])' 2>&1
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available())' 2>&1 | tail -n 1
  head -n 5 "$manifest" 2>/dev/null
  return 0
}

# Where a missing shared library may be: the toolkit, the driver, and the NVIDIA wheels beside
# PyTorch (site-packages/nvidia/*/lib, torch/lib).
stage_libs() {
  local roots=() r
  for r in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-* /opt/cuda /usr/local/nvidia \
           /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
    [[ -n "$r" && -d "$r" ]] && roots+=("$r")
  done
  while read -r r; do [[ -d "$r" ]] && roots+=("$r/nvidia" "$r/torch/lib"); done < <(
    "$py" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)
  for r in /opt/*/.venv/lib/python3*/site-packages; do [[ -d "$r" ]] && roots+=("$r/nvidia" "$r/torch/lib"); done
  local path="$kit/lib" lib found missing=()
  unresolved() { for f in "$kit"/bin/*; do LD_LIBRARY_PATH="$1" ldd "$f"; done 2>&1 | awk '/not found/ { print $1 }' | sort -u; }
  for lib in $(unresolved "$path"); do
    found=$(find -L "${roots[@]}" -maxdepth 5 -name "$lib" \( -type f -o -type l \) 2>/dev/null | head -n 1)
    if [[ -n "$found" ]]; then
      echo "found $lib: $found"
      [[ ":$path:" == *":$(dirname "$found"):"* ]] || path+=":$(dirname "$found")"
    fi
  done
  # What ldd resolves by itself (ldconfig, RUNPATH), for the record.
  for f in "$kit"/bin/*; do LD_LIBRARY_PATH="$path" ldd "$f"; done 2>/dev/null |
    awk '$1 ~ /^lib(cudart|cublas|cublasLt|nccl|cudnn|cuda)\.so/ && $3 ~ /^\// { print "uses " $1 ": " $3 }' | sort -u
  for lib in libcudnn.so.9; do  # not linked yet (cuDNN attention is coming): where it would come from
    found=$(find -L "${roots[@]}" -maxdepth 5 -name "$lib" 2>/dev/null | head -n 1)
    echo "$lib (not needed yet): ${found:-not found}"
  done
  echo "$path" > "$work/ld_library_path"
  mapfile -t missing < <(unresolved "$path")
  local versions
  versions=$(for f in "$kit"/bin/*; do LD_LIBRARY_PATH="$path" ldd "$f" 2>&1; done | grep -o "version \`[^']*' not found[^)]*)" | sort -u)
  if ((${#missing[@]})) || [[ -n "$versions" ]]; then
    echo "MISSING: ${missing[*]} $versions"
    echo "missing libraries: ${missing[*]}${versions:+; $versions}" > "$work/libs.note"
    return 1
  fi
  echo "LD_LIBRARY_PATH for kiln: $path"
  echo "all libraries found" > "$work/libs.note"
}

stage_gpu_tests() {
  local exe name budget rc
  : > "$out/gpu-tests.log"
  for exe in cuda_ops_tests:45 cuda_optim_tests:25 cuda_model_tests:60; do
    name="${exe%%:*}" budget="${exe##*:}"
    if [[ ! -x "$kit/bin/$name" ]]; then
      echo "$name: not in the kit" | tee -a "$out/gpu-tests.log"
      continue
    fi
    echo "### $name" >> "$out/gpu-tests.log"
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} timeout --kill-after=5 "$budget" \
      bash -c 'kenv "$@"' _ "$kit/bin/$name" --gtest_output="xml:$work/$name.xml" >> "$out/gpu-tests.log" 2>&1
    rc=$?
    echo "$rc" > "$work/$name.rc"
    echo "$name: exit $rc$([[ $rc == 124 || $rc == 137 ]] && echo " (stopped after $budget s)")"
  done
  "$py" "$root/launch/gpu/results.py" count-tests "$work" | tee "$work/gpu_tests.note"
  tail -n 1 "$work/gpu_tests.note" | grep -q " 0 failed"
}

# SMOKE: the harness's self-test on the CPU backend at T = 128 (every error must be 0).
stage_attention() {
  [[ -x "$kit/bin/cuda_attention_check" ]] || { echo "not in the kit" > "$work/attention.note"; exit 3; }
  local args=(--json "$work/attention.json")
  [[ "$smoke" == 1 ]] && args+=(--cpu --seq 128 --reps 1) && echo "CPU self-test of the harness" > "$work/attention.note"
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} kenv "$kit/bin/cuda_attention_check" "${args[@]}"
  local rc=$?
  grep -q '"skipped"' "$work/attention.json" 2>/dev/null && { echo "no GPU" > "$work/attention.note"; exit 3; }
  return $rc
}

# bench/side_by_side/run.sh, one part per stage; kiln through a wrapper that sets its libraries.
side_by_side() {
  printf '#!/bin/sh\nexec env LD_LIBRARY_PATH="%s" "%s" "$@"\n' "$(cat "$work/ld_library_path")" "$kit/bin/kiln" \
    > "$work/kiln"
  chmod +x "$work/kiln"
  local steps=10 warmup=10 interval=5
  OUT="$work/side-by-side" KILN="$work/kiln" PYTHON="$py" SMOKE="$smoke" STEPS=$steps WARMUP=$warmup \
    LOG_INTERVAL=$interval MICRO_BATCH=2 PARTS="$1" bash "$root/bench/side_by_side/run.sh"
}
export -f side_by_side
stage_kiln() {
  KILN_PROFILE_OPS=1 side_by_side kiln
  local rc=$?
  cp "$work/side-by-side/kiln.log" "$out/kiln-train.log" 2>/dev/null
  cp "$work/side-by-side/kiln-run/kiln/op_profile.txt" "$out/op_profile.txt" 2>/dev/null &&
    head -n 25 "$out/op_profile.txt"
  return $rc
}
stage_pytorch() {
  "$py" -c "import torch" 2>/dev/null || { echo "$py has no torch" > "$work/pytorch.note"; exit 3; }
  side_by_side pytorch
}
stage_ceiling() {
  "$py" -c "import torch" 2>/dev/null || { echo "$py has no torch" > "$work/ceiling.note"; exit 3; }
  side_by_side ceiling
}

# compute-sanitizer on small cases of the kernels with shared memory and reductions.
stage_sanitizer() {
  local cs
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer \
       /usr/local/cuda*/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -n 1)
  [[ -n "$cs" ]] || { echo "no compute-sanitizer on this machine" > "$work/sanitizer.note"; exit 3; }
  [[ "$smoke" == 1 ]] && { echo "no GPU (smoke)" > "$work/sanitizer.note"; exit 3; }
  local a='Shapes/CudaAttention.MatchesCpuReference'
  local filter="$a/causal_T77_D16:$a/docs_T200_D64:$a/alibi12_docs_T200_D80:CudaOpsNorm.LayerNormWithBiasMatchesTheCpu"
  filter+=":CudaOpsCrossEntropy.SmallVocabulary:CudaOpsEmbedding.BackwardSumsRepeatedIdsAndAccumulates"
  filter+=":CudaOpsLinear.OddShapesMatchCpu:CudaOpsElementwise.SwigluForwardAndBackwardMatchTheCpu"
  local rc=0 tool
  : > "$out/sanitizer.log"
  for tool in memcheck racecheck; do
    echo "### $tool ($filter)" >> "$out/sanitizer.log"
    kenv "$cs" --tool "$tool" --error-exitcode 9 "$kit/bin/cuda_ops_tests" --gtest_filter="$filter" \
      --gtest_brief=1 >> "$out/sanitizer.log" 2>&1
    local r=$?
    echo "$tool: exit $r ($(grep -cE "^========= (Invalid|Race|Error)" "$out/sanitizer.log") findings so far)"
    echo "$r" > "$work/sanitizer-$tool.rc"
    ((r == 0)) || rc=1
  done
  tail -n 5 "$out/sanitizer.log"
  # Some sandboxes (gVisor) run CUDA but refuse the sanitizer's instrumentation: not a finding.
  if ((rc)) && grep -qE "Device not supported|Unable to (connect|instrument)|not supported on this (platform|device)" \
       "$out/sanitizer.log"; then
    echo "compute-sanitizer cannot instrument this machine: $(grep -m1 -oE "Device not supported|Unable to [a-z]+|not supported on this [a-z]+" "$out/sanitizer.log")" \
      > "$work/sanitizer.note"
    exit 3
  fi
  return $rc
}

export -f stage_env stage_libs stage_gpu_tests stage_attention stage_kiln stage_pytorch stage_ceiling stage_sanitizer

run_stage env 10 stage_env
run_stage libs 20 stage_libs
if ! grep -q "^libs	ok" "$work/stages.tsv"; then
  echo "device-check: the kit cannot run here: $(cat "$work/libs.note" 2>/dev/null)"
  "$py" "$root/launch/gpu/results.py" write "$work" "$out" --elapsed $(($(date +%s) - t0))
  finish 2
fi
run_stage gpu_tests 100 stage_gpu_tests
run_stage attention 45 stage_attention
run_stage kiln 90 stage_kiln
run_stage pytorch 150 stage_pytorch
run_stage ceiling 30 stage_ceiling
stage_summary() {
  side_by_side summary > "$work/summary-stage.log" 2>&1
  local rc=$?
  cp "$work/side-by-side/summary.md" "$out/side-by-side.md" 2>/dev/null
  grep -A20 "^Problems:" "$work/side-by-side/summary.md" 2>/dev/null
  return $rc
}
export -f stage_summary
# The summary before the sanitizer, so that a check that runs out of time still has its numbers.
run_stage summary 10 stage_summary
run_stage sanitizer 60 stage_sanitizer
"$py" "$root/launch/gpu/results.py" write "$work" "$out" --elapsed $(($(date +%s) - t0))
finish $?
