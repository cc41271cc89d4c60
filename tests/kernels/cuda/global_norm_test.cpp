// cuda::sum_of_squares and sum_of_squares_chunks against a double reference.
//
// Tolerance: both sides add exact squares (a bf16 value squared is exact in double) in double, in
// different orders, so each is within (n − 1)·2^-53 of the exact sum relative; the test allows
// twice that. A missed or doubled chunk, a wrong range edge or an fp32 accumulator would be off
// by far more (an fp32 running sum over a thread's elements alone loses ~1e-7 relative).
#include "cuda/global_norm.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "support/cuda_test.h"
#include "tensor/bf16.h"

namespace kiln::cuda {
namespace {

using test::DeviceArray;
using Ranges = std::vector<std::pair<int64_t, int64_t>>;

// Gradient-like bf16 values: magnitudes 10^[-3, 1) with random signs, already bf16-rounded.
std::vector<float> gradients(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-3.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = unit(rng) * std::pow(10.0f, log_scale(rng));
  return test::bf16_rounded(x);
}

double reference(const std::vector<float>& x, const Ranges& ranges) {
  double s = 0.0;
  for (const auto& [b, e] : ranges) {
    for (int64_t i = b; i < e; ++i) s += static_cast<double>(x[static_cast<size_t>(i)]) * x[static_cast<size_t>(i)];
  }
  return s;
}

void expect_close(double got, double want, int64_t n) {
  const double bound = 2.0 * static_cast<double>(n + 1) * std::ldexp(1.0, -53) * want;
  EXPECT_LE(std::abs(got - want), bound) << "got " << got << " want " << want << " over " << n << " terms";
}

// The device side of one sum: partials, the output double, and the read-back.
class Norm {
 public:
  Norm() : partials_(kSumOfSquaresPartials), out_(1) {}

  double plain(const DeviceArray<bf16>& x, int64_t n) {
    out_.poison();  // NaN until written
    sum_of_squares(out_.get(), reinterpret_cast<const bf16_t*>(x.get()), n, partials_.get(), nullptr);
    return read();
  }
  double ranges(const DeviceArray<bf16>& x, const Ranges& ranges) {
    const std::vector<SquaresChunk> chunks = squares_chunks(ranges);
    DeviceArray<SquaresChunk> table(chunks);
    out_.poison();
    sum_of_squares_chunks(out_.get(), reinterpret_cast<const bf16_t*>(x.get()), table.get(),
                          static_cast<int64_t>(chunks.size()), partials_.get(), nullptr);
    return read();
  }

 private:
  double read() {
    test::cuda_ok(cudaGetLastError(), "launch");
    test::cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    double v = 0;
    test::cuda_ok(cudaMemcpy(&v, out_.get(), sizeof v, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    return v;
  }
  DeviceArray<double> partials_;
  DeviceArray<double> out_;
};

int64_t count(const Ranges& ranges) {
  int64_t n = 0;
  for (const auto& [b, e] : ranges) n += e - b;
  return n;
}

TEST(CudaGlobalNorm, RangesMatchDoubleReference) {
  KILN_SKIP_WITHOUT_GPU();
  const size_t n = 200003;
  const std::vector<float> x = gradients(n, 1);
  DeviceArray<bf16> d(x);
  // Odd edges, an empty range, a one-element range, a range of several chunks with a partial last
  // one, the buffer's end; not sorted.
  const Ranges ranges = {{50000, 50000 + 3 * kSquaresChunkElements + 123}, {5, 6}, {10, 10}, {17, 40000},
                         {150001, 200003}};
  Norm norm;
  const double got = norm.ranges(d, ranges);
  const double want = reference(x, ranges);
  expect_close(got, want, count(ranges));
  // The ranges matter: the whole buffer's sum is clearly different.
  EXPECT_GT(reference(x, {{0, static_cast<int64_t>(n)}}) - got, 1e-3 * got);
}

TEST(CudaGlobalNorm, MoreChunksThanBlocks) {
  // 3,000 ranges of 3 elements: every block of pass 1 strides over several chunks.
  KILN_SKIP_WITHOUT_GPU();
  Ranges ranges;
  for (int64_t k = 0; k < 3000; ++k) ranges.emplace_back(10 * k + 1, 10 * k + 4);
  ASSERT_GT(squares_chunks(ranges).size(), static_cast<size_t>(kSumOfSquaresPartials));
  const std::vector<float> x = gradients(30001, 2);
  DeviceArray<bf16> d(x);
  Norm norm;
  expect_close(norm.ranges(d, ranges), reference(x, ranges), count(ranges));
}

TEST(CudaGlobalNorm, PlainRangeMatchesDoubleReference) {
  KILN_SKIP_WITHOUT_GPU();
  Norm norm;
  // Below one block pass, odd sizes around one, and more passes than blocks (grid-stride).
  for (int64_t n : {1, 255, 2048, 2049, 300007, 5000011}) {
    SCOPED_TRACE(n);
    const std::vector<float> x = gradients(static_cast<size_t>(n), 3);
    DeviceArray<bf16> d(x);
    expect_close(norm.plain(d, n), reference(x, {{0, n}}), n);
    // A prefix: elements past n are not read.
    if (n > 1) expect_close(norm.plain(d, n - 1), reference(x, {{0, n - 1}}), n - 1);
  }
}

TEST(CudaGlobalNorm, NothingToSumGivesZero) {
  KILN_SKIP_WITHOUT_GPU();
  DeviceArray<bf16> d(gradients(100, 4));
  Norm norm;
  EXPECT_EQ(norm.plain(d, 0), 0.0);
  EXPECT_EQ(norm.ranges(d, {}), 0.0);
  EXPECT_EQ(norm.ranges(d, {{7, 7}}), 0.0);
}

TEST(CudaGlobalNorm, SameBitsEveryRun) {
  KILN_SKIP_WITHOUT_GPU();
  const std::vector<float> x = gradients(1000003, 5);
  DeviceArray<bf16> d(x);
  const Ranges ranges = {{3, 500000}, {500100, 1000003}};
  Norm norm;
  const double a = norm.plain(d, 1000003), b = norm.plain(d, 1000003);
  const double c = norm.ranges(d, ranges), e = norm.ranges(d, ranges);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0);
  EXPECT_EQ(std::memcmp(&c, &e, sizeof c), 0);
}

TEST(CudaGlobalNorm, HugeFiniteGradientsStayFinite) {
  // |g| = 2^70 ≈ 1.2e21 is a finite bf16 whose square overflows fp32 but not double: the norm must
  // be finite (and the step clipped), as on the CPU.
  KILN_SKIP_WITHOUT_GPU();
  std::vector<float> x = gradients(5000, 6);
  x[10] = std::ldexp(1.0f, 70);
  x[4000] = -std::ldexp(1.0f, 70);
  DeviceArray<bf16> d(x);
  Norm norm;
  const double got = norm.plain(d, 5000);
  EXPECT_TRUE(std::isfinite(got));
  expect_close(got, reference(x, {{0, 5000}}), 5000);
  expect_close(norm.ranges(d, {{0, 2000}, {3000, 5000}}), reference(x, {{0, 2000}, {3000, 5000}}), 4000);
}

TEST(CudaGlobalNorm, NanCountsOnlyInsideTheRanges) {
  KILN_SKIP_WITHOUT_GPU();
  std::vector<float> x = gradients(50000, 7);
  x[25000] = std::numeric_limits<float>::quiet_NaN();
  DeviceArray<bf16> d(x);
  Norm norm;
  EXPECT_TRUE(std::isnan(norm.plain(d, 50000)));
  EXPECT_TRUE(std::isnan(norm.ranges(d, {{20000, 30000}})));
  const Ranges around = {{0, 25000}, {25001, 50000}};
  const double got = norm.ranges(d, around);
  EXPECT_TRUE(std::isfinite(got));
  expect_close(got, reference(x, around), count(around));

  x[25000] = std::numeric_limits<float>::infinity();
  d.upload(x);
  EXPECT_EQ(norm.plain(d, 50000), std::numeric_limits<double>::infinity());
}

TEST(CudaGlobalNorm, ChunkTableCoversTheRangesExactly) {
  KILN_SKIP_WITHOUT_GPU();
  const Ranges ranges = {{100, 100 + 2 * kSquaresChunkElements + 5}, {0, 3}, {50, 50}};
  const std::vector<SquaresChunk> chunks = squares_chunks(ranges);
  ASSERT_EQ(chunks.size(), 4u);  // the empty range has none
  std::vector<int> covered(static_cast<size_t>(100 + 2 * kSquaresChunkElements + 5), 0);
  for (const SquaresChunk& c : chunks) {
    EXPECT_GT(c.length, 0);
    EXPECT_LE(c.length, kSquaresChunkElements);
    for (int64_t i = c.begin; i < c.begin + c.length; ++i) ++covered[static_cast<size_t>(i)];
  }
  for (size_t i = 0; i < covered.size(); ++i) {
    const bool in = i < 3 || i >= 100;
    ASSERT_EQ(covered[i], in ? 1 : 0) << i;
  }
  EXPECT_THROW(squares_chunks({{5, 4}}), std::invalid_argument);
  EXPECT_THROW(squares_chunks({{-1, 4}}), std::invalid_argument);
}

}  // namespace
}  // namespace kiln::cuda
