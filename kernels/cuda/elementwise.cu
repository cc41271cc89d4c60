#include "cuda/elementwise.h"

#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/cuda_check.h"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;
// Elements per 16-byte access of bf16.
constexpr int kPack = 8;
// A grid this large already keeps every SM of an H100 busy many times over; larger arrays are
// covered by the grid-stride loops instead of by more blocks.
constexpr int64_t kMaxBlocks = int64_t{1} << 16;


unsigned int grid_for(int64_t work) {
  return static_cast<unsigned int>(std::clamp<int64_t>((work + kThreads - 1) / kThreads, 1, kMaxBlocks));
}


// ---- one map kernel for every elementwise op ----
//
// An op is a functor f(x, y) on one element: x[NIn] are the inputs widened to fp32, y[NOut] the
// outputs, which hold the outputs' current values on entry when kAccumulate (backward passes add
// to them) and are written whole otherwise. The kernel does the loads, the stores and the single
// rounding per stored element, so each op is a few lines of math.
template <class TIn, int NIn, int NOut>
struct Operands {
  const TIn* in[NIn > 0 ? NIn : 1];
  bf16_t* out[NOut];
};

template <bool kVector, bool kAccumulate, class TIn, int NIn, int NOut, class F>
__global__ void map_kernel(Operands<TIn, NIn, NOut> ops, F f, int64_t n) {
  constexpr int kIn = NIn > 0 ? NIn : 1;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  int64_t done = 0;
  if constexpr (kVector) {
    // Each thread loads a whole pack of every operand before storing anything, so an output that
    // is also an input (in place) is read before it is overwritten.
    const int64_t packs = n / kPack;
    for (int64_t p = tid; p < packs; p += stride) {
      const int64_t i = p * kPack;
      float x[kIn][kPack] = {};
      float y[NOut][kPack] = {};
#pragma unroll
      for (int j = 0; j < NIn; ++j) load8(ops.in[j] + i, x[j]);
      if constexpr (kAccumulate) {
#pragma unroll
        for (int j = 0; j < NOut; ++j) load8(ops.out[j] + i, y[j]);
      }
#pragma unroll
      for (int e = 0; e < kPack; ++e) {
        float xe[kIn], ye[NOut];
#pragma unroll
        for (int j = 0; j < kIn; ++j) xe[j] = x[j][e];
#pragma unroll
        for (int j = 0; j < NOut; ++j) ye[j] = y[j][e];
        f(xe, ye);
#pragma unroll
        for (int j = 0; j < NOut; ++j) y[j][e] = ye[j];
      }
#pragma unroll
      for (int j = 0; j < NOut; ++j) store8(ops.out[j] + i, y[j]);
    }
    done = packs * kPack;
  }
  // The scalar path: everything when some pointer is not 16-byte aligned, else the last n mod 8.
  for (int64_t i = done + tid; i < n; i += stride) {
    float xe[kIn] = {}, ye[NOut] = {};
#pragma unroll
    for (int j = 0; j < NIn; ++j) xe[j] = ld(ops.in[j][i]);
    if constexpr (kAccumulate) {
#pragma unroll
      for (int j = 0; j < NOut; ++j) ye[j] = ld(ops.out[j][i]);
    }
    f(xe, ye);
#pragma unroll
    for (int j = 0; j < NOut; ++j) ops.out[j][i] = to_bf16(ye[j]);
  }
}

template <bool kAccumulate, class TIn, int NIn, int NOut, class F>
void launch_map(const Operands<TIn, NIn, NOut>& ops, F f, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  bool vector = true;
  for (int j = 0; j < NIn; ++j) vector = vector && aligned16(ops.in[j]);
  for (int j = 0; j < NOut; ++j) vector = vector && aligned16(ops.out[j]);
  if (vector) {
    map_kernel<true, kAccumulate><<<grid_for(n / kPack), kThreads, 0, stream>>>(ops, f, n);
  } else {
    map_kernel<false, kAccumulate><<<grid_for(n), kThreads, 0, stream>>>(ops, f, n);
  }
  KILN_CUDA_CHECK_LAUNCH();
}

// ---- the ops: cpu/mlp_activation.cpp and cpu/residual.cpp, formula for formula ----

struct FillOp {
  float value;
  __device__ void operator()(const float* /*x*/, float* y) const { y[0] = value; }
};

struct CopyOp {
  __device__ void operator()(const float* x, float* y) const { y[0] = x[0]; }
};

// σ(g) without overflow: e^−g overflows for g below about −89, so that side is e^g / (1 + e^g).
__device__ __forceinline__ float sigmoid(float g) {
  if (g >= 0.0f) return 1.0f / (1.0f + expf(-g));
  const float e = expf(g);
  return e / (1.0f + e);
}

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

__device__ __forceinline__ float normal_cdf(float x) { return 0.5f * (1.0f + erff(x * kInvSqrt2)); }

struct SwigluForward {  // x = (gate, up)
  __device__ void operator()(const float* x, float* y) const { y[0] = x[0] * sigmoid(x[0]) * x[1]; }
};

struct SwigluBackward {  // x = (dout, gate, up), y = (dgate, dup)
  __device__ void operator()(const float* x, float* y) const {
    const float dout = x[0], g = x[1], up = x[2];
    const float s = sigmoid(g);
    const float silu = g * s;
    const float dsilu = s * (1.0f + g * (1.0f - s));
    y[0] += dout * up * dsilu;
    y[1] += dout * silu;
  }
};

struct GeluForward {
  __device__ void operator()(const float* x, float* y) const { y[0] = x[0] * normal_cdf(x[0]); }
};

struct GeluBackward {  // x = (dout, inp)
  __device__ void operator()(const float* x, float* y) const {
    const float v = x[1];
    const float pdf = kInvSqrt2Pi * expf(-0.5f * v * v);
    y[0] += x[0] * (normal_cdf(v) + v * pdf);
  }
};

struct AddOp {  // x = (a, b)
  __device__ void operator()(const float* x, float* y) const { y[0] = x[0] + x[1]; }
};

template <int NOut>
struct AccumulateOp {  // x = (dout): every output += dout
  __device__ void operator()(const float* x, float* y) const {
#pragma unroll
    for (int j = 0; j < NOut; ++j) y[j] += x[0];
  }
};

struct ScaleForward {
  float s;
  __device__ void operator()(const float* x, float* y) const { y[0] = s * x[0]; }
};

struct ScaleBackward {
  float s;
  __device__ void operator()(const float* x, float* y) const { y[0] += s * x[0]; }
};

// ---- kernels that need the element's index ----

__global__ void fill_positions_kernel(int32_t* pos, int64_t n, int T) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    pos[i] = static_cast<int32_t>(i % T);
}

// kVector: OC is a multiple of 8 and both pointers are 16-byte aligned, so n = N·OC is too and a
// pack never crosses a row (its 8 bias values are consecutive).
template <bool kVector>
__global__ void bias_add_kernel(bf16_t* out, const bf16_t* bias, int64_t n, int OC) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  const int64_t tid = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if constexpr (kVector) {
    for (int64_t p = tid; p < n / kPack; p += stride) {
      const int64_t i = p * kPack;
      float o[kPack], b[kPack];
      load8(out + i, o);
      load8(bias + i % OC, b);
#pragma unroll
      for (int k = 0; k < kPack; ++k) o[k] += b[k];
      store8(out + i, o);
    }
  } else {
    for (int64_t i = tid; i < n; i += stride) out[i] = to_bf16(ld(out[i]) + ld(bias[i % OC]));
  }
}

}  // namespace

void fill(bf16_t* out, float value, int64_t n, cudaStream_t stream) {
  launch_map<false>(Operands<bf16_t, 0, 1>{{nullptr}, {out}}, FillOp{value}, n, stream);
}

void convert_to_bf16(bf16_t* out, const float* inp, int64_t n, cudaStream_t stream) {
  launch_map<false>(Operands<float, 1, 1>{{inp}, {out}}, CopyOp{}, n, stream);
}

void fill_positions(int32_t* pos, int B, int T, cudaStream_t stream) {
  if (B <= 0 || T <= 0) return;
  const int64_t n = int64_t{B} * T;
  fill_positions_kernel<<<grid_for(n), kThreads, 0, stream>>>(pos, n, T);
  KILN_CUDA_CHECK_LAUNCH();
}

void swiglu_forward(bf16_t* out, const bf16_t* gate, const bf16_t* up, int64_t n, cudaStream_t stream) {
  launch_map<false>(Operands<bf16_t, 2, 1>{{gate, up}, {out}}, SwigluForward{}, n, stream);
}

void swiglu_backward(bf16_t* dgate, bf16_t* dup, const bf16_t* dout, const bf16_t* gate, const bf16_t* up,
                     int64_t n, cudaStream_t stream) {
  launch_map<true>(Operands<bf16_t, 3, 2>{{dout, gate, up}, {dgate, dup}}, SwigluBackward{}, n, stream);
}

void gelu_forward(bf16_t* out, const bf16_t* inp, int64_t n, cudaStream_t stream) {
  launch_map<false>(Operands<bf16_t, 1, 1>{{inp}, {out}}, GeluForward{}, n, stream);
}

void gelu_backward(bf16_t* dinp, const bf16_t* dout, const bf16_t* inp, int64_t n, cudaStream_t stream) {
  launch_map<true>(Operands<bf16_t, 2, 1>{{dout, inp}, {dinp}}, GeluBackward{}, n, stream);
}

void residual_forward(bf16_t* out, const bf16_t* a, const bf16_t* b, int64_t n, cudaStream_t stream) {
  launch_map<false>(Operands<bf16_t, 2, 1>{{a, b}, {out}}, AddOp{}, n, stream);
}

void residual_backward(bf16_t* da, bf16_t* db, const bf16_t* dout, int64_t n, cudaStream_t stream) {
  if (da && db) {
    launch_map<true>(Operands<bf16_t, 1, 2>{{dout}, {da, db}}, AccumulateOp<2>{}, n, stream);
  } else if (da || db) {
    launch_map<true>(Operands<bf16_t, 1, 1>{{dout}, {da ? da : db}}, AccumulateOp<1>{}, n, stream);
  }
}

void scale_forward(bf16_t* out, const bf16_t* inp, float s, int64_t n, cudaStream_t stream) {
  launch_map<false>(Operands<bf16_t, 1, 1>{{inp}, {out}}, ScaleForward{s}, n, stream);
}

void scale_backward(bf16_t* dinp, const bf16_t* dout, float s, int64_t n, cudaStream_t stream) {
  launch_map<true>(Operands<bf16_t, 1, 1>{{dout}, {dinp}}, ScaleBackward{s}, n, stream);
}

void bias_add_forward(bf16_t* out, const bf16_t* bias, int N, int OC, cudaStream_t stream) {
  if (N <= 0 || OC <= 0) return;
  const int64_t n = int64_t{N} * OC;
  if (OC % kPack == 0 && aligned16(out) && aligned16(bias)) {
    bias_add_kernel<true><<<grid_for(n / kPack), kThreads, 0, stream>>>(out, bias, n, OC);
  } else {
    bias_add_kernel<false><<<grid_for(n), kThreads, 0, stream>>>(out, bias, n, OC);
  }
  KILN_CUDA_CHECK_LAUNCH();
}

}  // namespace kiln::cuda
