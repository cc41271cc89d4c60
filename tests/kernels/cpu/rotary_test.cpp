#include "cpu/rotary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "support/grad_check.h"

namespace kiln::cpu {
namespace {

using kiln::testing::expect_gradient;
using kiln::testing::random_vector;
using kiln::testing::weighted_sum;

// The formula of SPEC.md §1 written out directly, in double, with no table.
std::vector<double> reference_rotary(const std::vector<double>& x, const std::vector<int32_t>& pos,
                                     int H, int D, int R, double theta) {
  std::vector<double> y = x;
  const int N = static_cast<int>(pos.size());
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h) {
      const size_t base = (static_cast<size_t>(n) * H + h) * D;
      for (int i = 0; i < R / 2; ++i) {
        const double angle = pos[n] * std::pow(theta, -2.0 * i / R);
        const double x1 = x[base + i], x2 = x[base + i + R / 2];
        y[base + i] = x1 * std::cos(angle) - x2 * std::sin(angle);
        y[base + i + R / 2] = x2 * std::cos(angle) + x1 * std::sin(angle);
      }
    }
  return y;
}

// Tokens, heads, head dim, rotary dims: odd counts and R < D so passthrough is exercised.
constexpr int N = 7, H = 3, D = 10, R = 6;
constexpr double kTheta = 10000.0;
const std::vector<int32_t> kPositions = {0, 1, 2, 3, 0, 1, 40};  // a reset after token 3

TEST(Rotary, TableHoldsCosAndSinOfEachAngle) {
  RotaryTable<double> table(R, 50, kTheta);
  ASSERT_EQ(table.cos.size(), 50u * R / 2);
  for (int p : {0, 1, 17, 49})
    for (int i = 0; i < R / 2; ++i) {
      const double angle = p * std::pow(kTheta, -2.0 * i / R);
      EXPECT_DOUBLE_EQ(table.cos[p * (R / 2) + i], std::cos(angle));
      EXPECT_DOUBLE_EQ(table.sin[p * (R / 2) + i], std::sin(angle));
    }
}

TEST(Rotary, TableRejectsBadArguments) {
  EXPECT_THROW(RotaryTable<float>(5, 10, kTheta), std::invalid_argument);
  EXPECT_THROW(RotaryTable<float>(0, 10, kTheta), std::invalid_argument);
  EXPECT_THROW(RotaryTable<float>(4, 0, kTheta), std::invalid_argument);
  EXPECT_THROW(RotaryTable<float>(4, 10, 0.0), std::invalid_argument);
}

TEST(Rotary, ForwardMatchesFormulaInDouble) {
  RotaryTable<double> table(R, 64, kTheta);
  const auto x = random_vector(N * H * D, 1);
  std::vector<double> y(x.size());
  rotary_forward(y.data(), x.data(), kPositions.data(), table, N, H, D);
  const auto expected = reference_rotary(x, kPositions, H, D, R, kTheta);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-14) << i;
}

TEST(Rotary, ForwardMatchesFormulaInFloat) {
  RotaryTable<float> table(R, 64, kTheta);
  const auto xd = random_vector(N * H * D, 2);
  const std::vector<float> x(xd.begin(), xd.end());
  std::vector<float> y(x.size());
  rotary_forward(y.data(), x.data(), kPositions.data(), table, N, H, D);
  const auto expected =
      reference_rotary(std::vector<double>(x.begin(), x.end()), kPositions, H, D, R, kTheta);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-6) << i;
}

TEST(Rotary, StableLmShapesMatchFormula) {
  // Stable LM 2: 16 of 64 dims; StableLM-3B: 20 of 80. Large positions check the table's angles.
  for (auto [d, r] : {std::pair{64, 16}, std::pair{80, 20}}) {
    RotaryTable<double> table(r, 4096, kTheta);
    const std::vector<int32_t> pos = {0, 1, 1000, 4095};
    const auto x = random_vector(pos.size() * 2 * d, 3);
    std::vector<double> y(x.size());
    rotary_forward(y.data(), x.data(), pos.data(), table, static_cast<int>(pos.size()), 2, d);
    const auto expected = reference_rotary(x, pos, 2, d, r, kTheta);
    for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-12) << i;
  }
}

TEST(Rotary, DimsBeyondRotaryPassThroughAndPositionZeroIsIdentity) {
  RotaryTable<double> table(R, 64, kTheta);
  const auto x = random_vector(N * H * D, 4);
  std::vector<double> y(x.size());
  rotary_forward(y.data(), x.data(), kPositions.data(), table, N, H, D);
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h) {
      const size_t base = (static_cast<size_t>(n) * H + h) * D;
      for (int d = R; d < D; ++d) EXPECT_EQ(y[base + d], x[base + d]);
      if (kPositions[n] == 0) {
        for (int d = 0; d < R; ++d) EXPECT_EQ(y[base + d], x[base + d]);
      }
    }
}

TEST(Rotary, PositionIdsRestartPerDocument) {
  // Two packed documents with reset position ids: the second one, at positions 0, 1, 2, is
  // rotated exactly as if it stood alone at the start of a sequence.
  RotaryTable<double> table(R, 16, kTheta);
  const std::vector<int32_t> packed = {0, 1, 2, 3, 0, 1, 2};
  const std::vector<int32_t> alone = {0, 1, 2};
  const auto x = random_vector(7 * H * D, 5);
  std::vector<double> y(x.size());
  rotary_forward(y.data(), x.data(), packed.data(), table, 7, H, D);

  const std::vector<double> second(x.begin() + 4 * H * D, x.end());
  std::vector<double> y_alone(second.size());
  rotary_forward(y_alone.data(), second.data(), alone.data(), table, 3, H, D);
  for (size_t i = 0; i < y_alone.size(); ++i) EXPECT_EQ(y[4 * H * D + i], y_alone[i]);
}

TEST(Rotary, InPlaceEqualsOutOfPlace) {
  RotaryTable<float> table(R, 64, kTheta);
  const auto xd = random_vector(N * H * D, 6);
  std::vector<float> x(xd.begin(), xd.end());
  std::vector<float> y(x.size());
  rotary_forward(y.data(), x.data(), kPositions.data(), table, N, H, D);
  rotary_forward(x.data(), x.data(), kPositions.data(), table, N, H, D);
  EXPECT_EQ(x, y);
}

TEST(Rotary, BackwardOfForwardIsIdentity) {
  // The rotation is orthogonal, so applying its transpose to its output gives the input back.
  RotaryTable<double> table(R, 64, kTheta);
  const auto x = random_vector(N * H * D, 7);
  std::vector<double> y(x.size()), back(x.size(), 0.0);
  rotary_forward(y.data(), x.data(), kPositions.data(), table, N, H, D);
  rotary_backward(back.data(), y.data(), kPositions.data(), table, N, H, D);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(back[i], x[i], 1e-14) << i;
}

TEST(Rotary, BackwardAccumulates) {
  RotaryTable<double> table(R, 64, kTheta);
  const auto dout = random_vector(N * H * D, 8);
  const auto prior = random_vector(N * H * D, 9);
  std::vector<double> fresh(dout.size(), 0.0), accumulated = prior;
  rotary_backward(fresh.data(), dout.data(), kPositions.data(), table, N, H, D);
  rotary_backward(accumulated.data(), dout.data(), kPositions.data(), table, N, H, D);
  for (size_t i = 0; i < dout.size(); ++i) EXPECT_NEAR(accumulated[i], prior[i] + fresh[i], 1e-15);
}

TEST(Rotary, GradientMatchesFiniteDifferences) {
  RotaryTable<double> table(R, 64, kTheta);
  auto x = random_vector(N * H * D, 10);
  const auto w = random_vector(N * H * D, 11);
  std::vector<double> y(x.size());
  auto loss = [&] {
    rotary_forward(y.data(), x.data(), kPositions.data(), table, N, H, D);
    return weighted_sum(y, w);
  };
  std::vector<double> dx(x.size(), 0.0);
  rotary_backward(dx.data(), w.data(), kPositions.data(), table, N, H, D);
  expect_gradient(x, dx, loss, "rotary dx");
}

}  // namespace
}  // namespace kiln::cpu
