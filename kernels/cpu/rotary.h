// Partial rotary position embedding, GPT-NeoX "rotate-half" form (SPEC.md §1).
//
// Stable LM 2 and StableLM-3B-4E1T rotate only the first R = rotary_dims of each head's D
// dimensions (25%: 16 of 64, 20 of 80); dimensions [R, D) pass through unchanged. The rotated part
// is split into two halves, not interleaved pairs: for i < R/2 the pair (x[i], x[i + R/2]) is
// rotated by the angle pos·freq_i, freq_i = theta^(−2i/R):
//
//   out[i]       = x[i]·cos − x[i + R/2]·sin
//   out[i + R/2] = x[i + R/2]·cos + x[i]·sin
//
// which is Hugging Face's `q·cos + rotate_half(q)·sin` with rotate_half(x) = cat(−x2, x1).
//
// Positions come from a position id per token rather than from the token's index, so packed
// sequences with `reset_position_ids` (positions restart at 0 at each document) need nothing
// special: the data loader writes the ids, the kernel just looks them up.
//
// Layout: x is [N, H, D] row-major, N tokens (a [B, T, H, D] batch is N = B·T), pos is [N].
// The same kernel serves q and k (call it once on each).
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::cpu {

// cos and sin of every (position, frequency) pair, built once at start-up for positions
// 0 .. max_positions − 1 so that the step loop neither allocates nor calls cos/sin.
//
// Angles and their cos/sin are computed in double and rounded to Real once. (Hugging Face forms
// the angle pos·freq in fp32, which loses a few bits at large positions; kiln's tables are the
// more accurate of the two, and the CUDA path must upload these same tables.)
template <typename Real>
struct RotaryTable {
  // Throws std::invalid_argument unless rotary_dims is positive and even, max_positions is
  // positive and theta > 0.
  RotaryTable(int rotary_dims, int max_positions, double theta);

  int rotary_dims;        // R: rotated dimensions per head, even
  int max_positions;      // position ids must lie in [0, max_positions)
  double theta;           // base of the frequencies (10,000 for the StableLM models)
  std::vector<Real> cos;  // [max_positions, R/2]: cos(pos · theta^(−2i/R))
  std::vector<Real> sin;  // [max_positions, R/2]: sin(pos · theta^(−2i/R))
};

// out = rotate(inp): inp, out [N, H, D]; pos [N], each in [0, table.max_positions).
// Requires table.rotary_dims ≤ D. OVERWRITES out. In place is allowed (out == inp); any other
// overlap is not. Dimensions [R, D) are copied (a no-op in place).
template <typename Real>
void rotary_forward(Real* out, const Real* inp, const int32_t* pos, const RotaryTable<Real>& table,
                    int N, int H, int D);

// dinp += rotateᵀ(dout), the rotation by the opposite angle (a rotation is orthogonal, so its
// transpose is its inverse). dinp, dout [N, H, D]; pos as in the forward pass. The forward pass
// saves nothing: backward needs only the positions.
// ACCUMULATES into dinp, as every kiln backward does for input gradients: zero it first if it
// holds nothing yet. dinp must not alias dout.
template <typename Real>
void rotary_backward(Real* dinp, const Real* dout, const int32_t* pos,
                     const RotaryTable<Real>& table, int N, int H, int D);

}  // namespace kiln::cpu
