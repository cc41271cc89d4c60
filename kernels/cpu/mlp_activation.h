// The MLP's nonlinearities: SwiGLU (StableLM, BTLM) and GELU.
//
// SwiGLU, Hugging Face's `down(silu(gate(x)) * up(x))` without the projections:
//
//   out = silu(gate) ⊙ up,   silu(g) = g·σ(g),   σ(g) = 1 / (1 + e^−g)
//
// gate and up come in as two separate arrays, not as one [N, 2F] GEMM output split down the
// middle, because kiln keeps them as separate weights, as the checkpoints do
// (`mlp.gate_proj`, `mlp.up_proj`): tensor parallelism slices each along F, so a rank's slices are
// two plain [F/tp, C] tensors, and each projection is its own GEMM writing its own [N, F] buffer.
// A fused layout would tie the kernel to one memory arrangement of two parameters for no gain at
// this level.
//
// GELU is the exact one, x·Φ(x) = x/2·(1 + erf(x/√2)): torch's default F.gelu and Hugging Face's
// "gelu" (GPT-NeoX/Pythia configs' `hidden_act`). The tanh approximation (HF "gelu_new", NeoX's
// fused bias-gelu) differs from it by up to ~1e-3 and is a different model; it is not offered.
//
// Both are elementwise, so the shape does not matter: every array holds n elements (n = N·F for an
// [N, F] activation). Math is in Real.
//
// Gradient convention (all of kernels/cpu): backward ACCUMULATES (+=) into dgate, dup and dinp;
// the caller zeroes them before their first contribution. Gradient outputs must not alias any
// input. Forward functions OVERWRITE out, which may alias an input (in place).
#pragma once

#include <cstdint>

namespace kiln::cpu {

// out[i] = silu(gate[i])·up[i].
template <typename Real>
void swiglu_forward(Real* out, const Real* gate, const Real* up, int64_t n);

//   dgate[i] += dout[i]·up[i]·silu′(gate[i]),   silu′(g) = σ(g)·(1 + g·(1 − σ(g)))
//   dup[i]   += dout[i]·silu(gate[i])
// gate and up are the forward pass's inputs (the output is not needed).
template <typename Real>
void swiglu_backward(Real* dgate, Real* dup, const Real* dout, const Real* gate, const Real* up,
                     int64_t n);

// out[i] = gelu(inp[i]) = inp[i]·Φ(inp[i]).
template <typename Real>
void gelu_forward(Real* out, const Real* inp, int64_t n);

// dinp[i] += dout[i]·(Φ(x) + x·φ(x)), x = inp[i], φ the standard normal density.
template <typename Real>
void gelu_backward(Real* dinp, const Real* dout, const Real* inp, int64_t n);

}  // namespace kiln::cpu
