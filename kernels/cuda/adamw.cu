#include "cuda/adamw.h"

#include <climits>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
// Elements a thread has in flight per pass: their loads are issued before any arithmetic, so a
// thread waits on memory once per kUnroll elements (the kernel is bandwidth-bound: 28 bytes moved
// per element for a handful of flops).
constexpr int kUnroll = 4;
static_assert(kAdamWChunkElements % (kThreads * kUnroll) == 0, "a chunk is whole passes of the block");

// torch's lerp (cpu/adamw.cpp's torch_lerp) with every operation rounded on its own.
__device__ __forceinline__ float torch_lerp(float start, float end, float weight) {
  return weight < 0.5f ? __fadd_rn(start, __fmul_rn(weight, __fsub_rn(end, start)))
                       : __fsub_rn(end, __fmul_rn(__fsub_rn(end, start), __fsub_rn(1.0f, weight)));
}

// One block per chunk; thread t handles elements t, t + 256, … of the chunk, so every load and
// store of a warp is one contiguous run.
__global__ void __launch_bounds__(kThreads)
    adamw_kernel(float* __restrict__ master, float* __restrict__ m, float* __restrict__ v,
                 const bf16_t* __restrict__ grad, bf16_t* __restrict__ param_out,
                 const AdamWChunk* __restrict__ chunks, const AdamWScalars s) {
  const AdamWChunk chunk = chunks[blockIdx.x];
  const float decay = s.group[chunk.group].decay;
  const float neg_step_size = s.group[chunk.group].neg_step_size;
  float* const master_c = master + chunk.begin;
  float* const m_c = m + chunk.begin;
  float* const v_c = v + chunk.begin;
  const bf16_t* const grad_c = grad + chunk.begin;
  bf16_t* const out_c = param_out != nullptr ? param_out + chunk.begin : nullptr;

  for (int base = threadIdx.x; base < chunk.length; base += kThreads * kUnroll) {
    float g[kUnroll], p[kUnroll], mm[kUnroll], vv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int k = base + u * kThreads;
      if (k < chunk.length) {
        g[u] = ld(grad_c[k]);
        p[u] = master_c[k];
        mm[u] = m_c[k];
        vv[u] = v_c[k];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int k = base + u * kThreads;
      if (k < chunk.length) {
        // The CPU reference's statements, one rounding per operation (see adamw.h).
        const float gs = __fmul_rn(g[u], s.grad_scale);
        float pn = __fmul_rn(p[u], decay);
        const float mn = torch_lerp(mm[u], gs, s.one_minus_beta1);
        const float vn = __fadd_rn(__fmul_rn(vv[u], s.beta2), __fmul_rn(__fmul_rn(s.one_minus_beta2, gs), gs));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vn), s.bc2_sqrt), s.eps);
        pn = __fadd_rn(pn, __fdiv_rn(__fmul_rn(neg_step_size, mn), denom));
        m_c[k] = mn;
        v_c[k] = vn;
        master_c[k] = pn;
        if (out_c != nullptr) out_c[k] = to_bf16(pn);
      }
    }
  }
}

}  // namespace

void adamw_update(float* master, float* m, float* v, const bf16_t* grad, bf16_t* param_out,
                  const AdamWChunk* chunks, int64_t n_chunks, const AdamWScalars& scalars,
                  cudaStream_t stream) {
  if (n_chunks < 0 || n_chunks > INT_MAX) {
    throw std::invalid_argument("adamw_update: " + std::to_string(n_chunks) + " chunks (at most " +
                                std::to_string(INT_MAX) + ")");
  }
  if (n_chunks == 0) return;
  if (scalars.n_groups < 1 || scalars.n_groups > kAdamWMaxGroups) {
    throw std::invalid_argument("adamw_update: " + std::to_string(scalars.n_groups) + " groups (1 to " +
                                std::to_string(kAdamWMaxGroups) + ")");
  }
  adamw_kernel<<<static_cast<unsigned int>(n_chunks), kThreads, 0, stream>>>(master, m, v, grad, param_out,
                                                                             chunks, scalars);
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
