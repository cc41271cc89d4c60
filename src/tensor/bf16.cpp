#include "tensor/bf16.h"

namespace kiln {

// Out of line so that callers need not inline a loop per call site; the element functions are
// branch-light enough for the compiler to vectorise these loops.

void to_bf16(const float* src, bf16* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i]);
}

void to_float(const bf16* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = to_float(src[i]);
}

}  // namespace kiln
