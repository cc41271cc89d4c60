#include "model/decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/init.h"
#include "model/model_test_util.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using testing::small_model;
using testing::TestBatch;

std::vector<double> random_params(const Decoder<double>& d, uint32_t seed) {
  return kiln::testing::random_vector(static_cast<size_t>(d.registry().total_numel()), seed, -0.5, 0.5);
}

TEST(Decoder, FloatAndDoubleAgree) {
  const ModelConfig m = small_model({{"model.qkv_bias", "true"}, {"model.init.std", "0.2"}});
  Decoder<float> f(m, 2, 5);
  Decoder<double> d(m, 2, 5);
  std::vector<float> pf(static_cast<size_t>(f.registry().total_numel()));
  init_parameters(pf.data(), f.registry(), m, 3);
  const std::vector<double> pd(pf.begin(), pf.end());  // the very same values
  const TestBatch batch(2, 5, 13, 5, true);

  const double lf = f.forward(pf.data(), batch.view(), 1.0f);
  const double ld = d.forward(pd.data(), batch.view(), 1.0);
  EXPECT_NEAR(lf, ld, 1e-5 * std::fabs(ld));
  for (int n = 0; n < 10; ++n) EXPECT_NEAR(f.token_losses()[n], d.token_losses()[n], 1e-5) << n;

  std::vector<float> gf(pf.size(), 0.0f);
  std::vector<double> gd(pd.size(), 0.0);
  f.backward(pf.data(), gf.data());
  d.backward(pd.data(), gd.data());
  double max_g = 0;
  for (double g : gd) max_g = std::max(max_g, std::fabs(g));
  for (size_t i = 0; i < gd.size(); ++i) ASSERT_NEAR(gf[i], gd[i], 1e-4 * max_g) << i;
}

TEST(Decoder, LossIsAboutLogVocabAtInitialisation) {
  const ModelConfig m = small_model();
  Decoder<double> d(m, 2, 5);
  std::vector<double> p(static_cast<size_t>(d.registry().total_numel()));
  init_parameters(p.data(), d.registry(), m, 1);
  const TestBatch batch(2, 5, 13, 5, false);
  int counted = 0;
  for (int n = 0; n < 10; ++n) counted += batch.storage.loss_mask[static_cast<size_t>(n)] != 0;
  // Small weights give near-uniform logits over the 16 padded entries.
  EXPECT_NEAR(d.evaluate(p.data(), batch.view()) / counted, std::log(16.0), 0.05);
  for (int n = 0; n < 10; ++n) {
    if (batch.storage.loss_mask[static_cast<size_t>(n)] == 0) {
      EXPECT_EQ(d.token_losses()[n], 0.0);
    }
  }
}

// Changing token t of a row changes no loss before t (causality) in any configuration that
// mixes positions: rotary, ALiBi, parallel residual.
TEST(Decoder, IsCausal) {
  for (const auto& o : std::vector<std::vector<Override>>{
           {{"model.positions", "rotary"}}, {{"model.positions", "alibi"}}, {{"model.parallel_residual", "true"}}}) {
    const ModelConfig m = small_model(o);
    Decoder<double> d(m, 2, 5);
    const auto p = random_params(d, 8);
    TestBatch batch(2, 5, 13, 5, false);
    std::fill(batch.storage.loss_mask.begin(), batch.storage.loss_mask.end(), 1.0f);
    d.evaluate(p.data(), batch.view());
    const std::vector<double> before(d.token_losses(), d.token_losses() + 10);
    batch.storage.tokens[3] = (batch.storage.tokens[3] + 1) % 13;  // row 0, position 3
    d.evaluate(p.data(), batch.view());
    for (int t = 0; t < 3; ++t) EXPECT_EQ(d.token_losses()[t], before[static_cast<size_t>(t)]) << t;
    EXPECT_NE(d.token_losses()[3], before[3]);
    for (int t = 5; t < 10; ++t) EXPECT_EQ(d.token_losses()[t], before[static_cast<size_t>(t)]) << "row 1, " << t;
  }
}

// A document never sees another: with per-document masks and position resets, the second document
// of a packed row scores exactly as it would alone at the start of a row.
TEST(Decoder, DocumentsAreIsolated) {
  const ModelConfig m = small_model({{"model.qkv_bias", "true"}});
  Decoder<double> d(m, 2, 5);
  const auto p = random_params(d, 9);
  const TestBatch packed(2, 5, 13, 5, true);  // row 1: documents [0, 2) and [2, 5)
  d.evaluate(p.data(), packed.view());
  const std::vector<double> losses(d.token_losses(), d.token_losses() + 10);

  TestBatch alone(1, 3, 13, 1, false);
  for (size_t t = 0; t < 3; ++t) {
    alone.storage.tokens[t] = packed.storage.tokens[7 + t];
    alone.storage.targets[t] = packed.storage.targets[7 + t];
    alone.storage.loss_mask[t] = 1.0f;
  }
  d.evaluate(p.data(), alone.view());
  for (int t = 0; t < 3; ++t) {
    if (packed.storage.loss_mask[static_cast<size_t>(7 + t)] == 0) continue;
    EXPECT_NEAR(d.token_losses()[t], losses[static_cast<size_t>(7 + t)], 1e-12) << t;
  }
}

TEST(Decoder, SmallerBatchesUseThePlannedArena) {
  const ModelConfig m = small_model();
  Decoder<double> d(m, 2, 5);
  const auto p = random_params(d, 10);
  const TestBatch two(2, 5, 13, 5, false);
  d.evaluate(p.data(), two.view());
  const std::vector<double> full(d.token_losses(), d.token_losses() + 5);
  const TestBatch one(1, 5, 13, 5, false);  // the same first row
  d.evaluate(p.data(), one.view());
  for (int t = 0; t < 5; ++t) EXPECT_NEAR(d.token_losses()[t], full[static_cast<size_t>(t)], 1e-12);

  const TestBatch too_big(3, 5, 13, 5, false);
  EXPECT_THROW(d.evaluate(p.data(), too_big.view()), std::invalid_argument);
  EXPECT_THROW(Decoder<double>(m, 0, 5), std::invalid_argument);
}

TEST(Decoder, BackwardAccumulatesAndScalesWithDlossScale) {
  const ModelConfig m = small_model({{"model.tied_embeddings", "true"}});
  Decoder<double> d(m, 2, 5);
  const auto p = random_params(d, 11);
  const TestBatch batch(2, 5, 13, 5, true);
  const size_t n = p.size();

  std::vector<double> once(n, 0.0), twice(n, 0.0), scaled(n, 0.0);
  const double loss = d.forward(p.data(), batch.view(), 1.0);
  d.backward(p.data(), once.data());
  EXPECT_EQ(d.forward(p.data(), batch.view(), 1.0), loss);
  d.backward(p.data(), twice.data());
  d.forward(p.data(), batch.view(), 1.0);
  d.backward(p.data(), twice.data());
  d.forward(p.data(), batch.view(), 0.25);
  d.backward(p.data(), scaled.data());
  double max_g = 0;
  for (size_t i = 0; i < n; ++i) {
    max_g = std::max(max_g, std::fabs(once[i]));
    ASSERT_NEAR(twice[i], 2 * once[i], 1e-12) << i;
    ASSERT_NEAR(scaled[i], 0.25 * once[i], 1e-12) << i;
  }
  EXPECT_GT(max_g, 1e-3);
  EXPECT_EQ(d.evaluate(p.data(), batch.view()), loss);
}

TEST(Decoder, BackwardNeedsAForward) {
  const ModelConfig m = small_model();
  Decoder<double> d(m, 2, 5);
  const auto p = random_params(d, 12);
  std::vector<double> g(p.size(), 0.0);
  EXPECT_THROW(d.backward(p.data(), g.data()), std::logic_error);
  const TestBatch batch(2, 5, 13, 5, false);
  d.forward(p.data(), batch.view(), 1.0);
  d.evaluate(p.data(), batch.view());
  EXPECT_THROW(d.backward(p.data(), g.data()), std::logic_error);
}

}  // namespace
}  // namespace kiln
