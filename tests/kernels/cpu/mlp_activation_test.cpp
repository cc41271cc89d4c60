// Tests of cpu/mlp_activation.h (SwiGLU, GELU) and of the other elementwise ops, cpu/residual.h
// (residual add, scale).
#include "cpu/mlp_activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cpu/residual.h"
#include "support/grad_check.h"

namespace {

using kiln::cpu::gelu_backward;
using kiln::cpu::gelu_forward;
using kiln::cpu::residual_backward;
using kiln::cpu::residual_forward;
using kiln::cpu::scale_backward;
using kiln::cpu::scale_forward;
using kiln::cpu::swiglu_backward;
using kiln::cpu::swiglu_forward;
using kiln::testing::expect_gradient;
using kiln::testing::random_vector;
using kiln::testing::weighted_sum;

// An [N, F] activation with N = 5, F = 7; the kernels see n = 35 elements.
constexpr int64_t kCount = 5 * 7;

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

void expect_close(const std::vector<float>& f, const std::vector<double>& d, double rel,
                  const std::string& what) {
  ASSERT_EQ(f.size(), d.size()) << what;
  for (size_t i = 0; i < f.size(); ++i)
    EXPECT_NEAR(f[i], d[i], rel * std::max(1.0, std::fabs(d[i]))) << what << "[" << i << "]";
}

double naive_silu(double g) { return g / (1.0 + std::exp(-g)); }
double naive_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// ---- SwiGLU ----------------------------------------------------------------------------------

std::vector<double> swiglu(const std::vector<double>& gate, const std::vector<double>& up) {
  std::vector<double> out(gate.size());
  swiglu_forward(out.data(), gate.data(), up.data(), static_cast<int64_t>(gate.size()));
  return out;
}

TEST(SwiGlu, ForwardMatchesNaive) {
  const auto gate = random_vector(kCount, 1, -6.0, 6.0);
  const auto up = random_vector(kCount, 2, -2.0, 2.0);
  const auto out = swiglu(gate, up);
  for (int64_t i = 0; i < kCount; ++i)
    EXPECT_NEAR(out[i], naive_silu(gate[i]) * up[i], 1e-14) << i;
}

TEST(SwiGlu, ForwardInPlace) {
  const auto gate = random_vector(kCount, 3, -6.0, 6.0);
  const auto up = random_vector(kCount, 4, -2.0, 2.0);
  const auto ref = swiglu(gate, up);
  auto buf = gate;
  swiglu_forward(buf.data(), buf.data(), up.data(), kCount);
  EXPECT_EQ(buf, ref);
}

TEST(SwiGlu, GradientsMatchFiniteDifferences) {
  auto gate = random_vector(kCount, 5, -6.0, 6.0);
  auto up = random_vector(kCount, 6, -2.0, 2.0);
  const auto dout = random_vector(kCount, 7);
  std::vector<double> dgate(kCount, 0.0), dup(kCount, 0.0);
  swiglu_backward(dgate.data(), dup.data(), dout.data(), gate.data(), up.data(), kCount);
  auto loss = [&] { return weighted_sum(swiglu(gate, up), dout); };
  expect_gradient(gate, dgate, loss, "dgate");
  expect_gradient(up, dup, loss, "dup");
}

TEST(SwiGlu, BackwardAccumulates) {
  const auto gate = random_vector(kCount, 8, -6.0, 6.0);
  const auto up = random_vector(kCount, 9);
  const auto dout = random_vector(kCount, 10);
  std::vector<double> g1(kCount, 0.0), u1(kCount, 0.0), g2(kCount, 0.0), u2(kCount, 0.0);
  swiglu_backward(g1.data(), u1.data(), dout.data(), gate.data(), up.data(), kCount);
  for (int k = 0; k < 2; ++k)
    swiglu_backward(g2.data(), u2.data(), dout.data(), gate.data(), up.data(), kCount);
  for (int64_t i = 0; i < kCount; ++i) {
    EXPECT_DOUBLE_EQ(g2[i], 2 * g1[i]) << i;
    EXPECT_DOUBLE_EQ(u2[i], 2 * u1[i]) << i;
  }
}

// Large |gate| must neither overflow e^−g nor produce 0·∞: silu → 0 on the left, → g on the
// right, with derivative → 0 and → 1.
TEST(SwiGlu, ExtremeGatesStayFinite) {
  const std::vector<double> gate = {-1e4, -200.0, -100.0, -90.0, 90.0, 100.0, 200.0, 1e4};
  const std::vector<double> ones(gate.size(), 1.0);
  const int64_t n = static_cast<int64_t>(gate.size());

  std::vector<double> out(n), dgate(n, 0.0), dup(n, 0.0);
  swiglu_forward(out.data(), gate.data(), ones.data(), n);
  swiglu_backward(dgate.data(), dup.data(), ones.data(), gate.data(), ones.data(), n);

  const auto gate_f = to_float(gate), ones_f = to_float(ones);
  std::vector<float> out_f(n), dgate_f(n, 0.0f), dup_f(n, 0.0f);
  swiglu_forward(out_f.data(), gate_f.data(), ones_f.data(), n);
  swiglu_backward(dgate_f.data(), dup_f.data(), ones_f.data(), gate_f.data(), ones_f.data(), n);

  for (int64_t i = 0; i < n; ++i) {
    const bool negative = gate[i] < 0;
    EXPECT_NEAR(out[i], negative ? 0.0 : gate[i], 1e-30 + 1e-12 * std::fabs(gate[i])) << i;
    EXPECT_NEAR(dgate[i], negative ? 0.0 : 1.0, 1e-30) << i;
    EXPECT_TRUE(std::isfinite(out_f[i]) && std::isfinite(dgate_f[i]) && std::isfinite(dup_f[i]))
        << "float, gate " << gate[i];
    EXPECT_NEAR(out_f[i], negative ? 0.0f : gate_f[i], 1e-6f * std::fabs(gate_f[i])) << i;
    EXPECT_NEAR(dgate_f[i], negative ? 0.0f : 1.0f, 1e-6f) << i;
  }
}

TEST(SwiGlu, FloatMatchesDouble) {
  const auto gate = random_vector(kCount, 11, -6.0, 6.0);
  const auto up = random_vector(kCount, 12, -2.0, 2.0);
  const auto dout = random_vector(kCount, 13);
  std::vector<double> out_d(kCount), dg_d(kCount, 0.0), du_d(kCount, 0.0);
  swiglu_forward(out_d.data(), gate.data(), up.data(), kCount);
  swiglu_backward(dg_d.data(), du_d.data(), dout.data(), gate.data(), up.data(), kCount);

  const auto gf = to_float(gate), uf = to_float(up), df = to_float(dout);
  std::vector<float> out_f(kCount), dg_f(kCount, 0.0f), du_f(kCount, 0.0f);
  swiglu_forward(out_f.data(), gf.data(), uf.data(), kCount);
  swiglu_backward(dg_f.data(), du_f.data(), df.data(), gf.data(), uf.data(), kCount);
  expect_close(out_f, out_d, 1e-6, "out");
  expect_close(dg_f, dg_d, 1e-6, "dgate");
  expect_close(du_f, du_d, 1e-6, "dup");
}

// ---- GELU ------------------------------------------------------------------------------------

std::vector<double> gelu(const std::vector<double>& x) {
  std::vector<double> out(x.size());
  gelu_forward(out.data(), x.data(), static_cast<int64_t>(x.size()));
  return out;
}

TEST(Gelu, ForwardMatchesExactErfForm) {
  const auto x = random_vector(kCount, 20, -5.0, 5.0);
  const auto out = gelu(x);
  for (int64_t i = 0; i < kCount; ++i) EXPECT_NEAR(out[i], naive_gelu(x[i]), 1e-14) << i;
  // Reference values of torch.nn.functional.gelu (exact): gelu(1) = 0.8413447460685429,
  // gelu(−1) = −0.15865525393145707. The tanh form would give 0.8411919906082768 at 1.
  const auto fixed = gelu({1.0, -1.0, 0.0});
  EXPECT_NEAR(fixed[0], 0.8413447460685429, 1e-15);
  EXPECT_NEAR(fixed[1], -0.15865525393145707, 1e-15);
  EXPECT_EQ(fixed[2], 0.0);
}

TEST(Gelu, GradientMatchesFiniteDifferences) {
  auto x = random_vector(kCount, 21, -5.0, 5.0);
  const auto dout = random_vector(kCount, 22);
  std::vector<double> dx(kCount, 0.0);
  gelu_backward(dx.data(), dout.data(), x.data(), kCount);
  expect_gradient(x, dx, [&] { return weighted_sum(gelu(x), dout); }, "dinp");
}

TEST(Gelu, BackwardAccumulatesAndExtremesStayFinite) {
  const std::vector<double> x = {-1e4, -40.0, -3.0, 0.0, 0.5, 40.0, 1e4};
  const int64_t n = static_cast<int64_t>(x.size());
  const std::vector<double> dout(n, 1.0);
  std::vector<double> once(n, 0.0), twice(n, 0.0);
  gelu_backward(once.data(), dout.data(), x.data(), n);
  for (int k = 0; k < 2; ++k) gelu_backward(twice.data(), dout.data(), x.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_DOUBLE_EQ(twice[i], 2 * once[i]) << i;
    EXPECT_TRUE(std::isfinite(once[i])) << x[i];
  }
  EXPECT_EQ(once[0], 0.0);
  EXPECT_EQ(once[n - 1], 1.0);
  EXPECT_DOUBLE_EQ(once[3], 0.5);  // Φ(0)
  const auto out = gelu(x);
  EXPECT_EQ(out[0], 0.0);
  EXPECT_EQ(out[n - 1], 1e4);
}

TEST(Gelu, FloatMatchesDouble) {
  const auto x = random_vector(kCount, 23, -5.0, 5.0);
  const auto dout = random_vector(kCount, 24);
  std::vector<double> out_d(kCount), dx_d(kCount, 0.0);
  gelu_forward(out_d.data(), x.data(), kCount);
  gelu_backward(dx_d.data(), dout.data(), x.data(), kCount);
  const auto xf = to_float(x), df = to_float(dout);
  std::vector<float> out_f(kCount), dx_f(kCount, 0.0f);
  gelu_forward(out_f.data(), xf.data(), kCount);
  gelu_backward(dx_f.data(), df.data(), xf.data(), kCount);
  expect_close(out_f, out_d, 1e-6, "out");
  expect_close(dx_f, dx_d, 1e-6, "dinp");
}

// ---- Residual and scale (cpu/residual.h) ----------------------------------------------------

TEST(Residual, ForwardAndGradients) {
  auto a = random_vector(kCount, 30);
  auto b = random_vector(kCount, 31);
  const auto dout = random_vector(kCount, 32);
  auto residual = [&] {
    std::vector<double> out(kCount);
    residual_forward(out.data(), a.data(), b.data(), kCount);
    return out;
  };
  const auto out = residual();
  for (int64_t i = 0; i < kCount; ++i) EXPECT_EQ(out[i], a[i] + b[i]) << i;

  std::vector<double> da(kCount, 0.0), db(kCount, 0.0);
  residual_backward(da.data(), db.data(), dout.data(), kCount);
  auto loss = [&] { return weighted_sum(residual(), dout); };
  expect_gradient(a, da, loss, "da");
  expect_gradient(b, db, loss, "db");

  // Accumulates into both sides.
  residual_backward(da.data(), db.data(), dout.data(), kCount);
  for (int64_t i = 0; i < kCount; ++i) {
    EXPECT_DOUBLE_EQ(da[i], 2 * dout[i]) << i;
    EXPECT_DOUBLE_EQ(db[i], 2 * dout[i]) << i;
  }
  // A null side is skipped.
  residual_backward(da.data(), static_cast<double*>(nullptr), dout.data(), kCount);
  residual_backward(static_cast<double*>(nullptr), db.data(), dout.data(), kCount);
  for (int64_t i = 0; i < kCount; ++i) {
    EXPECT_DOUBLE_EQ(da[i], 3 * dout[i]) << i;
    EXPECT_DOUBLE_EQ(db[i], 3 * dout[i]) << i;
  }

  // In place: x = x + branch.
  auto x = a;
  residual_forward(x.data(), x.data(), b.data(), kCount);
  EXPECT_EQ(x, out);
}

TEST(Scale, ForwardAndGradient) {
  for (double s : {14.6, 0.222, -1.5}) {
    auto x = random_vector(kCount, 40);
    const auto dout = random_vector(kCount, 41);
    auto scaled = [&] {
      std::vector<double> out(kCount);
      scale_forward(out.data(), x.data(), s, kCount);
      return out;
    };
    const auto out = scaled();
    for (int64_t i = 0; i < kCount; ++i) EXPECT_EQ(out[i], s * x[i]) << i;
    std::vector<double> dx(kCount, 0.0);
    scale_backward(dx.data(), dout.data(), s, kCount);
    expect_gradient(x, dx, [&] { return weighted_sum(scaled(), dout); },
                    "dinp s=" + std::to_string(s));
    scale_backward(dx.data(), dout.data(), s, kCount);
    for (int64_t i = 0; i < kCount; ++i) EXPECT_DOUBLE_EQ(dx[i], 2 * s * dout[i]) << i;
  }
}

TEST(Residual, FloatMatchesDouble) {
  const auto a = random_vector(kCount, 50), b = random_vector(kCount, 51);
  std::vector<double> out_d(kCount), sc_d(kCount);
  residual_forward(out_d.data(), a.data(), b.data(), kCount);
  scale_forward(sc_d.data(), a.data(), 14.6, kCount);
  const auto af = to_float(a), bf = to_float(b);
  std::vector<float> out_f(kCount), sc_f(kCount);
  residual_forward(out_f.data(), af.data(), bf.data(), kCount);
  scale_forward(sc_f.data(), af.data(), 14.6f, kCount);
  expect_close(out_f, out_d, 1e-6, "residual");
  expect_close(sc_f, sc_d, 1e-6, "scale");
}

}  // namespace
