// CudaOps' LayerNorm and RMSNorm against CpuOps<float> on the same bf16-rounded inputs: forward
// outputs and saved statistics, and the accumulating backward (dinp per row, dweight and dbias as
// deterministic column sums), at the real hidden sizes 2048 and 2560 and at odd ones.
#include "ops/cuda_ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <stdexcept>
#include <string>
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

// Outputs and gradients are rounded to bf16 once (2^-8 relative), after fp32 sums whose order
// differs from the CPU's (over C channels within a row, over N rows for dweight/dbias): ~1e-6
// relative for these sizes. 1e-2 holds both with room; a wrong formula or a lost += is far off.
constexpr double kTolerance = 1e-2;
// mean and rstd are stored in fp32: only the summation order differs from the CPU's.
constexpr double kStatsTolerance = 1e-4;

constexpr float kEps = 1e-5f;

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

struct Case {
  int N, C;
  size_t off;  // element offset of the [N, C] tensors: 1 makes them misaligned (scalar path)
};

std::string name(const Case& k) {
  return "N = " + std::to_string(k.N) + ", C = " + std::to_string(k.C) + ", offset = " + std::to_string(k.off);
}

// Real hidden sizes, odd widths and row counts that are not multiples of the 8 rows a block
// normalises or of the 64 row slices of the parameter-gradient pass.
const std::vector<Case> kCases = {{37, 2048, 0}, {37, 2560, 0}, {1000, 2048, 0}, {1000, 2560, 0}, {37, 67, 0},
                                  {1, 67, 0},    {130, 8, 0},   {37, 2048, 1},   {5, 1, 0}};

// Inputs with a mean far from zero next to their spread (as residual streams have), which a
// one-pass variance would get wrong.
struct Inputs {
  std::vector<float> x, weight, bias, dout;
};

Inputs make_inputs(const Case& k, uint32_t seed) {
  const size_t len = static_cast<size_t>(k.N) * k.C + k.off;
  return {random_bf16(len, seed, 2.0, 4.0), random_bf16(static_cast<size_t>(k.C), seed + 1, 0.5, 1.5),
          random_bf16(static_cast<size_t>(k.C), seed + 2), random_bf16(len, seed + 3)};
}

void run_layernorm(const Case& k, bool with_bias) {
  SCOPED_TRACE(name(k) + (with_bias ? ", with bias" : ", no bias"));
  CudaOps ops;
  CpuOps<float> cpu;
  const int N = k.N, C = k.C;
  const size_t off = k.off, n = static_cast<size_t>(N) * C, len = n + off;
  const Inputs in = make_inputs(k, 100);
  const std::vector<float> dinp0 = random_bf16(len, 200), dw0 = random_bf16(C, 201), db0 = random_bf16(C, 202);

  // Reference forward and backward; the GPU backward gets the reference's statistics so that the
  // backward is compared on its own.
  std::vector<float> out(len), mean(N), rstd(N), dinp = dinp0, dw = dw0, db = db0;
  const float* bias = with_bias ? in.bias.data() : nullptr;
  cpu.layernorm_forward(out.data() + off, mean.data(), rstd.data(), in.x.data() + off, in.weight.data(), bias, N, C,
                        kEps);
  cpu.layernorm_backward(dinp.data() + off, dw.data(), with_bias ? db.data() : nullptr, in.dout.data() + off,
                         in.x.data() + off, in.weight.data(), mean.data(), rstd.data(), N, C);

  DeviceArray<bf16> d_x(in.x), d_w(in.weight), d_b(in.bias), d_dout(in.dout), d_out(len);
  DeviceArray<float> d_mean(static_cast<size_t>(N)), d_rstd(static_cast<size_t>(N));
  DeviceArray<float> ref_mean(mean), ref_rstd(rstd);
  DeviceArray<bf16> d_dinp(dinp0), d_dw(dw0), d_db(db0);
  sync_uploads();
  ops.layernorm_forward(d_out.get() + off, d_mean.get(), d_rstd.get(), d_x.get() + off, d_w.get(),
                        with_bias ? d_b.get() : nullptr, N, C, kEps);
  ops.layernorm_backward(d_dinp.get() + off, d_dw.get(), with_bias ? d_db.get() : nullptr, d_dout.get() + off,
                         d_x.get() + off, d_w.get(), ref_mean.get(), ref_rstd.get(), N, C);

  EXPECT_LT(max_rel_error(slice(d_out.to_floats(), off, n), slice(out, off, n)), kTolerance) << "out";
  EXPECT_LT(max_rel_error(d_mean.to_floats(), mean), kStatsTolerance) << "mean";
  EXPECT_LT(max_rel_error(d_rstd.to_floats(), rstd), kStatsTolerance) << "rstd";
  EXPECT_LT(max_rel_error(slice(d_dinp.to_floats(), off, n), slice(dinp, off, n)), kTolerance) << "dinp";
  EXPECT_LT(max_rel_error(d_dw.to_floats(), dw), kTolerance) << "dweight";
  const std::vector<float> g_db = d_db.to_floats();
  if (with_bias) {
    EXPECT_LT(max_rel_error(g_db, db), kTolerance) << "dbias";
  } else {
    for (int c = 0; c < C; ++c) ASSERT_EQ(bits(g_db[static_cast<size_t>(c)]), bits(db0[static_cast<size_t>(c)]));
  }
  if (off) {
    EXPECT_NE(d_out.to_floats()[0], d_out.to_floats()[0]) << "the element before the range was written";
    EXPECT_EQ(bits(d_dinp.to_floats()[0]), bits(dinp0[0])) << "the element before the range was written";
  }
}

void run_rmsnorm(const Case& k) {
  SCOPED_TRACE(name(k));
  CudaOps ops;
  CpuOps<float> cpu;
  const int N = k.N, C = k.C;
  const size_t off = k.off, n = static_cast<size_t>(N) * C, len = n + off;
  const Inputs in = make_inputs(k, 300);
  const std::vector<float> dinp0 = random_bf16(len, 400), dw0 = random_bf16(C, 401);

  std::vector<float> out(len), rstd(N), dinp = dinp0, dw = dw0;
  cpu.rmsnorm_forward(out.data() + off, rstd.data(), in.x.data() + off, in.weight.data(), N, C, kEps);
  cpu.rmsnorm_backward(dinp.data() + off, dw.data(), in.dout.data() + off, in.x.data() + off, in.weight.data(),
                       rstd.data(), N, C);

  DeviceArray<bf16> d_x(in.x), d_w(in.weight), d_dout(in.dout), d_out(len);
  DeviceArray<float> d_rstd(static_cast<size_t>(N)), ref_rstd(rstd);
  DeviceArray<bf16> d_dinp(dinp0), d_dw(dw0);
  sync_uploads();
  ops.rmsnorm_forward(d_out.get() + off, d_rstd.get(), d_x.get() + off, d_w.get(), N, C, kEps);
  ops.rmsnorm_backward(d_dinp.get() + off, d_dw.get(), d_dout.get() + off, d_x.get() + off, d_w.get(),
                       ref_rstd.get(), N, C);

  EXPECT_LT(max_rel_error(slice(d_out.to_floats(), off, n), slice(out, off, n)), kTolerance) << "out";
  EXPECT_LT(max_rel_error(d_rstd.to_floats(), rstd), kStatsTolerance) << "rstd";
  EXPECT_LT(max_rel_error(slice(d_dinp.to_floats(), off, n), slice(dinp, off, n)), kTolerance) << "dinp";
  EXPECT_LT(max_rel_error(d_dw.to_floats(), dw), kTolerance) << "dweight";
}

TEST(CudaOpsNorm, LayerNormWithBiasMatchesTheCpu) {
  KILN_SKIP_WITHOUT_GPU();
  for (const Case& k : kCases) run_layernorm(k, true);
}

TEST(CudaOpsNorm, LayerNormWithoutBiasMatchesTheCpuAndLeavesNoBiasGradient) {
  KILN_SKIP_WITHOUT_GPU();
  for (const Case& k : kCases) run_layernorm(k, false);
}

TEST(CudaOpsNorm, RmsNormMatchesTheCpu) {
  KILN_SKIP_WITHOUT_GPU();
  for (const Case& k : kCases) run_rmsnorm(k);
}

TEST(CudaOpsNorm, ForwardWithoutStatisticsWritesTheSameOutput) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const Case k{37, 2560, 0};
  const Inputs in = make_inputs(k, 500);
  const size_t n = static_cast<size_t>(k.N) * k.C;
  DeviceArray<bf16> d_x(in.x), d_w(in.weight), d_b(in.bias), a(n), b(n), c(n), d(n);
  DeviceArray<float> mean(static_cast<size_t>(k.N)), rstd(static_cast<size_t>(k.N));
  sync_uploads();
  ops.layernorm_forward(a.get(), mean.get(), rstd.get(), d_x.get(), d_w.get(), d_b.get(), k.N, k.C, kEps);
  ops.layernorm_forward(b.get(), nullptr, nullptr, d_x.get(), d_w.get(), d_b.get(), k.N, k.C, kEps);
  ops.rmsnorm_forward(c.get(), rstd.get(), d_x.get(), d_w.get(), k.N, k.C, kEps);
  ops.rmsnorm_forward(d.get(), nullptr, d_x.get(), d_w.get(), k.N, k.C, kEps);
  const std::vector<float> fa = a.to_floats(), fb = b.to_floats(), fc = c.to_floats(), fd = d.to_floats();
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(bits(fa[i]), bits(fb[i])) << "layernorm, element " << i;
    ASSERT_EQ(bits(fc[i]), bits(fd[i])) << "rmsnorm, element " << i;
  }
}

TEST(CudaOpsNorm, BackwardIsBitwiseReproducible) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  const Case k{4096, 2560, 0};
  const Inputs in = make_inputs(k, 600);
  const size_t n = static_cast<size_t>(k.N) * k.C;
  DeviceArray<bf16> d_x(in.x), d_w(in.weight), d_b(in.bias), d_dout(in.dout), out(n);
  DeviceArray<float> mean(static_cast<size_t>(k.N)), rstd(static_cast<size_t>(k.N));
  const std::vector<float> zeros_n(n, 0.0f), zeros_c(static_cast<size_t>(k.C), 0.0f);
  DeviceArray<bf16> dx1(zeros_n), dw1(zeros_c), db1(zeros_c), dx2(zeros_n), dw2(zeros_c), db2(zeros_c);
  sync_uploads();
  ops.layernorm_forward(out.get(), mean.get(), rstd.get(), d_x.get(), d_w.get(), d_b.get(), k.N, k.C, kEps);
  ops.layernorm_backward(dx1.get(), dw1.get(), db1.get(), d_dout.get(), d_x.get(), d_w.get(), mean.get(), rstd.get(),
                         k.N, k.C);
  ops.layernorm_backward(dx2.get(), dw2.get(), db2.get(), d_dout.get(), d_x.get(), d_w.get(), mean.get(), rstd.get(),
                         k.N, k.C);
  for (const auto& [p, q] : {std::pair{&dx1, &dx2}, std::pair{&dw1, &dw2}, std::pair{&db1, &db2}}) {
    const std::vector<float> a = p->to_floats(), b = q->to_floats();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(bits(a[i]), bits(b[i])) << "element " << i;
  }
}

TEST(CudaOpsNorm, BackwardRejectsMissingStatistics) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  DeviceArray<bf16> t(64), w(8);
  DeviceArray<float> s(8);
  EXPECT_THROW(ops.layernorm_backward(t.get(), w.get(), nullptr, t.get(), t.get(), w.get(), nullptr, s.get(), 8, 8),
               std::invalid_argument);
  EXPECT_THROW(ops.rmsnorm_backward(t.get(), w.get(), t.get(), t.get(), w.get(), nullptr, 8, 8), std::invalid_argument);
}

}  // namespace
}  // namespace kiln
