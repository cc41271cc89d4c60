#!/usr/bin/env bash
# One GPU, kiln vs PyTorch on the Stable LM 2 1.6B architecture (issue 8), one after the other on
# the same GPU, then a Markdown summary (docs/performance.md, "One GPU: kiln vs PyTorch").
#
#   bash bench/side_by_side/run.sh                 # after launch/gpu/build-and-test.sh built build-gpu/
#   SMOKE=1 KILN=build/kiln bash bench/side_by_side/run.sh    # CPU plumbing test, tiny shape on both sides
#
# Steps:
#   1. kiln train configs/stablelm-2-1_6b.yml on cuda, synthetic data, WARMUP + STEPS steps, one
#      micro batch per step, no evaluation, KILN_PEAK_FLOPS set so metrics.jsonl carries mfu.
#      kiln has no switch that turns the final checkpoint (23 GB for this model) off, so by
#      default the script stops kiln with SIGTERM (checkpoint.save_on_signal=false: no save)
#      once the last step's metrics record is written; KILN_FINISH=1 lets it finish instead and
#      deletes the checkpoint afterwards.
#   2. pytorch_train.py: Hugging Face StableLmForCausalLM of the same shape, sdpa attention,
#      torch.compile, fused AdamW, bf16 autocast over fp32 weights; WARMUP untimed + STEPS timed.
#   3. gemm_ceiling.py (CEILING=1, the default): GEMM TFLOP/s at the model's shapes and copy GB/s.
#   4. summarize.py: summary.md / summary.json.
# nvidia-smi's memory.used is sampled every 200 ms during steps 1 and 2 when nvidia-smi exists.
#
# Environment (defaults): OUT (runs/side-by-side), KILN (build-gpu/kiln), PYTHON (python3),
# STEPS (40, timed), WARMUP (10, untimed; a multiple of LOG_INTERVAL), LOG_INTERVAL (5),
# MICRO_BATCH (2), PEAK_TFLOPS (989: H100 SXM dense bf16), COMPILE (1), CEILING (1),
# KILN_FINISH (0), SKIP_KILN (0), SKIP_PYTORCH (0), SMOKE (0).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/side_by_side"
cd "$root" || exit 2

out="${OUT:-runs/side-by-side}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
kiln="${KILN:-build-gpu/kiln}"
py="${PYTHON:-python3}"
steps="${STEPS:-40}"
warmup="${WARMUP:-10}"
interval="${LOG_INTERVAL:-5}"
mb="${MICRO_BATCH:-2}"
peak="${PEAK_TFLOPS:-989}"
total=$((warmup + steps))
smoke="${SMOKE:-0}"

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
ckpt_dir="$(mktemp -d /tmp/kiln-side-by-side-ckpt.XXXXXX)"
kiln_cmd=(env "KILN_PEAK_FLOPS=${peak}e12" "$kiln" train configs/stablelm-2-1_6b.yml
  --set "train.device=$device"
  --set data.format=synthetic --set data.tokenizer=
  --set data.reset_attention_mask=false --set data.reset_position_ids=false
  --set train.recompute=none
  --set "train.steps=$total" --set "batch.micro_batch=$mb" --set batch.grad_accum=1
  --set train.eval_interval=0
  --set checkpoint.interval=0 --set checkpoint.save_on_signal=false --set checkpoint.resume=none
  --set "checkpoint.dir=$ckpt_dir"
  --set "logging.interval=$interval"
  --set "train.output_dir=$run_dir_parent" --set train.name=kiln
  "${kiln_shape[@]}")
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
  [[ "${CEILING:-1}" == 1 ]] && echo "${gemm_cmd[*]}"
} > "$out/commands.txt"
cat "$out/commands.txt"
# No stale results from an earlier run in the summary.
[[ "${SKIP_PYTORCH:-0}" == 1 ]] || rm -f "$out/pytorch.json" "$out/nvidia-smi-pytorch.csv"
[[ "${CEILING:-1}" != 1 ]] || rm -f "$out/gemm_ceiling.json"
rm -f "$out/summary.md" "$out/summary.json"

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
if [[ "$device" == cuda ]] && command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit \
    --format=csv > "$out/gpu.csv" 2>&1 || true
  cat "$out/gpu.csv"
fi

kiln_rc=skipped
if [[ "${SKIP_KILN:-0}" != 1 ]]; then
  if [[ ! -x "$kiln" ]]; then
    echo "run.sh: $kiln is not an executable; build it (bash launch/gpu/build-and-test.sh) or set KILN" >&2
    exit 2
  fi
  echo "=== kiln: $total steps ($warmup warm-up), micro batch $mb"
  rm -rf "$run_dir_parent"
  smi_start "$out/nvidia-smi-kiln.csv"
  "${kiln_cmd[@]}" > "$out/kiln.log" 2>&1 &
  kiln_pid=$!
  stopped=0
  while kill -0 "$kiln_pid" 2>/dev/null; do
    # The last step's training record (it has tokens_per_s; the evaluation record after it has not).
    if [[ "${KILN_FINISH:-0}" != 1 ]] && grep -q "\"step\":$total,.*\"tokens_per_s\"" "$metrics" 2>/dev/null; then
      kill -TERM "$kiln_pid" 2>/dev/null && stopped=1
      break
    fi
    sleep 0.5
  done
  wait "$kiln_pid"
  kiln_rc=$?
  smi_stop
  (( stopped )) && { echo "(kiln stopped with SIGTERM after its last metrics record; no final checkpoint)"; kiln_rc="0 (stopped after the last record)"; }
  grep -E "step +[0-9]+/|error|done:" "$out/kiln.log" | tail -n 12
  echo "kiln exit: $kiln_rc"
fi
rm -rf "$ckpt_dir"

pt_rc=skipped
if [[ "${SKIP_PYTORCH:-0}" != 1 ]]; then
  echo "=== PyTorch: $warmup warm-up + $steps timed steps, micro batch $mb"
  smi_start "$out/nvidia-smi-pytorch.csv"
  "${pt_cmd[@]}" 2>&1 | tee "$out/pytorch.log"
  pt_rc=${PIPESTATUS[0]}
  smi_stop
  echo "PyTorch exit: $pt_rc"
fi

if [[ "${CEILING:-1}" == 1 ]]; then
  echo "=== ceilings"
  "${gemm_cmd[@]}" 2>&1 | tee "$out/gemm_ceiling.log"
fi

echo "=== summary"
gemm_json=()
[[ -f "$out/gemm_ceiling.json" ]] && gemm_json=(--gemm-json "$out/gemm_ceiling.json")
"$py" "$here/summarize.py" --kiln-metrics "$metrics" --pytorch-json "$out/pytorch.json" \
  --kiln-warmup-steps "$warmup" --peak-tflops "$peak" --commands "$out/commands.txt" \
  --nvsmi-kiln "$out/nvidia-smi-kiln.csv" --nvsmi-pytorch "$out/nvidia-smi-pytorch.csv" \
  "${gemm_json[@]}" --out-md "$out/summary.md" --out-json "$out/summary.json"
rc=$?
echo "kiln: $kiln_rc; PyTorch: $pt_rc; outputs in $out"
exit $rc
