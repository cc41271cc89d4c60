#!/usr/bin/env bash
# kiln's tokenizer against Hugging Face `tokenizers` on the same text and thread count.
#
#   bench/tokenizer_vs_hf.sh [build dir=build] [threads...=1 2]
#
# The text is made offline: the UTF-8 .py files of this Python's standard library (outside test
# folders, then those in them) and /usr/share/common-licenses, in sorted path order, up to 32 MB. Both sides cut it into the same documents (whole lines, at least 4096 bytes each),
# encode them with GPT-2's tokenizer.json (shared/reference/tokenizers) and report the best of 3
# passes; loading is not timed. Hugging Face runs encode_batch(add_special_tokens=False) with
# RAYON_NUM_THREADS=N; kiln runs bench/tokenizer_bench with N threads. The token counts printed
# by both must be equal.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
shift || true
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
tokenizer="${KILN_BENCH_TOKENIZER:-$here/../shared/reference/tokenizers/gpt2-tokenizer.json}"
text="${KILN_BENCH_TEXT:-${TMPDIR:-/tmp}/kiln-tokenizer-bench.txt}"

if [ ! -s "$text" ]; then
  python3 - "$text" <<'PY'
import glob, os, sys, sysconfig
py = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "**", "*.py"), recursive=True))
py = [p for p in py if "-packages" not in p]
is_test = lambda p: "/test/" in p or "/tests/" in p
paths = [p for p in py if not is_test(p)] + sorted(glob.glob("/usr/share/common-licenses/*")) + [p for p in py if is_test(p)]
size = 0
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for p in paths:
        try:
            text = open(p, encoding="utf-8").read()
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        out.write(text)
        size += len(text.encode("utf-8"))
        if size >= 32 << 20:
            break
PY
fi
echo "text: $text ($(stat -c %s "$text") bytes); tokenizer: $tokenizer"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

for n in "${threads[@]}"; do
  "$build/bench/tokenizer_bench" "$tokenizer" "$text" "$n" 3
  RAYON_NUM_THREADS="$n" TOKENIZERS_PARALLELISM=true python3 - "$tokenizer" "$text" "$n" <<'PY'
import sys, time
import tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
data = text.encode("utf-8")
docs, start = [], 0
while start < len(data):  # the same cut as tokenizer_bench.cpp, in bytes
    end = start + 4096
    if end >= len(data):
        end = len(data)
    else:
        nl = data.find(b"\n", end)
        end = len(data) if nl < 0 else nl + 1
    docs.append(data[start:end].decode("utf-8"))
    start = end
best, tokens = 1e30, 0
for _ in range(3):
    t0 = time.perf_counter()
    out = tok.encode_batch(docs, add_special_tokens=False)
    best = min(best, time.perf_counter() - t0)
    tokens = sum(len(e.ids) for e in out)
print("hf tokenizers %s: threads=%s documents=%d bytes=%d tokens=%d best of 3: %.3f s  %.2f MB/s  %.0f tokens/s"
      % (tokenizers.__version__, sys.argv[3], len(docs), len(data), tokens, best, len(data) / 1e6 / best, tokens / best))
PY
done
