// Deterministic reductions to a single double, for values the host needs (loss sums).
//
// sum_floats_to_double: out[0] = Σ values[i] for i < n, accumulated in double by one block of
// 1024 threads in a fixed order (thread t adds i ≡ t mod 1024 in index order, then a fixed tree),
// so the result does not depend on timing. One block is enough: the inputs are per-token losses
// (≤ a few hundred thousand values per micro batch).
#pragma once

#include <cuda_runtime_api.h>

namespace kiln::cuda {

void sum_floats_to_double(double* out, const float* values, int n, cudaStream_t stream);

}  // namespace kiln::cuda
