#include "cpu/alibi.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace kiln::cpu {

double alibi_slope(int head, int n_heads) {
  if (n_heads < 1 || head < 0 || head >= n_heads)
    throw std::invalid_argument("alibi_slope: head " + std::to_string(head) + " of " +
                                std::to_string(n_heads) + " heads");
  // p: the largest power of two not above n_heads.
  int p = 1;
  while (2 * p <= n_heads) p *= 2;
  // Heads below p: the p-head sequence, 2^(−8(h+1)/p).
  if (head < p) return std::exp2(-8.0 * (head + 1) / p);
  // The rest: the odd-numbered (1st, 3rd, …) slopes of the 2p-head sequence, 2^(−8(2e+1)/2p).
  const int extra = head - p;
  return std::exp2(-8.0 * (2 * extra + 1) / (2 * p));
}

template <typename Real>
void alibi_slopes(Real* slopes, int n_heads, int head_begin, int head_count) {
  if (head_begin < 0 || head_count < 0 || head_begin + head_count > n_heads)
    throw std::invalid_argument("alibi_slopes: heads [" + std::to_string(head_begin) + ", " +
                                std::to_string(head_begin + head_count) + ") are not inside [0, " +
                                std::to_string(n_heads) + ")");
  for (int k = 0; k < head_count; ++k)
    slopes[k] = static_cast<Real>(alibi_slope(head_begin + k, n_heads));
}

template void alibi_slopes<float>(float*, int, int, int);
template void alibi_slopes<double>(double*, int, int, int);

}  // namespace kiln::cpu
