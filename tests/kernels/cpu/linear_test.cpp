#include "cpu/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/grad_check.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using kiln::cpu::linear_backward;
using kiln::cpu::linear_forward;
using kiln::testing::expect_gradient;
using kiln::testing::random_vector;
using kiln::testing::weighted_sum;

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

struct Shape {
  int N, IC, OC;
  std::string name() const {
    return "N=" + std::to_string(N) + " IC=" + std::to_string(IC) + " OC=" + std::to_string(OC);
  }
};

// Odd sizes, all different (a swapped dimension cannot go unnoticed), plus degenerate ones where
// BLAS takes its matrix-vector paths.
const Shape kShapes[] = {{5, 7, 9}, {1, 3, 1}, {4, 1, 6}};

// out[n, o] = Σ_i inp[n, i]·W[o, i] + bias[o], loop by loop.
std::vector<double> naive_linear(const std::vector<double>& x, const std::vector<double>& w,
                                 const std::vector<double>* b, const Shape& s) {
  std::vector<double> out(s.N * s.OC);
  for (int n = 0; n < s.N; ++n)
    for (int o = 0; o < s.OC; ++o) {
      double acc = b ? (*b)[o] : 0.0;
      for (int i = 0; i < s.IC; ++i) acc += x[n * s.IC + i] * w[o * s.IC + i];
      out[n * s.OC + o] = acc;
    }
  return out;
}

std::vector<double> linear(const std::vector<double>& x, const std::vector<double>& w,
                           const std::vector<double>* b, const Shape& s) {
  std::vector<double> out(s.N * s.OC, 123.0);  // garbage: forward must overwrite
  linear_forward(out.data(), x.data(), w.data(), b ? b->data() : nullptr, s.N, s.IC, s.OC);
  return out;
}

TEST(Linear, ForwardMatchesNaive) {
  for (const auto& s : kShapes)
    for (bool with_bias : {true, false}) {
      const auto x = random_vector(s.N * s.IC, 1);
      const auto w = random_vector(s.OC * s.IC, 2);
      const auto b = random_vector(s.OC, 3);
      const auto* bp = with_bias ? &b : nullptr;
      const auto ref = naive_linear(x, w, bp, s);
      const auto out = linear(x, w, bp, s);
      for (int i = 0; i < s.N * s.OC; ++i)
        EXPECT_NEAR(out[i], ref[i], 1e-13) << s.name() << " bias=" << with_bias << " [" << i << "]";
    }
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  for (const auto& s : kShapes)
    for (bool with_bias : {true, false}) {
      std::string tag = " ";
      tag += s.name();
      tag += with_bias ? " (bias)" : " (no bias)";
      auto x = random_vector(s.N * s.IC, 4);
      auto w = random_vector(s.OC * s.IC, 5);
      auto b = random_vector(s.OC, 6);
      const auto* bp = with_bias ? &b : nullptr;
      const auto dout = random_vector(s.N * s.OC, 7);

      std::vector<double> dx(s.N * s.IC, 0.0), dw(s.OC * s.IC, 0.0), db(s.OC, 0.0);
      linear_backward(dx.data(), dw.data(), with_bias ? db.data() : nullptr, dout.data(),
                      x.data(), w.data(), s.N, s.IC, s.OC);

      auto loss = [&] { return weighted_sum(linear(x, w, bp, s), dout); };
      expect_gradient(x, dx, loss, "dinp" + tag);
      expect_gradient(w, dw, loss, "dweight" + tag);
      if (with_bias) expect_gradient(b, db, loss, "dbias" + tag);
    }
}

TEST(Linear, BackwardAccumulates) {
  const Shape s{5, 7, 9};
  const auto x = random_vector(s.N * s.IC, 8);
  const auto w = random_vector(s.OC * s.IC, 9);
  const auto dout = random_vector(s.N * s.OC, 10);
  auto run = [&](int times, double start) {
    std::vector<double> dx(s.N * s.IC, start), dw(s.OC * s.IC, start), db(s.OC, start);
    for (int k = 0; k < times; ++k)
      linear_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), s.N, s.IC,
                      s.OC);
    return std::vector<std::vector<double>>{dx, dw, db};
  };
  const auto once = run(1, 0.0);
  const auto twice = run(2, 0.0);
  const auto preset = run(1, 0.25);
  for (int k = 0; k < 3; ++k)
    for (size_t i = 0; i < once[k].size(); ++i) {
      EXPECT_NEAR(twice[k][i], 2 * once[k][i], 1e-14) << "gradient " << k << " [" << i << "]";
      EXPECT_NEAR(preset[k][i], 0.25 + once[k][i], 1e-14) << "gradient " << k << " [" << i << "]";
    }
}

// Null gradient outputs are skipped and do not change the others.
TEST(Linear, NullGradientsAreSkipped) {
  const Shape s{5, 7, 9};
  const auto x = random_vector(s.N * s.IC, 11);
  const auto w = random_vector(s.OC * s.IC, 12);
  const auto dout = random_vector(s.N * s.OC, 13);
  std::vector<double> dx(s.N * s.IC, 0.0), dw(s.OC * s.IC, 0.0), db(s.OC, 0.0);
  linear_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), s.N, s.IC,
                  s.OC);

  std::vector<double> dx_only(s.N * s.IC, 0.0);
  linear_backward(dx_only.data(), static_cast<double*>(nullptr), static_cast<double*>(nullptr),
                  dout.data(), static_cast<const double*>(nullptr), w.data(), s.N, s.IC, s.OC);
  EXPECT_EQ(dx_only, dx);

  std::vector<double> dw_only(s.OC * s.IC, 0.0), db_only(s.OC, 0.0);
  linear_backward(static_cast<double*>(nullptr), dw_only.data(), db_only.data(), dout.data(),
                  x.data(), w.data(), s.N, s.IC, s.OC);
  EXPECT_EQ(dw_only, dw);
  EXPECT_EQ(db_only, db);
}

TEST(Linear, FloatMatchesDouble) {
  const Shape s{5, 7, 9};
  const auto x = random_vector(s.N * s.IC, 14);
  const auto w = random_vector(s.OC * s.IC, 15);
  const auto b = random_vector(s.OC, 16);
  const auto dout = random_vector(s.N * s.OC, 17);

  std::vector<double> out_d(s.N * s.OC), dx_d(s.N * s.IC, 0.0), dw_d(s.OC * s.IC, 0.0),
      db_d(s.OC, 0.0);
  linear_forward(out_d.data(), x.data(), w.data(), b.data(), s.N, s.IC, s.OC);
  linear_backward(dx_d.data(), dw_d.data(), db_d.data(), dout.data(), x.data(), w.data(), s.N,
                  s.IC, s.OC);

  const auto xf = to_float(x), wf = to_float(w), bf = to_float(b), doutf = to_float(dout);
  std::vector<float> out_f(s.N * s.OC), dx_f(s.N * s.IC, 0.0f), dw_f(s.OC * s.IC, 0.0f),
      db_f(s.OC, 0.0f);
  linear_forward(out_f.data(), xf.data(), wf.data(), bf.data(), s.N, s.IC, s.OC);
  linear_backward(dx_f.data(), dw_f.data(), db_f.data(), doutf.data(), xf.data(), wf.data(), s.N,
                  s.IC, s.OC);

  auto expect_close = [](const std::vector<float>& f, const std::vector<double>& d,
                         const char* what) {
    for (size_t i = 0; i < f.size(); ++i)
      EXPECT_NEAR(f[i], d[i], 1e-5 * std::max(1.0, std::fabs(d[i]))) << what << "[" << i << "]";
  };
  expect_close(out_f, out_d, "out");
  expect_close(dx_f, dx_d, "dinp");
  expect_close(dw_f, dw_d, "dweight");
  expect_close(db_f, db_d, "dbias");
}

#ifdef _OPENMP
// The bias gradient is kiln's own column sum (the GEMMs are BLAS's business): bitwise the same
// for any number of threads, with OC not a multiple of the channel block.
TEST(Linear, BiasGradientDoesNotDependOnThreadCount) {
  const int rows = 400, ic = 3, oc = 150;
  const auto x = to_float(random_vector(size_t(rows) * ic, 18));
  const auto w = to_float(random_vector(size_t(oc) * ic, 19));
  const auto dout = to_float(random_vector(size_t(rows) * oc, 20));
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 3, 4}) {
    omp_set_num_threads(threads);
    std::vector<float> db(oc, 0.0f);
    linear_backward(static_cast<float*>(nullptr), static_cast<float*>(nullptr), db.data(),
                    dout.data(), x.data(), w.data(), rows, ic, oc);
    results.push_back(db);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}
#endif

}  // namespace
