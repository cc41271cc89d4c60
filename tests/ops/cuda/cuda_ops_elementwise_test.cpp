// CudaOps' elementwise ops (fill, convert, fill_positions, SwiGLU, GELU, residual, scale, bias add)
// against CpuOps<float> on the same bf16-rounded inputs.
//
// Each op runs on sizes that are and are not multiples of the 8-element vector, and on pointers
// that are 16-byte aligned (the vector path) and offset by one element (the scalar path). Arrays
// have a spare element on each side of the range an op is given, so writes outside it show up:
// outputs start poisoned (NaN), gradients start with non-zero values that must be added to.
#include "ops/cuda_ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
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

// A result rounded to bf16 once is within half an ulp of the fp32 value, 2^-8 relative (bf16 keeps
// 8 significant bits). 5e-3 leaves room for fp32 differences between CUDA's and glibc's expf/erff
// and for fused multiply-adds (~1e-7 relative), and none for a wrong formula or a lost +=.
constexpr double kOneRounding = 5e-3;

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// Elements outside [off, off + n) hold what they held before the op, bit for bit.
void expect_outside_untouched(const std::vector<float>& after, const std::vector<float>& before, size_t off,
                              size_t n, const char* what) {
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    if (i >= off && i < off + n) continue;
    EXPECT_EQ(bits(after[i]), bits(before[i])) << what << ": element " << i << " outside the range was written";
  }
}

// The sizes every test runs: below, at and above one 8-element vector, and larger odd sizes
// whose last n mod 8 elements take the scalar tail.
const std::vector<int64_t> kSizes = {1, 7, 8, 13, 4099, 65541};

TEST(CudaOpsElementwise, FillWritesEveryElementOfTheRangeAndNothingElse) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  for (const int64_t n : kSizes) {
    for (const size_t off : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", offset = " + std::to_string(off));
      DeviceArray<bf16> buf(static_cast<size_t>(n) + 2);
      const std::vector<float> before = buf.to_floats();
      ops.fill(buf.get() + off, 0.3f, n);
      const std::vector<float> after = buf.to_floats();
      const float expected = to_float(to_bf16(0.3f));
      for (size_t i = off; i < off + static_cast<size_t>(n); ++i) ASSERT_EQ(bits(after[i]), bits(expected)) << i;
      expect_outside_untouched(after, before, off, static_cast<size_t>(n), "fill");
    }
  }
}

TEST(CudaOpsElementwise, FillOfNothingIsANoOpAndANegativeCountThrows) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  DeviceArray<bf16> buf(4);
  const std::vector<float> before = buf.to_floats();
  ops.fill(buf.get(), 1.0f, 0);
  expect_outside_untouched(buf.to_floats(), before, 0, 0, "fill(n = 0)");
  EXPECT_THROW(ops.fill(buf.get(), 1.0f, -1), std::invalid_argument);
}

TEST(CudaOpsElementwise, ConvertRoundsToNearestEvenLikeTheHostConversion) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  // Random values at many scales, then the cases rounding gets wrong: ties (to even, both
  // directions), signed zeros, a subnormal, overflow past the largest bf16 and the infinities.
  std::vector<float> x;
  const std::vector<double> r = kiln::testing::random_vector(4099, 7, -1.0, 1.0);
  for (size_t i = 0; i < r.size(); ++i) x.push_back(static_cast<float>(r[i] * std::pow(10.0, static_cast<int>(i % 13) - 6)));
  const float tie_down = 1.0f + std::ldexp(1.0f, -8), tie_up = 1.0f + 3 * std::ldexp(1.0f, -8);
  const std::vector<float> special = {tie_down, tie_up, -tie_down, -tie_up, 0.0f, -0.0f, 1e-40f, -3e-39f,
                                      3.39e38f, std::numeric_limits<float>::max(),
                                      std::numeric_limits<float>::infinity(),
                                      -std::numeric_limits<float>::infinity()};
  for (size_t i = 0; i < special.size(); ++i) x[3 + 97 * i] = special[i];

  for (const size_t off : {size_t{0}, size_t{1}}) {
    SCOPED_TRACE("offset = " + std::to_string(off));
    const size_t n = x.size() - 2;
    DeviceArray<float> in(x);
    DeviceArray<bf16> out(x.size());
    const std::vector<float> before = out.to_floats();
    sync_uploads();
    ops.convert(out.get() + off, in.get() + off, static_cast<int64_t>(n));
    const std::vector<float> after = out.to_floats();
    for (size_t i = off; i < off + n; ++i)
      ASSERT_EQ(bits(after[i]), bits(to_float(to_bf16(x[i])))) << "convert(" << x[i] << "), element " << i;
    expect_outside_untouched(after, before, off, n, "convert");
  }
}

TEST(CudaOpsElementwise, FillPositionsCountsFromZeroInEveryRow) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  for (const auto& [B, T] : std::vector<std::pair<int, int>>{{1, 1}, {3, 5}, {2, 4096}, {7, 1001}}) {
    SCOPED_TRACE("B = " + std::to_string(B) + ", T = " + std::to_string(T));
    DeviceArray<int32_t> pos(static_cast<size_t>(B) * T);
    ops.fill_positions(pos.get(), B, T);
    const std::vector<float> got = pos.to_floats();
    std::vector<int32_t> expected(static_cast<size_t>(B) * T);
    CpuOps<float>().fill_positions(expected.data(), B, T);
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], static_cast<float>(expected[i])) << "index " << i;
  }
}

TEST(CudaOpsElementwise, SwigluForwardAndBackwardMatchTheCpu) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int64_t n : kSizes) {
    for (const size_t off : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", offset = " + std::to_string(off));
      const size_t len = static_cast<size_t>(n) + 2, un = static_cast<size_t>(n);
      // Gates far out on both sides exercise both branches of the overflow-safe sigmoid.
      std::vector<float> gate = random_bf16(len, 1, -8.0, 8.0);
      gate[off] = -100.0f;
      if (n >= 3) gate[off + 1] = 100.0f, gate[off + 2] = 0.0f;
      const std::vector<float> up = random_bf16(len, 2, -2.0, 2.0), dout = random_bf16(len, 3);
      const std::vector<float> dgate0 = random_bf16(len, 4), dup0 = random_bf16(len, 5);

      DeviceArray<bf16> d_gate(gate), d_up(up), d_dout(dout), d_out(len), d_dgate(dgate0), d_dup(dup0);
      const std::vector<float> poison = d_out.to_floats();
      sync_uploads();
      ops.swiglu_forward(d_out.get() + off, d_gate.get() + off, d_up.get() + off, n);
      ops.swiglu_backward(d_dgate.get() + off, d_dup.get() + off, d_dout.get() + off, d_gate.get() + off,
                          d_up.get() + off, n);

      std::vector<float> out(len), dgate = dgate0, dup = dup0;
      cpu.swiglu_forward(out.data() + off, gate.data() + off, up.data() + off, n);
      cpu.swiglu_backward(dgate.data() + off, dup.data() + off, dout.data() + off, gate.data() + off,
                          up.data() + off, n);

      const std::vector<float> g_out = d_out.to_floats(), g_dgate = d_dgate.to_floats(), g_dup = d_dup.to_floats();
      EXPECT_LT(max_rel_error(slice(g_out, off, un), slice(out, off, un)), kOneRounding);
      EXPECT_LT(max_rel_error(slice(g_dgate, off, un), slice(dgate, off, un)), kOneRounding);
      EXPECT_LT(max_rel_error(slice(g_dup, off, un), slice(dup, off, un)), kOneRounding);
      expect_outside_untouched(g_out, poison, off, un, "swiglu_forward");
      expect_outside_untouched(g_dgate, dgate0, off, un, "swiglu_backward dgate");
      expect_outside_untouched(g_dup, dup0, off, un, "swiglu_backward dup");
    }
  }
}

TEST(CudaOpsElementwise, SwigluForwardRunsInPlace) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const int64_t n = 4099;
  const std::vector<float> gate = random_bf16(n, 11, -6.0, 6.0), up = random_bf16(n, 12);
  DeviceArray<bf16> d_gate(gate), d_up(up);
  sync_uploads();
  ops.swiglu_forward(d_gate.get(), d_gate.get(), d_up.get(), n);  // out = gate
  std::vector<float> out(n);
  CpuOps<float>().swiglu_forward(out.data(), gate.data(), up.data(), n);
  EXPECT_LT(max_rel_error(d_gate.to_floats(), out), kOneRounding);
}

TEST(CudaOpsElementwise, GeluForwardAndBackwardMatchTheCpu) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int64_t n : kSizes) {
    for (const size_t off : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", offset = " + std::to_string(off));
      const size_t len = static_cast<size_t>(n) + 2, un = static_cast<size_t>(n);
      std::vector<float> x = random_bf16(len, 21, -6.0, 6.0);
      x[off] = -10.0f;
      if (n >= 3) x[off + 1] = 10.0f, x[off + 2] = 0.0f;
      const std::vector<float> dout = random_bf16(len, 22), dinp0 = random_bf16(len, 23);

      DeviceArray<bf16> d_x(x), d_dout(dout), d_out(len), d_dinp(dinp0);
      const std::vector<float> poison = d_out.to_floats();
      sync_uploads();
      ops.gelu_forward(d_out.get() + off, d_x.get() + off, n);
      ops.gelu_backward(d_dinp.get() + off, d_dout.get() + off, d_x.get() + off, n);

      std::vector<float> out(len), dinp = dinp0;
      cpu.gelu_forward(out.data() + off, x.data() + off, n);
      cpu.gelu_backward(dinp.data() + off, dout.data() + off, x.data() + off, n);

      const std::vector<float> g_out = d_out.to_floats(), g_dinp = d_dinp.to_floats();
      EXPECT_LT(max_rel_error(slice(g_out, off, un), slice(out, off, un)), kOneRounding);
      EXPECT_LT(max_rel_error(slice(g_dinp, off, un), slice(dinp, off, un)), kOneRounding);
      expect_outside_untouched(g_out, poison, off, un, "gelu_forward");
      expect_outside_untouched(g_dinp, dinp0, off, un, "gelu_backward");
    }
  }
}

// One fp32 addition or multiplication of bf16 values, rounded once, is the CPU's float result
// rounded to bf16 exactly: these ops must agree bit for bit.
TEST(CudaOpsElementwise, ResidualAndScaleForwardAreExactlyTheRoundedCpuResult) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int64_t n : kSizes) {
    for (const size_t off : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", offset = " + std::to_string(off));
      const size_t len = static_cast<size_t>(n) + 2, un = static_cast<size_t>(n);
      const std::vector<float> a = random_bf16(len, 31, -4.0, 4.0), b = random_bf16(len, 32);
      const float s = 14.6f;
      DeviceArray<bf16> d_a(a), d_b(b), d_sum(len), d_scaled(len);
      const std::vector<float> poison = d_sum.to_floats();
      sync_uploads();
      ops.residual_forward(d_sum.get() + off, d_a.get() + off, d_b.get() + off, n);
      ops.scale_forward(d_scaled.get() + off, d_a.get() + off, s, n);

      std::vector<float> sum(len), scaled(len);
      cpu.residual_forward(sum.data() + off, a.data() + off, b.data() + off, n);
      cpu.scale_forward(scaled.data() + off, a.data() + off, s, n);

      const std::vector<float> g_sum = d_sum.to_floats(), g_scaled = d_scaled.to_floats();
      for (size_t i = off; i < off + un; ++i) {
        ASSERT_EQ(bits(g_sum[i]), bits(to_float(to_bf16(sum[i])))) << "residual_forward, element " << i;
        ASSERT_EQ(bits(g_scaled[i]), bits(to_float(to_bf16(scaled[i])))) << "scale_forward, element " << i;
      }
      expect_outside_untouched(g_sum, poison, off, un, "residual_forward");
      expect_outside_untouched(g_scaled, poison, off, un, "scale_forward");
    }
  }
}

TEST(CudaOpsElementwise, ResidualForwardRunsInPlace) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const int64_t n = 65541;
  const std::vector<float> a = random_bf16(n, 41, -4.0, 4.0), b = random_bf16(n, 42);
  DeviceArray<bf16> d_a(a), d_b(b);
  sync_uploads();
  ops.residual_forward(d_a.get(), d_a.get(), d_b.get(), n);  // x = x + branch
  const std::vector<float> got = d_a.to_floats();
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(bits(got[i]), bits(to_float(to_bf16(a[i] + b[i])))) << i;
}

TEST(CudaOpsElementwise, ResidualAndScaleBackwardAccumulate) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  for (const int64_t n : kSizes) {
    for (const size_t off : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", offset = " + std::to_string(off));
      const size_t len = static_cast<size_t>(n) + 2, un = static_cast<size_t>(n);
      const std::vector<float> dout = random_bf16(len, 51), da0 = random_bf16(len, 52), db0 = random_bf16(len, 53);
      const float s = -0.37f;
      DeviceArray<bf16> d_dout(dout), d_da(da0), d_db(db0), d_da_only(da0), d_db_only(db0), d_ds(da0);
      sync_uploads();
      ops.residual_backward(d_da.get() + off, d_db.get() + off, d_dout.get() + off, n);
      ops.residual_backward(d_da_only.get() + off, nullptr, d_dout.get() + off, n);
      ops.residual_backward(nullptr, d_db_only.get() + off, d_dout.get() + off, n);
      ops.residual_backward(nullptr, nullptr, d_dout.get() + off, n);  // nothing to do
      ops.scale_backward(d_ds.get() + off, d_dout.get() + off, s, n);

      std::vector<float> da = da0, db = db0, ds = da0;
      cpu.residual_backward(da.data() + off, db.data() + off, dout.data() + off, n);
      cpu.scale_backward(ds.data() + off, dout.data() + off, s, n);

      // prefill + dout is one rounded addition: exact. prefill + s·dout may be one fused
      // multiply-add on the GPU and two roundings on the CPU: one rounding's tolerance.
      const std::vector<float> g_da = d_da.to_floats(), g_db = d_db.to_floats();
      const std::vector<float> g_da_only = d_da_only.to_floats(), g_db_only = d_db_only.to_floats();
      for (size_t i = off; i < off + un; ++i) {
        ASSERT_EQ(bits(g_da[i]), bits(to_float(to_bf16(da[i])))) << "da, element " << i;
        ASSERT_EQ(bits(g_db[i]), bits(to_float(to_bf16(db[i])))) << "db, element " << i;
        ASSERT_EQ(bits(g_da_only[i]), bits(g_da[i])) << "da alone, element " << i;
        ASSERT_EQ(bits(g_db_only[i]), bits(g_db[i])) << "db alone, element " << i;
      }
      EXPECT_LT(max_rel_error(slice(d_ds.to_floats(), off, un), slice(ds, off, un)), kOneRounding);
      expect_outside_untouched(g_da, da0, off, un, "residual_backward da");
      expect_outside_untouched(g_db, db0, off, un, "residual_backward db");
      expect_outside_untouched(d_ds.to_floats(), da0, off, un, "scale_backward");
    }
  }
}

TEST(CudaOpsElementwise, ResidualBackwardIntoOneBufferTwiceAddsTwice) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const int64_t n = 4099;
  const std::vector<float> dout = random_bf16(n, 61), g0 = random_bf16(n, 62);
  DeviceArray<bf16> d_dout(dout), d_g(g0);
  sync_uploads();
  ops.residual_backward(d_g.get(), d_g.get(), d_dout.get(), n);
  std::vector<float> g = g0;
  CpuOps<float>().residual_backward(g.data(), g.data(), dout.data(), n);
  EXPECT_LT(max_rel_error(d_g.to_floats(), g), kOneRounding);
}

TEST(CudaOpsElementwise, BiasAddAddsTheBiasToEveryRowExactly) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  CpuOps<float> cpu;
  // OC = 2048 and 2560 take the vector path (aligned), 67 and the offset rows the scalar one.
  for (const int OC : {2048, 2560, 67, 8, 1}) {
    for (const size_t off : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("OC = " + std::to_string(OC) + ", offset = " + std::to_string(off));
      const int N = 37;
      const size_t n = static_cast<size_t>(N) * OC;
      const std::vector<float> out0 = random_bf16(n + 2, 71, -3.0, 3.0), bias = random_bf16(OC + 2, 72);
      DeviceArray<bf16> d_out(out0), d_bias(bias);
      sync_uploads();
      ops.bias_add_forward(d_out.get() + off, d_bias.get() + off, N, OC);
      std::vector<float> out = out0;
      cpu.bias_add_forward(out.data() + off, bias.data() + off, N, OC);
      const std::vector<float> got = d_out.to_floats();
      for (size_t i = off; i < off + n; ++i)
        ASSERT_EQ(bits(got[i]), bits(to_float(to_bf16(out[i])))) << "element " << i;
      expect_outside_untouched(got, out0, off, n, "bias_add_forward");
    }
  }
}

}  // namespace
}  // namespace kiln
