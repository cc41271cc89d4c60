// cuda::bf16_to_fp32 and cuda::fp32_to_bf16 against kiln's host conversions (tensor/bf16.h), which
// are the reference: exact agreement, bit for bit, except that a NaN need only stay a NaN.
#include "cuda/convert.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "support/cuda_test.h"
#include "tensor/bf16.h"

namespace kiln::cuda {
namespace {

using test::DeviceArray;

constexpr size_t kTail = 5;  // elements past n that must keep their poison

TEST(CudaConvert, Bf16ToFp32IsExactForEveryBitPattern) {
  KILN_SKIP_WITHOUT_GPU();
  std::vector<uint16_t> bits(65536);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(i);
  DeviceArray<uint16_t> in(bits);
  DeviceArray<float> out(bits.size() + kTail);
  bf16_to_fp32(out.get(), reinterpret_cast<const bf16_t*>(in.get()), static_cast<int64_t>(bits.size()), nullptr);
  test::cuda_ok(cudaGetLastError(), "bf16_to_fp32");
  const std::vector<float> got = out.to_floats();
  size_t wrong = 0;
  for (size_t i = 0; i < bits.size(); ++i) {
    const float want = to_float(bf16{bits[i]});
    if (std::isnan(want) ? !std::isnan(got[i]) : std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want)) {
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0u);
  for (size_t i = bits.size(); i < got.size(); ++i) EXPECT_TRUE(std::isnan(got[i])) << "written past n at " << i;
}

TEST(CudaConvert, Fp32ToBf16RoundsLikeKiln) {
  KILN_SKIP_WITHOUT_GPU();
  std::vector<float> x;
  // Ties to even both ways, the overflow edge, ±Inf, zeros, subnormals (a tie among them too),
  // the smallest normal, and random values over the whole exponent range.
  for (uint32_t u : {0x3F808000u, 0x3F818000u, 0x3F808001u, 0x3F807FFFu, 0x7F7F7FFFu, 0x7F7F8000u, 0xFF7F8000u,
                     0x7F800000u, 0xFF800000u, 0x00000000u, 0x80000000u, 0x00000001u, 0x00008000u, 0x00018000u,
                     0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu}) {
    x.push_back(std::bit_cast<float>(u));
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 100001; ++i) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng()) & 0xFF7FFFFFu));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  x.push_back(nan);
  x.push_back(-nan);

  DeviceArray<float> in(x);
  DeviceArray<uint16_t> out(x.size() + kTail);  // poisoned 0xFFFF
  fp32_to_bf16(reinterpret_cast<bf16_t*>(out.get()), in.get(), static_cast<int64_t>(x.size()), nullptr);
  test::cuda_ok(cudaGetLastError(), "fp32_to_bf16");
  const std::vector<float> got = out.to_floats();  // the uint16 bits, as exact floats
  size_t wrong = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const uint16_t g = static_cast<uint16_t>(got[i]);
    const bf16 want = to_bf16(x[i]);
    const bool ok = std::isnan(x[i]) ? std::isnan(to_float(bf16{g})) : g == want.bits;
    if (!ok && wrong++ < 5) ADD_FAILURE() << "x = " << x[i] << " (0x" << std::hex << std::bit_cast<uint32_t>(x[i])
                                          << "): got 0x" << g << ", want 0x" << want.bits;
  }
  EXPECT_EQ(wrong, 0u);
  for (size_t i = x.size(); i < got.size(); ++i) EXPECT_EQ(got[i], 65535.0f) << "written past n at " << i;
}

TEST(CudaConvert, ZeroLengthWritesNothing) {
  KILN_SKIP_WITHOUT_GPU();
  DeviceArray<float> f(std::vector<float>{1.0f, 2.0f});
  DeviceArray<bf16> b(std::vector<float>{3.0f, 4.0f});
  bf16_to_fp32(f.get(), reinterpret_cast<const bf16_t*>(b.get()), 0, nullptr);
  fp32_to_bf16(reinterpret_cast<bf16_t*>(b.get()), f.get(), 0, nullptr);
  test::cuda_ok(cudaGetLastError(), "convert");
  EXPECT_EQ(f.to_floats(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(b.to_floats(), (std::vector<float>{3.0f, 4.0f}));
}

}  // namespace
}  // namespace kiln::cuda
