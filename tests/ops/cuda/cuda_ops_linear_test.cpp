// CudaOps' linear layer (cuBLASLt GEMMs, bias epilogue, deterministic bias gradient) against the
// CPU reference kernels of cpu/linear.h run in double on the same bf16-rounded inputs.
//
// Error model, which sets every threshold below. The GPU multiplies bf16 inputs (each product
// exact in fp32) and accumulates K-long dot products in fp32: for these random inputs that costs
// ~sqrt(K)·2^-24 of the output's scale, under 1e-5 for K ≤ 5632. It then rounds each stored value
// to bf16 once, the dominant error: at most 2^-8 of the value (half a unit in bf16's 8-bit
// significand). The accumulating outputs (dinp, dweight, dbias) add the old bf16 value to the fp32
// product before that single rounding, so the same bound holds for them. Errors are measured
// against max(|reference|, rms(reference)): a dot product that nearly cancels has a tiny value
// but its rounding and accumulation errors are those of the output's scale. Hence
// kTolerance = 2^-8 + 2e-3 (the slack covers a tensor-core accumulation a few bits coarser than
// IEEE fp32), while a transposed operand, a missing bias or a lost accumulation shows up as errors
// of 2e-2 to 1 with the value ranges chosen below.
#include "ops/cuda_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/linear.h"
#include "support/cuda_test.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using test::DeviceArray;
using test::random_bf16;
using test::slice;
using test::sync_uploads;

constexpr double kTolerance = 1.0 / 256 + 2e-3;

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// DeviceArray uploads with cudaMemcpy on the legacy default stream, which CudaOps' non-blocking
// stream does not wait for: make sure the inputs have landed before the ops read them.
void wait_for_uploads() { test::cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// max |gpu − ref| / max(|ref|, rms(ref)); +inf for a NaN (an element the op did not write) or a
// reference that is not finite.
double scaled_error(const std::vector<float>& gpu, const std::vector<double>& ref) {
  if (gpu.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double sq = 0;
  for (double r : ref) sq += r * r;
  const double rms = ref.empty() ? 0.0 : std::sqrt(sq / static_cast<double>(ref.size()));
  double worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    if (std::isnan(gpu[i]) || !std::isfinite(ref[i])) return std::numeric_limits<double>::infinity();
    const double scale = std::max({std::abs(ref[i]), rms, 1e-30});
    worst = std::max(worst, std::abs(gpu[i] - ref[i]) / scale);
  }
  return worst;
}

struct Shape {
  int N, IC, OC;
  std::string name() const {
    return "N=" + std::to_string(N) + " IC=" + std::to_string(IC) + " OC=" + std::to_string(OC);
  }
};

// Forward and backward of one shape, all gradients pre-filled with non-zero values, against the
// double reference.
void check_linear(const Shape& s, bool with_bias, uint32_t seed) {
  SCOPED_TRACE(s.name() + (with_bias ? " with bias" : " without bias"));
  const size_t n_in = size_t(s.N) * s.IC, n_out = size_t(s.N) * s.OC, n_w = size_t(s.OC) * s.IC;
  // Weights ~ 1/sqrt(IC) keep outputs O(1), so the bias and the pre-filled gradients (also O(1))
  // are a visible part of every result.
  const double w_range = 1.0 / std::sqrt(static_cast<double>(s.IC));
  const auto x = random_bf16(n_in, seed), w = random_bf16(n_w, seed + 1, -w_range, w_range);
  const auto b = random_bf16(size_t(s.OC), seed + 2), dout = random_bf16(n_out, seed + 3);
  const auto dx0 = random_bf16(n_in, seed + 4), dw0 = random_bf16(n_w, seed + 5);
  const auto db0 = random_bf16(size_t(s.OC), seed + 6);

  // Reference, in double.
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), doutd = to_double(dout);
  std::vector<double> out_ref(n_out), dx_ref = to_double(dx0), dw_ref = to_double(dw0), db_ref = to_double(db0);
  cpu::linear_forward(out_ref.data(), xd.data(), wd.data(), with_bias ? bd.data() : nullptr, s.N, s.IC, s.OC);
  cpu::linear_backward(dx_ref.data(), dw_ref.data(), with_bias ? db_ref.data() : nullptr, doutd.data(), xd.data(),
                       wd.data(), s.N, s.IC, s.OC);

  CudaOps ops;
  DeviceArray<bf16> gx(x), gw(w), gb(b), gdout(dout), gdx(dx0), gdw(dw0), gdb(db0), gout(n_out);
  wait_for_uploads();
  ops.linear_forward(gout.get(), gx.get(), gw.get(), with_bias ? gb.get() : nullptr, s.N, s.IC, s.OC);
  ops.linear_backward(gdx.get(), gdw.get(), with_bias ? gdb.get() : nullptr, gdout.get(), gx.get(), gw.get(), s.N,
                      s.IC, s.OC);
  ops.synchronize();

  EXPECT_LE(scaled_error(gout.to_floats(), out_ref), kTolerance) << "out";
  EXPECT_LE(scaled_error(gdx.to_floats(), dx_ref), kTolerance) << "dinp";
  EXPECT_LE(scaled_error(gdw.to_floats(), dw_ref), kTolerance) << "dweight";
  if (with_bias) {
    EXPECT_LE(scaled_error(gdb.to_floats(), db_ref), kTolerance) << "dbias";
  } else {
    EXPECT_EQ(gdb.to_floats(), db0) << "dbias must be untouched without a bias";
  }
}

TEST(CudaOpsLinear, OddShapesMatchCpu) {
  KILN_SKIP_WITHOUT_GPU();
  // Not multiples of any tile; all dimensions different so a swapped one cannot pass.
  for (const Shape s : {Shape{77, 64, 192}, Shape{5, 7, 9}, Shape{33, 80, 1}, Shape{1, 130, 67}})
    for (bool with_bias : {true, false}) check_linear(s, with_bias, 10);
}

TEST(CudaOpsLinear, ModelShapesMatchCpu) {
  KILN_SKIP_WITHOUT_GPU();
  // Stable LM 2 1.6B: hidden 2048 (attention out, square) and the MLP's 2048 → 5632; N tokens.
  check_linear({256, 2048, 2048}, true, 20);
  check_linear({256, 2048, 2048}, false, 21);
  check_linear({128, 2048, 5632}, false, 22);
  check_linear({96, 5632, 2048}, true, 23);
}

TEST(CudaOpsLinear, ManyRowsBiasGradient) {
  KILN_SKIP_WITHOUT_GPU();
  // More rows than the bias gradient's 64 row groups, with a ragged last group (N = 4099).
  check_linear({4099, 16, 40}, true, 30);
}

// cpu/linear.h's null rules: dinp null skips the input gradient, dweight null (a frozen weight)
// skips the weight gradient and then inp may be null, dbias null skips the bias gradient.
TEST(CudaOpsLinear, BackwardSkipsNullGradients) {
  KILN_SKIP_WITHOUT_GPU();
  const Shape s{19, 24, 40};
  const size_t n_in = size_t(s.N) * s.IC, n_out = size_t(s.N) * s.OC, n_w = size_t(s.OC) * s.IC;
  const auto x = random_bf16(n_in, 41), w = random_bf16(n_w, 42, -0.2, 0.2), dout = random_bf16(n_out, 43);
  const auto dx0 = random_bf16(n_in, 44), dw0 = random_bf16(n_w, 45), db0 = random_bf16(size_t(s.OC), 46);
  const auto xd = to_double(x), wd = to_double(w), doutd = to_double(dout);

  CudaOps ops;
  DeviceArray<bf16> gx(x), gw(w), gdout(dout);
  {  // bias gradient only: dinp, dweight and inp null (a row-parallel linear's separate bias)
    DeviceArray<bf16> gdb(db0);
    wait_for_uploads();
    ops.linear_backward(nullptr, nullptr, gdb.get(), gdout.get(), nullptr, gw.get(), s.N, s.IC, s.OC);
    std::vector<double> db_ref = to_double(db0);
    cpu::linear_backward<double>(nullptr, nullptr, db_ref.data(), doutd.data(), nullptr, wd.data(), s.N, s.IC, s.OC);
    EXPECT_LE(scaled_error(gdb.to_floats(), db_ref), kTolerance);
  }
  {  // frozen weight: input gradient only, inp null
    DeviceArray<bf16> gdx(dx0);
    wait_for_uploads();
    ops.linear_backward(gdx.get(), nullptr, nullptr, gdout.get(), nullptr, gw.get(), s.N, s.IC, s.OC);
    std::vector<double> dx_ref = to_double(dx0);
    cpu::linear_backward<double>(dx_ref.data(), nullptr, nullptr, doutd.data(), nullptr, wd.data(), s.N, s.IC, s.OC);
    EXPECT_LE(scaled_error(gdx.to_floats(), dx_ref), kTolerance);
  }
  {  // weight gradient only (the first layer: no input gradient wanted)
    DeviceArray<bf16> gdw(dw0);
    wait_for_uploads();
    ops.linear_backward(nullptr, gdw.get(), nullptr, gdout.get(), gx.get(), gw.get(), s.N, s.IC, s.OC);
    std::vector<double> dw_ref = to_double(dw0);
    cpu::linear_backward<double>(nullptr, dw_ref.data(), nullptr, doutd.data(), xd.data(), wd.data(), s.N, s.IC, s.OC);
    EXPECT_LE(scaled_error(gdw.to_floats(), dw_ref), kTolerance);
  }
}

// Views into a flat parameter buffer need not be 256-byte aligned: cuBLASLt must be told, or it
// may pick a kernel that assumes alignment. Every operand here starts at an odd bf16 offset
// (2-byte aligned), and the results must still match.
TEST(CudaOpsLinear, UnalignedOperands) {
  KILN_SKIP_WITHOUT_GPU();
  const Shape s{21, 48, 72};
  const size_t n_in = size_t(s.N) * s.IC, n_out = size_t(s.N) * s.OC, n_w = size_t(s.OC) * s.IC;
  const auto x = random_bf16(n_in, 51), w = random_bf16(n_w, 52, -0.15, 0.15), b = random_bf16(size_t(s.OC), 53);
  const auto dout = random_bf16(n_out, 54), dx0 = random_bf16(n_in, 55), dw0 = random_bf16(n_w, 56);
  const auto db0 = random_bf16(size_t(s.OC), 57);
  // Each array is shifted by one element inside a larger one.
  auto shifted = [](const std::vector<float>& v) {
    std::vector<float> out(v.size() + 1, 0.0f);
    std::copy(v.begin(), v.end(), out.begin() + 1);
    return out;
  };
  auto unshift = [](const std::vector<float>& v) { return std::vector<float>(v.begin() + 1, v.end()); };
  DeviceArray<bf16> gx(shifted(x)), gw(shifted(w)), gb(shifted(b)), gdout(shifted(dout));
  DeviceArray<bf16> gdx(shifted(dx0)), gdw(shifted(dw0)), gdb(shifted(db0)), gout(n_out + 1);
  wait_for_uploads();
  CudaOps ops;
  ops.linear_forward(gout.get() + 1, gx.get() + 1, gw.get() + 1, gb.get() + 1, s.N, s.IC, s.OC);
  ops.linear_backward(gdx.get() + 1, gdw.get() + 1, gdb.get() + 1, gdout.get() + 1, gx.get() + 1, gw.get() + 1, s.N,
                      s.IC, s.OC);

  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), doutd = to_double(dout);
  std::vector<double> out_ref(n_out), dx_ref = to_double(dx0), dw_ref = to_double(dw0), db_ref = to_double(db0);
  cpu::linear_forward(out_ref.data(), xd.data(), wd.data(), bd.data(), s.N, s.IC, s.OC);
  cpu::linear_backward(dx_ref.data(), dw_ref.data(), db_ref.data(), doutd.data(), xd.data(), wd.data(), s.N, s.IC,
                       s.OC);
  EXPECT_LE(scaled_error(unshift(gout.to_floats()), out_ref), kTolerance) << "out";
  EXPECT_LE(scaled_error(unshift(gdx.to_floats()), dx_ref), kTolerance) << "dinp";
  EXPECT_LE(scaled_error(unshift(gdw.to_floats()), dw_ref), kTolerance) << "dweight";
  EXPECT_LE(scaled_error(unshift(gdb.to_floats()), db_ref), kTolerance) << "dbias";
}

// Same inputs, same bits: the plans are cached, and nothing depends on timing.
TEST(CudaOpsLinear, RepeatedCallsGiveIdenticalBits) {
  KILN_SKIP_WITHOUT_GPU();
  const Shape s{300, 256, 384};
  const size_t n_in = size_t(s.N) * s.IC, n_out = size_t(s.N) * s.OC, n_w = size_t(s.OC) * s.IC;
  const auto x = random_bf16(n_in, 61), w = random_bf16(n_w, 62, -0.06, 0.06), b = random_bf16(size_t(s.OC), 63);
  const auto dout = random_bf16(n_out, 64);
  CudaOps ops;
  DeviceArray<bf16> gx(x), gw(w), gb(b), gdout(dout);
  wait_for_uploads();
  std::vector<float> first[4];
  for (int run = 0; run < 2; ++run) {
    DeviceArray<bf16> gout(n_out), gdx(std::vector<float>(n_in, 0.0f)), gdw(std::vector<float>(n_w, 0.0f)),
        gdb(std::vector<float>(size_t(s.OC), 0.0f));
    wait_for_uploads();
    ops.linear_forward(gout.get(), gx.get(), gw.get(), gb.get(), s.N, s.IC, s.OC);
    ops.linear_backward(gdx.get(), gdw.get(), gdb.get(), gdout.get(), gx.get(), gw.get(), s.N, s.IC, s.OC);
    const std::vector<float> now[4] = {gout.to_floats(), gdx.to_floats(), gdw.to_floats(), gdb.to_floats()};
    for (int i = 0; i < 4; ++i) {
      if (run == 0) {
        first[i] = now[i];
      } else {
        EXPECT_EQ(now[i], first[i]) << "output " << i;
      }
    }
  }
}

// IC = 0: no product, out is the bias (or zero), as in cpu/linear.h. N = 0 or OC = 0: nothing.
TEST(CudaOpsLinear, EmptyShapes) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const int N = 3, OC = 5;
  const auto b = random_bf16(OC, 71);
  DeviceArray<bf16> gb(b), gout(size_t(N) * OC), gout2(size_t(N) * OC);
  wait_for_uploads();
  ops.linear_forward(gout.get(), nullptr, nullptr, gb.get(), N, 0, OC);
  ops.linear_forward(gout2.get(), nullptr, nullptr, nullptr, N, 0, OC);
  const auto out = gout.to_floats(), out2 = gout2.to_floats();
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OC; ++o) {
      EXPECT_EQ(out[size_t(n) * OC + o], b[o]);
      EXPECT_EQ(out2[size_t(n) * OC + o], 0.0f);
    }
  // N = 0: nothing is read or written (null pointers would fault if they were).
  ops.linear_forward(nullptr, nullptr, nullptr, nullptr, 0, 4, 4);
  ops.linear_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 4, 4);
  ops.synchronize();
}

TEST(CudaOpsLinear, NegativeShapeThrows) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  EXPECT_THROW(ops.linear_forward(nullptr, nullptr, nullptr, nullptr, -1, 4, 4), std::invalid_argument);
  EXPECT_THROW(ops.linear_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 4, -2),
               std::invalid_argument);
}

}  // namespace
}  // namespace kiln
