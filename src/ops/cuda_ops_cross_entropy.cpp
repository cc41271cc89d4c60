// CudaOps: the fused softmax cross-entropy and its vocab-parallel form (cpu/cross_entropy.h) on the
// GPU kernels of cuda/cross_entropy.h. The loss sums come back through sum_to_host (a fixed-order
// double sum of losses[]), the one synchronising step of the op.
#include <cuda_bf16.h>

#include <stdexcept>
#include <string>

#include "cuda/cross_entropy.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

__nv_bfloat16* dev(bf16* p) { return reinterpret_cast<__nv_bfloat16*>(p); }
const __nv_bfloat16* dev(const bf16* p) { return reinterpret_cast<const __nv_bfloat16*>(p); }

// Row lengths past 2^30 would let the kernels' int element index overflow; no vocabulary is near.
constexpr int kMaxVocab = 1 << 30;

// min_V: 1 for the single-rank op (a row needs a target), 0 for a vocab-parallel shard.
void check_rows(const char* op, int N, int V, int min_V) {
  if (N < 0 || (N > 0 && V < min_V) || V > kMaxVocab)
    throw std::invalid_argument(std::string("CudaOps::") + op + ": bad shape N = " + std::to_string(N) +
                                ", V = " + std::to_string(V) + " (need N >= 0 and " + std::to_string(min_V) +
                                " <= V <= 2^30)");
}

}  // namespace

double CudaOps::softmax_cross_entropy(bf16* dlogits, float* losses, const bf16* logits, const int32_t* targets,
                                      const bf16* mask, int N, int V, float logit_scale, float dloss_scale) {
  check_rows("softmax_cross_entropy", N, V, 1);
  if (N == 0) return 0.0;
  cuda::softmax_cross_entropy(dev(dlogits), losses, dev(logits), targets, dev(mask), N, V, logit_scale, dloss_scale,
                              stream_);
  return sum_to_host(losses, N);
}

void CudaOps::vocab_parallel_ce_max(float* row_max, const bf16* logits, const bf16* mask, int N, int V_local,
                                    float logit_scale) {
  check_rows("vocab_parallel_ce_max", N, V_local, 0);
  cuda::vocab_parallel_ce_max(row_max, dev(logits), dev(mask), N, V_local, logit_scale, stream_);
}

void CudaOps::vocab_parallel_ce_sums(float* sums, const bf16* logits, const int32_t* targets, const bf16* mask,
                                     const float* row_max, int N, int V_local, int vocab_begin, float logit_scale) {
  check_rows("vocab_parallel_ce_sums", N, V_local, 0);
  cuda::vocab_parallel_ce_sums(sums, dev(logits), targets, dev(mask), row_max, N, V_local, vocab_begin, logit_scale,
                               stream_);
}

double CudaOps::vocab_parallel_ce_finish(bf16* dlogits, float* losses, const bf16* logits, const int32_t* targets,
                                         const bf16* mask, const float* row_max, const float* sums, int N,
                                         int V_local, int vocab_begin, float logit_scale, float dloss_scale) {
  check_rows("vocab_parallel_ce_finish", N, V_local, 0);
  if (N == 0) return 0.0;
  cuda::vocab_parallel_ce_finish(dev(dlogits), losses, dev(logits), targets, dev(mask), row_max, sums, N, V_local,
                                 vocab_begin, logit_scale, dloss_scale, stream_);
  return sum_to_host(losses, N);
}

}  // namespace kiln
