#!/usr/bin/env bash
# One GPU, kiln vs PyTorch on the Stable LM 2 1.6B architecture, one after the other on the same
# GPU, then a Markdown summary (docs/performance.md, "One GPU: kiln vs PyTorch").
# launch/gpu/device-check.sh runs it part by part, each part under its own time budget.
#
#   bash bench/side_by_side/run.sh                      # KILN=.gpu/bin/kiln (launch/gpu/pack.sh)
#   SMOKE=1 KILN=build/kiln bash bench/side_by_side/run.sh    # CPU plumbing test, tiny shape on both sides
#
# Parts (PARTS, default all four, in this order):
#   kiln     kiln train configs/stablelm-2-1_6b.yml on cuda, synthetic data, WARMUP + STEPS steps,
#            one micro batch per step, no evaluation, no checkpoint (checkpoint.save_final=false),
#            KILN_PEAK_FLOPS set so metrics.jsonl carries mfu; KILN_PROFILE_OPS passes through (the
#            per-op table lands in the run folder, op_profile.txt). Also `kiln plan --json` of the
#            same config (plan.json: the memory the planner expects) and the launch time
#            (kiln_launch_time, for the start-up time).
#   pytorch  pytorch_train.py: Hugging Face StableLmForCausalLM of the same shape, sdpa attention,
#            torch.compile, fused AdamW, bf16 autocast over fp32 weights; WARMUP untimed + STEPS timed.
#            Skipped, saying so, where python has no torch.
#   ceiling  gemm_ceiling.py: GEMM TFLOP/s at the model's shapes and copy GB/s (torch too).
#   summary  summarize.py: summary.md / summary.json from whatever the other parts left.
# nvidia-smi's memory.used is sampled every 200 ms during kiln and PyTorch when nvidia-smi exists.
#
# Environment (defaults): OUT (runs/side-by-side), KILN (.gpu/bin/kiln), PYTHON (python3),
# STEPS (40, timed), WARMUP (10, untimed; a multiple of LOG_INTERVAL), LOG_INTERVAL (5),
# MICRO_BATCH (2), PEAK_TFLOPS (989: H100/H200 SXM dense bf16), COMPILE (1), PARTS, SMOKE (0);
# KILN_TIMEOUT, PYTORCH_TIMEOUT, CEILING_TIMEOUT: seconds each part may take (default: no limit),
# after which it is stopped (SIGTERM, then SIGKILL 10 s later) and the summary says so.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/side_by_side"
cd "$root" || exit 2

out="${OUT:-runs/side-by-side}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
kiln="${KILN:-.gpu/bin/kiln}"
py="${PYTHON:-python3}"
steps="${STEPS:-40}"
warmup="${WARMUP:-10}"
interval="${LOG_INTERVAL:-5}"
mb="${MICRO_BATCH:-2}"
peak="${PEAK_TFLOPS:-989}"
total=$((warmup + steps))
smoke="${SMOKE:-0}"
parts=" ${PARTS:-kiln pytorch ceiling summary} "
wants() { [[ "$parts" == *" $1 "* ]]; }

if (( warmup % interval != 0 || steps % interval != 0 )); then
  echo "run.sh: WARMUP ($warmup) and STEPS ($steps) must be multiples of LOG_INTERVAL ($interval)," \
       "so that kiln's logging windows split at the warm-up boundary" >&2
  exit 2
fi

# Same shape on both sides. SMOKE: a tiny model on the CPU, to test the plumbing anywhere.
if [[ "$smoke" == 1 ]]; then
  device=cpu
  kiln_shape=(--set model.num_layers=2 --set model.hidden_size=64 --set model.num_heads=4
              --set model.vocab_size=512 --set model.seq_length=64)   # ffn derived: 256; vocab pads to 512
  pt_shape=(--layers 2 --hidden 64 --heads 4 --ffn 256 --vocab 512 --seq 64 --device cpu)
  gemm_args=(--cpu --tiny)
else
  device=cuda
  kiln_shape=()
  pt_shape=(--seq 4096)
  gemm_args=()
fi

run_dir_parent="$out/kiln-run"
metrics="$run_dir_parent/kiln/metrics.jsonl"
# The model and batch as trained; `kiln plan` gets the same, so its memory is this run's.
model_sets=(--set "train.device=$device"
  --set data.format=synthetic --set data.tokenizer=
  --set data.reset_attention_mask=false --set data.reset_position_ids=false
  --set train.recompute=none --set "batch.micro_batch=$mb" --set batch.grad_accum=1
  "${kiln_shape[@]}")
kiln_cmd=(env "KILN_PEAK_FLOPS=${peak}e12" "$kiln" train configs/stablelm-2-1_6b.yml "${model_sets[@]}"
  --set "train.steps=$total" --set train.eval_interval=0
  --set checkpoint.interval=0 --set checkpoint.save_final=false --set checkpoint.resume=none
  --set "logging.interval=$interval"
  --set "train.output_dir=$run_dir_parent" --set train.name=kiln)
plan_cmd=("$kiln" plan configs/stablelm-2-1_6b.yml "${model_sets[@]}" --json)
compile_flag=()
[[ "${COMPILE:-1}" == 1 ]] || compile_flag=(--no-compile)
pt_cmd=("$py" "$here/pytorch_train.py" --micro-batch "$mb" --steps "$steps" --warmup-steps "$warmup"
  --peak-tflops "$peak" --out "$out/pytorch.json" "${pt_shape[@]}" "${compile_flag[@]}")
gemm_cmd=("$py" "$here/gemm_ceiling.py" --micro-batch "$mb" --peak-tflops "$peak" --out "$out/gemm_ceiling.json"
  "${gemm_args[@]}")

{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), kiln $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty')"
  echo "${kiln_cmd[*]}"
  echo "${pt_cmd[*]}"
  echo "${gemm_cmd[*]}"
} > "$out/commands.txt"

# Runs "$@" under the part's time budget $1 (seconds, empty: none); 124 when it was cut.
budgeted() {
  local budget="$1"; shift
  if [[ -n "$budget" ]]; then timeout --kill-after=10 "$budget" "$@"; else "$@"; fi
}
smi_pid=""
smi_start() {  # sample memory.used (MiB) every 200 ms into $1
  if [[ "$device" == cuda ]] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$1" 2>/dev/null &
    smi_pid=$!
  fi
}
smi_stop() {
  if [[ -n "$smi_pid" ]]; then kill "$smi_pid" 2>/dev/null; wait "$smi_pid" 2>/dev/null; smi_pid=""; fi
}
has_torch() { "$py" -c "import torch" >/dev/null 2>&1; }
rc_all=0

if wants kiln; then
  if [[ ! -x "$kiln" ]]; then
    echo "run.sh: $kiln is not an executable; make the kit (bash launch/gpu/pack.sh) or set KILN" >&2
    exit 2
  fi
  if [[ "$device" == cuda ]] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
      --format=csv > "$out/gpu.csv" 2>&1 || true
    cat "$out/gpu.csv"
  fi
  "${plan_cmd[@]}" > "$out/plan.json" 2> "$out/plan.err" || { echo "kiln plan failed:"; cat "$out/plan.err"; }
  echo "=== kiln: $total steps ($warmup warm-up), micro batch $mb"
  rm -rf "$run_dir_parent"
  smi_start "$out/nvidia-smi-kiln.csv"
  date +%s.%N > "$out/kiln_launch_time"
  budgeted "${KILN_TIMEOUT:-}" "${kiln_cmd[@]}" > "$out/kiln.log" 2>&1
  kiln_rc=$?
  smi_stop
  grep -E "step +[0-9]+/|error|done:|GPU " "$out/kiln.log" | tail -n 12
  (( kiln_rc == 124 )) && echo "kiln: stopped after ${KILN_TIMEOUT}s (KILN_TIMEOUT)"
  echo "kiln exit: $kiln_rc"
  (( kiln_rc == 0 )) || rc_all=1
fi

if wants pytorch; then
  rm -f "$out/pytorch.json" "$out/nvidia-smi-pytorch.csv"
  if has_torch; then
    echo "=== PyTorch: $warmup warm-up + $steps timed steps, micro batch $mb"
    smi_start "$out/nvidia-smi-pytorch.csv"
    budgeted "${PYTORCH_TIMEOUT:-}" "${pt_cmd[@]}" > "$out/pytorch.log" 2>&1
    pt_rc=$?
    smi_stop
    tail -n 15 "$out/pytorch.log"
    (( pt_rc == 124 )) && echo "PyTorch: stopped after ${PYTORCH_TIMEOUT}s (PYTORCH_TIMEOUT)"
    echo "PyTorch exit: $pt_rc"
    (( pt_rc == 0 )) || rc_all=1
  else
    echo "=== PyTorch: skipped, $py has no torch"
  fi
fi

if wants ceiling; then
  rm -f "$out/gemm_ceiling.json"
  if has_torch; then
    echo "=== ceilings"
    budgeted "${CEILING_TIMEOUT:-}" "${gemm_cmd[@]}" > "$out/gemm_ceiling.log" 2>&1
    g_rc=$?
    cat "$out/gemm_ceiling.log"
    (( g_rc == 124 )) && echo "ceilings: stopped after ${CEILING_TIMEOUT}s (CEILING_TIMEOUT)"
    (( g_rc == 0 )) || rc_all=1
  else
    echo "=== ceilings: skipped, $py has no torch"
  fi
fi

if wants summary; then
  echo "=== summary"
  extra=()
  [[ -f "$out/gemm_ceiling.json" ]] && extra+=(--gemm-json "$out/gemm_ceiling.json")
  [[ -f "$out/plan.json" ]] && extra+=(--plan-json "$out/plan.json")
  [[ -f "$out/kiln_launch_time" ]] && extra+=(--kiln-launch-time "$out/kiln_launch_time")
  "$py" "$here/summarize.py" --kiln-metrics "$metrics" --pytorch-json "$out/pytorch.json" \
    --kiln-warmup-steps "$warmup" --peak-tflops "$peak" --commands "$out/commands.txt" \
    --nvsmi-kiln "$out/nvidia-smi-kiln.csv" --nvsmi-pytorch "$out/nvidia-smi-pytorch.csv" \
    "${extra[@]}" --out-md "$out/summary.md" --out-json "$out/summary.json"
  (( $? == 0 )) || rc_all=1
fi
echo "outputs in $out"
exit $rc_all
