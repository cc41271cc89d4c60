// Finite-difference gradient checks for the CPU kernels.
//
// Kernels are templates instantiated for float (the product) and double (the checks): in double,
// central differences with h = 1e-6 agree with a correct analytic gradient to ~1e-8 relative, so a
// tolerance of 1e-6 catches real mistakes without flaking.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace kiln::testing {

// Deterministic values in [lo, hi).
inline std::vector<double> random_vector(size_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Checks analytic[i] ≈ d loss / d x[i] for every i, by central differences. `loss` must read `x`
// (it is perturbed in place and restored). Reports at most a few mismatches, named by `what`.
inline void expect_gradient(std::vector<double>& x, const std::vector<double>& analytic,
                            const std::function<double()>& loss, const std::string& what,
                            double h = 1e-6, double tolerance = 1e-6) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = loss();
    x[i] = saved - h;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double scale = std::max({1.0, std::fabs(numeric), std::fabs(analytic[i])});
    if (std::fabs(numeric - analytic[i]) > tolerance * scale && reported++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric;
  }
}

// Σ out[i]·w[i]: a scalar loss whose gradient with respect to out is w, so a backward pass fed
// dout = w must produce the gradient of this loss.
inline double weighted_sum(const std::vector<double>& out, const std::vector<double>& w) {
  double s = 0;
  for (size_t i = 0; i < out.size(); ++i) s += out[i] * w[i];
  return s;
}

}  // namespace kiln::testing
