// CudaOps' token embedding (whole table and vocab-parallel shard) against CpuOps<float> on the same
// bf16-rounded inputs: the lookup, zero rows outside a shard, and the sort-based deterministic
// backward with many repeated ids, up to the real 100,352 × 2048 table.
#include "ops/cuda_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <vector>

#include "ops/cpu_ops.h"
#include "support/cuda_test.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using test::DeviceArray;
using test::random_bf16;
using test::slice;
using test::sync_uploads;
using test::max_rel_error;

// The backward adds an fp32 sum of an id's contributions (up to ~40 of them here, each at most
// 14.6 in size) to the bf16 row once: one rounding (2^-8 relative) plus the difference between
// the GPU's and the CPU's fp32 summation orders (~1e-5 absolute, 1e-3 of max_rel_error's 1e-2
// floor). 1e-2 covers both; a lost or doubled contribution is off by O(1).
constexpr double kSumTolerance = 1e-2;

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// N ids in [0, V) where a handful of ids take most tokens (as frequent tokens do), so rows are
// hit many times, in scattered positions; 0 and V − 1 always occur.
std::vector<int32_t> repeated_ids(int N, int V, uint32_t seed) {
  const std::vector<double> u = kiln::testing::random_vector(static_cast<size_t>(N), seed, 0.0, 1.0);
  std::vector<int32_t> ids(static_cast<size_t>(N));
  for (int n = 0; n < N; ++n) {
    const double r = u[static_cast<size_t>(n)];
    ids[static_cast<size_t>(n)] = r < 0.6 ? static_cast<int32_t>(r * 10) % 7 : static_cast<int32_t>(r * V) % V;
  }
  ids[0] = 0;
  if (N > 1) ids[static_cast<size_t>(N) - 1] = V - 1;
  if (N > 2) ids[static_cast<size_t>(N) / 2] = V - 1;
  return ids;
}

TEST(CudaOpsEmbedding, ForwardIsTheRoundedScaledRow) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  // C multiple of 8 (2048, 2560, 8): 16-byte path; 67: scalar path.
  for (const int C : {2048, 2560, 67, 8}) {
    for (const float scale : {1.0f, 14.6f}) {
      SCOPED_TRACE("C = " + std::to_string(C) + ", scale = " + std::to_string(scale));
      const int N = 37, V = 50;
      const std::vector<int32_t> ids = repeated_ids(N, V, 1);
      const std::vector<float> wte = random_bf16(static_cast<size_t>(V) * C, 2);
      DeviceArray<int32_t> d_ids(ids);
      DeviceArray<bf16> d_wte(wte), d_out(static_cast<size_t>(N) * C);
      sync_uploads();
      ops.embedding_forward(d_out.get(), d_ids.get(), d_wte.get(), N, V, C, scale);
      std::vector<float> out(static_cast<size_t>(N) * C);
      cpu.embedding_forward(out.data(), ids.data(), wte.data(), N, V, C, scale);
      // One fp32 multiplication rounded once: the CPU's float product rounded to bf16, exactly.
      const std::vector<float> got = d_out.to_floats();
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(bits(got[i]), bits(to_float(to_bf16(out[i])))) << "element " << i;
    }
  }
}

TEST(CudaOpsEmbedding, VocabRangeForwardGivesZeroRowsOutsideTheShard) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int C : {2048, 67}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    const int N = 41, V = 50, begin = 20, V_local = 17;
    const std::vector<int32_t> ids = repeated_ids(N, V, 3);
    const std::vector<float> shard = random_bf16(static_cast<size_t>(V_local) * C, 4);
    DeviceArray<int32_t> d_ids(ids);
    DeviceArray<bf16> d_shard(shard), d_out(static_cast<size_t>(N) * C);
    sync_uploads();
    ops.embedding_forward_vocab_range(d_out.get(), d_ids.get(), d_shard.get(), N, begin, V_local, C, 14.6f);
    std::vector<float> out(static_cast<size_t>(N) * C);
    cpu.embedding_forward_vocab_range(out.data(), ids.data(), shard.data(), N, begin, V_local, C, 14.6f);
    const std::vector<float> got = d_out.to_floats();
    int outside = 0;
    for (int n = 0; n < N; ++n) outside += ids[static_cast<size_t>(n)] < begin || ids[static_cast<size_t>(n)] >= begin + V_local;
    ASSERT_GT(outside, 0) << "the test needs ids outside the shard";
    ASSERT_LT(outside, N) << "the test needs ids inside the shard";
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(bits(got[i]), bits(to_float(to_bf16(out[i])))) << "element " << i;
  }
}

TEST(CudaOpsEmbedding, BackwardSumsRepeatedIdsAndAccumulates) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int C : {2048, 2560, 67, 8}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    const int N = 300, V = 50;
    const float scale = 14.6f;
    const std::vector<int32_t> ids = repeated_ids(N, V, 5);
    const std::vector<float> dout = random_bf16(static_cast<size_t>(N) * C, 6);
    const std::vector<float> dwte0 = random_bf16(static_cast<size_t>(V) * C, 7);  // accumulated into
    DeviceArray<int32_t> d_ids(ids);
    DeviceArray<bf16> d_dout(dout), d_dwte(dwte0);
    sync_uploads();
    ops.embedding_backward(d_dwte.get(), d_dout.get(), d_ids.get(), N, V, C, scale);
    std::vector<float> dwte = dwte0;
    cpu.embedding_backward(dwte.data(), dout.data(), ids.data(), N, V, C, scale);
    const std::vector<float> got = d_dwte.to_floats();
    EXPECT_LT(max_rel_error(got, dwte), kSumTolerance);
    // Rows no token hit are not touched at all.
    std::vector<bool> hit(static_cast<size_t>(V));
    for (const int32_t id : ids) hit[static_cast<size_t>(id)] = true;
    for (int v = 0; v < V; ++v) {
      if (hit[static_cast<size_t>(v)]) continue;
      for (int c = 0; c < C; ++c) {
        const size_t i = static_cast<size_t>(v) * C + c;
        ASSERT_EQ(bits(got[i]), bits(dwte0[i])) << "row " << v << " has no token but was written";
      }
    }
  }
}

TEST(CudaOpsEmbedding, BackwardIsBitwiseReproducible) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const int N = 8192, V = 1000, C = 2048;
  const std::vector<int32_t> ids = repeated_ids(N, V, 8);
  const std::vector<float> dout = random_bf16(static_cast<size_t>(N) * C, 9);
  const std::vector<float> dwte0 = random_bf16(static_cast<size_t>(V) * C, 10);
  DeviceArray<int32_t> d_ids(ids);
  DeviceArray<bf16> d_dout(dout), first(dwte0), second(dwte0);
  sync_uploads();
  ops.embedding_backward(first.get(), d_dout.get(), d_ids.get(), N, V, C, 14.6f);
  ops.embedding_backward(second.get(), d_dout.get(), d_ids.get(), N, V, C, 14.6f);
  const std::vector<float> a = first.to_floats(), b = second.to_floats();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(bits(a[i]), bits(b[i])) << "element " << i;
}

TEST(CudaOpsEmbedding, VocabRangeBackwardIgnoresIdsOutsideTheShard) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int C : {2048, 67}) {
    SCOPED_TRACE("C = " + std::to_string(C));
    const int N = 500, V = 64, begin = 3, V_local = 32;  // the shard starts inside the frequent ids
    const std::vector<int32_t> ids = repeated_ids(N, V, 11);
    const std::vector<float> dout = random_bf16(static_cast<size_t>(N) * C, 12);
    const std::vector<float> shard0 = random_bf16(static_cast<size_t>(V_local) * C, 13);
    DeviceArray<int32_t> d_ids(ids);
    DeviceArray<bf16> d_dout(dout), d_shard(shard0);
    sync_uploads();
    ops.embedding_backward_vocab_range(d_shard.get(), d_dout.get(), d_ids.get(), N, begin, V_local, C, 14.6f);
    std::vector<float> shard = shard0;
    cpu.embedding_backward_vocab_range(shard.data(), dout.data(), ids.data(), N, begin, V_local, C, 14.6f);
    EXPECT_LT(max_rel_error(d_shard.to_floats(), shard), kSumTolerance);
  }
}

// The real StableLM vocabulary and hidden size (a 411 MB table) with a short batch: row offsets
// beyond 2^27 elements, the first and last rows, and a 17-bit sort key. The CPU reference runs on
// a compact table of the ids that occur; every other row of the GPU table must be untouched.
TEST(CudaOpsEmbedding, BackwardAtTheRealVocabularyShape) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const int V = 100352, C = 2048, N = 64;
  const float scale = 1.0f, fill_value = 0.25f;
  std::vector<int32_t> ids(N);
  const int32_t frequent[] = {0, V - 1, 5, 77777, 50000, 12345};
  for (int n = 0; n < N; ++n) ids[static_cast<size_t>(n)] = n % 4 == 3 ? 1000 + 1531 * n : frequent[n % 6];
  const std::vector<float> dout = random_bf16(static_cast<size_t>(N) * C, 14);

  DeviceArray<int32_t> d_ids(ids);
  DeviceArray<bf16> d_dout(dout), d_dwte(static_cast<size_t>(V) * C);
  sync_uploads();
  ops.fill(d_dwte.get(), fill_value, static_cast<int64_t>(V) * C);
  ops.embedding_backward(d_dwte.get(), d_dout.get(), d_ids.get(), N, V, C, scale);
  // Read the table back as raw bf16 (half the host memory of floats).
  std::vector<bf16> table(static_cast<size_t>(V) * C);
  ops.synchronize();
  test::cuda_ok(cudaMemcpy(table.data(), d_dwte.get(), d_dwte.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");

  std::map<int32_t, int32_t> compact;  // id → row of the compact reference table
  for (const int32_t id : ids) compact.emplace(id, 0);
  int32_t next = 0;
  for (auto& [id, row] : compact) row = next++;
  std::vector<int32_t> compact_ids(N);
  for (int n = 0; n < N; ++n) compact_ids[static_cast<size_t>(n)] = compact.at(ids[static_cast<size_t>(n)]);
  const int U = next;
  std::vector<float> reference(static_cast<size_t>(U) * C, fill_value);
  CpuOps<float>().embedding_backward(reference.data(), dout.data(), compact_ids.data(), N, U, C, scale);

  std::vector<float> got(static_cast<size_t>(U) * C);
  for (const auto& [id, row] : compact)
    for (int c = 0; c < C; ++c)
      got[static_cast<size_t>(row) * C + c] = to_float(table[static_cast<size_t>(id) * C + c]);
  EXPECT_LT(max_rel_error(got, reference), kSumTolerance);

  const uint16_t untouched = to_bf16(fill_value).bits;
  size_t written = 0;
  for (int64_t v = 0; v < V; ++v) {
    if (compact.count(static_cast<int32_t>(v))) continue;
    for (int c = 0; c < C; ++c) written += table[static_cast<size_t>(v) * C + c].bits != untouched;
  }
  EXPECT_EQ(written, 0u) << "elements of rows without a token were written";

  // The lookup at the same shape reads the rows just written, far into the table.
  DeviceArray<bf16> d_out(static_cast<size_t>(N) * C);
  ops.embedding_forward(d_out.get(), d_ids.get(), d_dwte.get(), N, V, C, 1.0f);
  const std::vector<float> out = d_out.to_floats();
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      ASSERT_EQ(bits(out[static_cast<size_t>(n) * C + c]),
                bits(to_float(table[static_cast<size_t>(ids[static_cast<size_t>(n)]) * C + c])))
          << "token " << n << ", channel " << c;
}

TEST(CudaOpsEmbedding, BackwardOfNoTokensIsANoOp) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  DeviceArray<bf16> d_dwte(std::vector<float>(64, 1.0f)), d_dout(1);
  DeviceArray<int32_t> d_ids(1);
  sync_uploads();
  ops.embedding_backward(d_dwte.get(), d_dout.get(), d_ids.get(), 0, 8, 8, 1.0f);
  for (const float v : d_dwte.to_floats()) ASSERT_EQ(v, 1.0f);
}

TEST(CudaOpsEmbedding, BackwardThrowsWhenTheSortDoesNotFitTheScratch) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  // 5M tokens need 80 MB of sort keys and values alone, more than the 64 MiB pool: the op must
  // refuse before launching anything (the id values do not matter).
  const int N = 5'000'000;
  DeviceArray<int32_t> d_ids(static_cast<size_t>(N));
  DeviceArray<bf16> d_dout(static_cast<size_t>(N)), d_dwte(10);
  EXPECT_THROW(ops.embedding_backward(d_dwte.get(), d_dout.get(), d_ids.get(), N, 10, 1, 1.0f), std::runtime_error);
  EXPECT_THROW(ops.embedding_backward(d_dwte.get(), d_dout.get(), d_ids.get(), -1, 10, 1, 1.0f),
               std::invalid_argument);
}

}  // namespace
}  // namespace kiln
