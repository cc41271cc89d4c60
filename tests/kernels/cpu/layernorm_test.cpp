#include "cpu/layernorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/grad_check.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using kiln::cpu::layernorm_backward;
using kiln::cpu::layernorm_forward;
using kiln::cpu::rmsnorm_backward;
using kiln::cpu::rmsnorm_forward;
using kiln::testing::expect_gradient;
using kiln::testing::random_vector;
using kiln::testing::weighted_sum;

constexpr int N = 5, C = 7;
constexpr double kEps = 1e-5;

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

void expect_close(const std::vector<float>& f, const std::vector<double>& d, double rel,
                  const std::string& what) {
  ASSERT_EQ(f.size(), d.size()) << what;
  for (size_t i = 0; i < f.size(); ++i)
    EXPECT_NEAR(f[i], d[i], rel * std::max(1.0, std::fabs(d[i]))) << what << "[" << i << "]";
}

// Inputs with a nonzero mean per row (offset 1.5) so that a missing mean subtraction shows up.
std::vector<double> make_input(uint32_t seed) { return random_vector(N * C, seed, -1.0, 4.0); }

// ---- LayerNorm -------------------------------------------------------------------------------

// Straight from the definition, in double: mean, biased variance, normalise, affine.
std::vector<double> naive_layernorm(const std::vector<double>& x, const std::vector<double>& w,
                                    const std::vector<double>* b, std::vector<double>* mean,
                                    std::vector<double>* rstd) {
  std::vector<double> out(N * C);
  for (int n = 0; n < N; ++n) {
    double m = 0;
    for (int c = 0; c < C; ++c) m += x[n * C + c];
    m /= C;
    double var = 0;
    for (int c = 0; c < C; ++c) var += (x[n * C + c] - m) * (x[n * C + c] - m);
    var /= C;
    const double s = 1.0 / std::sqrt(var + kEps);
    for (int c = 0; c < C; ++c)
      out[n * C + c] = (x[n * C + c] - m) * s * w[c] + (b ? (*b)[c] : 0.0);
    if (mean) (*mean)[n] = m;
    if (rstd) (*rstd)[n] = s;
  }
  return out;
}

std::vector<double> layernorm(const std::vector<double>& x, const std::vector<double>& w,
                              const std::vector<double>* b) {
  std::vector<double> out(N * C);
  layernorm_forward(out.data(), static_cast<double*>(nullptr), static_cast<double*>(nullptr),
                    x.data(), w.data(), b ? b->data() : nullptr, N, C, kEps);
  return out;
}

TEST(LayerNorm, ForwardMatchesNaive) {
  const auto x = make_input(1);
  const auto w = random_vector(C, 2, 0.5, 1.5);
  const auto b = random_vector(C, 3);
  for (bool with_bias : {true, false}) {
    const auto* bp = with_bias ? &b : nullptr;
    std::vector<double> mean_ref(N), rstd_ref(N);
    const auto ref = naive_layernorm(x, w, bp, &mean_ref, &rstd_ref);
    std::vector<double> out(N * C), mean(N), rstd(N);
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(),
                      bp ? bp->data() : nullptr, N, C, kEps);
    for (int i = 0; i < N * C; ++i) EXPECT_NEAR(out[i], ref[i], 1e-12) << i;
    for (int n = 0; n < N; ++n) {
      EXPECT_NEAR(mean[n], mean_ref[n], 1e-12) << n;
      EXPECT_NEAR(rstd[n], rstd_ref[n], 1e-12 * rstd_ref[n]) << n;
    }
  }
}

TEST(LayerNorm, GradientsMatchFiniteDifferences) {
  for (bool with_bias : {true, false}) {
    const std::string tag = with_bias ? " (bias)" : " (no bias)";
    auto x = make_input(4);
    auto w = random_vector(C, 5, 0.5, 1.5);
    auto b = random_vector(C, 6);
    const auto* bp = with_bias ? &b : nullptr;
    const auto dout = random_vector(N * C, 7);

    std::vector<double> out(N * C), mean(N), rstd(N);
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(),
                      bp ? bp->data() : nullptr, N, C, kEps);
    std::vector<double> dx(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
    layernorm_backward(dx.data(), dw.data(), with_bias ? db.data() : nullptr, dout.data(),
                       x.data(), w.data(), mean.data(), rstd.data(), N, C);

    auto loss = [&] { return weighted_sum(layernorm(x, w, bp), dout); };
    expect_gradient(x, dx, loss, "dinp" + tag);
    expect_gradient(w, dw, loss, "dweight" + tag);
    if (with_bias) expect_gradient(b, db, loss, "dbias" + tag);
  }
}

TEST(LayerNorm, BackwardAccumulates) {
  const auto x = make_input(8);
  const auto w = random_vector(C, 9, 0.5, 1.5);
  const auto b = random_vector(C, 10);
  const auto dout = random_vector(N * C, 11);
  std::vector<double> out(N * C), mean(N), rstd(N);
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                    kEps);

  auto run = [&](int times) {
    std::vector<double> dx(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
    for (int k = 0; k < times; ++k)
      layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(),
                         mean.data(), rstd.data(), N, C);
    return std::vector<std::vector<double>>{dx, dw, db};
  };
  const auto once = run(1);
  const auto twice = run(2);
  for (int k = 0; k < 3; ++k)
    for (size_t i = 0; i < once[k].size(); ++i)
      EXPECT_DOUBLE_EQ(twice[k][i], 2 * once[k][i]) << "gradient " << k << " [" << i << "]";
}

TEST(LayerNorm, FloatMatchesDouble) {
  const auto x = make_input(12);
  const auto w = random_vector(C, 13, 0.5, 1.5);
  const auto b = random_vector(C, 14);
  const auto dout = random_vector(N * C, 15);

  std::vector<double> out_d(N * C), mean_d(N), rstd_d(N), dx_d(N * C, 0.0), dw_d(C, 0.0),
      db_d(C, 0.0);
  layernorm_forward(out_d.data(), mean_d.data(), rstd_d.data(), x.data(), w.data(), b.data(), N,
                    C, kEps);
  layernorm_backward(dx_d.data(), dw_d.data(), db_d.data(), dout.data(), x.data(), w.data(),
                     mean_d.data(), rstd_d.data(), N, C);

  const auto xf = to_float(x), wf = to_float(w), bf = to_float(b), doutf = to_float(dout);
  std::vector<float> out_f(N * C), mean_f(N), rstd_f(N), dx_f(N * C, 0.0f), dw_f(C, 0.0f),
      db_f(C, 0.0f);
  layernorm_forward(out_f.data(), mean_f.data(), rstd_f.data(), xf.data(), wf.data(), bf.data(),
                    N, C, float(kEps));
  layernorm_backward(dx_f.data(), dw_f.data(), db_f.data(), doutf.data(), xf.data(), wf.data(),
                     mean_f.data(), rstd_f.data(), N, C);

  expect_close(out_f, out_d, 1e-5, "out");
  expect_close(mean_f, mean_d, 1e-5, "mean");
  expect_close(rstd_f, rstd_d, 1e-5, "rstd");
  expect_close(dx_f, dx_d, 1e-5, "dinp");
  expect_close(dw_f, dw_d, 1e-5, "dweight");
  expect_close(db_f, db_d, 1e-5, "dbias");
}

// ---- RMSNorm ---------------------------------------------------------------------------------

std::vector<double> naive_rmsnorm(const std::vector<double>& x, const std::vector<double>& w,
                                  std::vector<double>* rstd) {
  std::vector<double> out(N * C);
  for (int n = 0; n < N; ++n) {
    double ms = 0;
    for (int c = 0; c < C; ++c) ms += x[n * C + c] * x[n * C + c];
    ms /= C;
    const double s = 1.0 / std::sqrt(ms + kEps);
    for (int c = 0; c < C; ++c) out[n * C + c] = x[n * C + c] * s * w[c];
    if (rstd) (*rstd)[n] = s;
  }
  return out;
}

std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& w) {
  std::vector<double> out(N * C);
  rmsnorm_forward(out.data(), static_cast<double*>(nullptr), x.data(), w.data(), N, C, kEps);
  return out;
}

TEST(RmsNorm, ForwardMatchesNaive) {
  const auto x = make_input(20);
  const auto w = random_vector(C, 21, 0.5, 1.5);
  std::vector<double> rstd_ref(N);
  const auto ref = naive_rmsnorm(x, w, &rstd_ref);
  std::vector<double> out(N * C), rstd(N);
  rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, kEps);
  for (int i = 0; i < N * C; ++i) EXPECT_NEAR(out[i], ref[i], 1e-12) << i;
  for (int n = 0; n < N; ++n) EXPECT_NEAR(rstd[n], rstd_ref[n], 1e-12 * rstd_ref[n]) << n;
}

TEST(RmsNorm, GradientsMatchFiniteDifferences) {
  auto x = make_input(22);
  auto w = random_vector(C, 23, 0.5, 1.5);
  const auto dout = random_vector(N * C, 24);
  std::vector<double> out(N * C), rstd(N);
  rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, kEps);
  std::vector<double> dx(N * C, 0.0), dw(C, 0.0);
  rmsnorm_backward(dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);

  auto loss = [&] { return weighted_sum(rmsnorm(x, w), dout); };
  expect_gradient(x, dx, loss, "dinp");
  expect_gradient(w, dw, loss, "dweight");
}

TEST(RmsNorm, BackwardAccumulates) {
  const auto x = make_input(25);
  const auto w = random_vector(C, 26, 0.5, 1.5);
  const auto dout = random_vector(N * C, 27);
  std::vector<double> out(N * C), rstd(N);
  rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, kEps);
  std::vector<double> dx1(N * C, 0.0), dw1(C, 0.0), dx2(N * C, 0.0), dw2(C, 0.0);
  rmsnorm_backward(dx1.data(), dw1.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
  for (int k = 0; k < 2; ++k)
    rmsnorm_backward(dx2.data(), dw2.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
  for (int i = 0; i < N * C; ++i) EXPECT_DOUBLE_EQ(dx2[i], 2 * dx1[i]) << i;
  for (int c = 0; c < C; ++c) EXPECT_DOUBLE_EQ(dw2[c], 2 * dw1[c]) << c;
}

TEST(RmsNorm, FloatMatchesDouble) {
  const auto x = make_input(28);
  const auto w = random_vector(C, 29, 0.5, 1.5);
  const auto dout = random_vector(N * C, 30);
  std::vector<double> out_d(N * C), rstd_d(N), dx_d(N * C, 0.0), dw_d(C, 0.0);
  rmsnorm_forward(out_d.data(), rstd_d.data(), x.data(), w.data(), N, C, kEps);
  rmsnorm_backward(dx_d.data(), dw_d.data(), dout.data(), x.data(), w.data(), rstd_d.data(), N, C);

  const auto xf = to_float(x), wf = to_float(w), doutf = to_float(dout);
  std::vector<float> out_f(N * C), rstd_f(N), dx_f(N * C, 0.0f), dw_f(C, 0.0f);
  rmsnorm_forward(out_f.data(), rstd_f.data(), xf.data(), wf.data(), N, C, float(kEps));
  rmsnorm_backward(dx_f.data(), dw_f.data(), doutf.data(), xf.data(), wf.data(), rstd_f.data(), N,
                   C);
  expect_close(out_f, out_d, 1e-5, "out");
  expect_close(rstd_f, rstd_d, 1e-5, "rstd");
  expect_close(dx_f, dx_d, 1e-5, "dinp");
  expect_close(dw_f, dw_d, 1e-5, "dweight");
}

#ifdef _OPENMP
// Big enough to run threaded, C not a multiple of the channel block: the row-reduced parameter
// gradients (and everything else) must be bitwise the same for any number of threads.
TEST(LayerNorm, BackwardDoesNotDependOnThreadCount) {
  const int rows = 300, ch = 150;
  const auto x = to_float(random_vector(size_t(rows) * ch, 31, -1.0, 3.0));
  const auto w = to_float(random_vector(ch, 32, 0.5, 1.5));
  const auto b = to_float(random_vector(ch, 33));
  const auto dout = to_float(random_vector(size_t(rows) * ch, 34));

  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 3, 4}) {
    omp_set_num_threads(threads);
    std::vector<float> out(size_t(rows) * ch), mean(rows), rstd(rows);
    std::vector<float> dx(size_t(rows) * ch, 0.0f), dw(ch, 0.0f), db(ch, 0.0f);
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), rows,
                      ch, 1e-5f);
    layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(),
                       mean.data(), rstd.data(), rows, ch);
    std::vector<float> rms_out(size_t(rows) * ch), rms_rstd(rows);
    std::vector<float> rms_dx(size_t(rows) * ch, 0.0f), rms_dw(ch, 0.0f);
    rmsnorm_forward(rms_out.data(), rms_rstd.data(), x.data(), w.data(), rows, ch, 1e-5f);
    rmsnorm_backward(rms_dx.data(), rms_dw.data(), dout.data(), x.data(), w.data(),
                     rms_rstd.data(), rows, ch);
    std::vector<float> all;
    for (const auto* v : {&out, &dx, &dw, &db, &rms_out, &rms_dx, &rms_dw})
      all.insert(all.end(), v->begin(), v->end());
    results.push_back(all);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}
#endif

}  // namespace
