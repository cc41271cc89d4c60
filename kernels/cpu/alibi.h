// ALiBi (Press et al., "Train Short, Test Long"), as BTLM uses it (SPEC.md §3).
//
// Instead of position embeddings, each head h adds a linear penalty to its attention scores:
//
//   score[i, j] += −slope_h · |i − j|        (causal attention only sees j ≤ i: −slope_h·(i − j))
//
// The bias is added after the q·k scale (1/sqrt(D) or µP's 1/D), not scaled by it.
//
// Slopes for n heads, n a power of two: a geometric sequence starting at and with ratio
// start = 2^(−8/n), so slope_h = start^(h+1) = 2^(−8(h+1)/n); for 8 heads 1/2, 1/4, …, 1/256.
//
// n not a power of two (the recipe of the reference ALiBi code, which Hugging Face's BTLM and
// BLOOM also follow): take the largest power of two p < n and give heads 0 .. p−1 the p-head
// slopes; the remaining n − p heads take every other slope of the 2p-head sequence, starting with
// its first — 2^(−8·1/2p), 2^(−8·3/2p), … — which are the geometric midpoints between the slopes
// already used, so the extra heads interleave with them instead of repeating them. For 12 heads:
// 2^−1 … 2^−8, then 2^−0.5, 2^−1.5, 2^−2.5, 2^−3.5.
//
// Under tensor parallelism a rank holds a contiguous slice of heads; slopes are always those of
// the global head index, so the split does not change the model.
#pragma once

namespace kiln::cpu {

// Slope of global head `head` (0-based) of a model with `n_heads` heads, computed in double.
// Throws std::invalid_argument unless n_heads ≥ 1 and 0 ≤ head < n_heads.
double alibi_slope(int head, int n_heads);

// slopes[k] = alibi_slope(head_begin + k, n_heads) for k < head_count: the slopes of the slice of
// heads [head_begin, head_begin + head_count) that one tensor-parallel rank holds. OVERWRITES
// slopes[0 .. head_count). Meant for start-up (the result is a small constant buffer).
// Throws std::invalid_argument if the slice is not inside [0, n_heads).
template <typename Real>
void alibi_slopes(Real* slopes, int n_heads, int head_begin, int head_count);

// The bias itself, −slope·|i − j|, for query position i and key position j.
template <typename Real>
inline Real alibi_bias(Real slope, int i, int j) {
  return -slope * static_cast<Real>(i >= j ? i - j : j - i);
}

}  // namespace kiln::cpu
