// Residual addition and scaling by a constant: trivial, but part of the op set so that a block's
// forward and backward read as a sequence of kernel calls, and so the CUDA backend has a
// reference for each.
//
//   residual:  out = a + b                 (the residual stream plus a branch's output)
//   scale:     out = s·x                   (µP multipliers, when they are not folded into a
//                                           neighbouring kernel as embedding_forward and
//                                           softmax_cross_entropy fold theirs)
//
// Elementwise: every array holds n elements, whatever its shape. Forward functions OVERWRITE out,
// which may alias an input (in place: x = x + branch).
//
// Gradient convention (all of kernels/cpu): backward ACCUMULATES (+=); gradient outputs must not
// alias any input. Note that with accumulating backward passes a residual connection usually
// needs no call at all: the branch's backward adds its input gradient straight into the residual
// stream's gradient buffer. residual_backward is the explicit form, for callers that keep the two
// gradients apart.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// out[i] = a[i] + b[i].
template <typename Real>
void residual_forward(Real* out, const Real* a, const Real* b, int64_t n);

// da[i] += dout[i]; db[i] += dout[i]. Either of da, db may be null (skipped).
template <typename Real>
void residual_backward(Real* da, Real* db, const Real* dout, int64_t n);

// out[i] = s·inp[i].
template <typename Real>
void scale_forward(Real* out, const Real* inp, Real s, int64_t n);

// dinp[i] += s·dout[i].
template <typename Real>
void scale_backward(Real* dinp, const Real* dout, Real s, int64_t n);

}  // namespace kiln::cpu
