// Gradient norm and clipping coefficient (CPU reference kernel).
//
// Global-norm clipping needs the L2 norm of all gradients. With flat buffers each rank sums the
// squares of its own contiguous slice (sum_of_squares), the dist layer adds the partial sums across
// ranks, and the trainer takes the square root and turns it into a scale with clip_coefficient.
// That scale goes to AdamW as grad_scale (adamw.h), so clipping never makes a pass of its own.
//
// Which elements to count is the caller's business: under tensor parallelism a replicated tensor
// (a LayerNorm weight, say) must be counted on one TP rank only, or the norm comes out too large.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// sum_of_squares adds the squares in fixed chunks of this many elements: each chunk is summed
// sequentially from zero, then the chunk sums are added in index order. That order depends only on
// n, never on the number of threads, so the result is bitwise reproducible.
inline constexpr int64_t kSumOfSquaresChunk = 4096;

// Σ x[i]² over [0, n), accumulated in double in the fixed order described above (n >= 0; 0 for
// n == 0). Each square is exact in double (a 24-bit significand squared fits in 53 bits), so only
// the additions round, and in double the result is good to ~1e-16 relative for any realistic n:
// an fp32 accumulator would lose digits over a billion terms.
//
// A different slicing of the same buffer (another DP size) adds the same squares in a different
// grouping, so totals from different slicings can differ in the last bits.
double sum_of_squares(const float* x, int64_t n);

// The factor to multiply the gradients by so that their norm is at most max_norm:
// min(1, max_norm / (total_norm + 1e-6)). The 1e-6 is the one PyTorch's clip_grad_norm_ and
// Megatron's clip_grad_norm_fp32 add: it keeps a zero norm from dividing by zero, and it makes the
// clipped norm land just under max_norm, never over. max_norm <= 0 disables clipping and gives 1.
//
// total_norm is the L2 norm (the square root of the summed squares), >= 0. With clipping on, a NaN
// total_norm gives NaN and +Inf gives 0, never a harmless-looking 1; the trainer checks
// std::isfinite(total_norm) first and skips the step.
double clip_coefficient(double total_norm, double max_norm);

}  // namespace kiln::cpu
