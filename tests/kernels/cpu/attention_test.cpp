#include "cpu/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "cpu/alibi.h"
#include "ops/ops.h"  // attention_scale: the model's choice of 1/sqrt(D) or 1/D
#include "support/grad_check.h"

namespace kiln::cpu {
namespace {

using kiln::testing::expect_gradient;
using kiln::testing::random_vector;
using kiln::testing::weighted_sum;

// Small, odd sizes so that no loop bound hides behind a power of two.
constexpr int B = 2, T = 5, H = 3, D = 4;
constexpr size_t kActs = static_cast<size_t>(B) * T * H * D;
constexpr size_t kProbs = static_cast<size_t>(B) * H * T * T;

// Two packed rows with reset_attention_mask: documents {0,1} {2,3,4} and {0} {1,2,3} {4}.
const std::vector<int32_t> kDocs = {0, 0, 1, 1, 1, 7, 8, 8, 8, 9};

struct Variant {
  std::string name;
  bool alibi;
  bool mup_scale;  // 1/D instead of 1/sqrt(D)
  bool docs;
};

// Names the variant in failure messages instead of dumping its bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

// The options of one variant, with the slopes it points at kept alive beside them.
template <typename Real>
struct Options {
  explicit Options(const Variant& v) : slopes(H) {
    alibi_slopes(slopes.data(), H, 0, H);
    args = AttentionArgs<Real>{B,
                               T,
                               H,
                               D,
                               static_cast<Real>(kiln::attention_scale(D, v.mup_scale)),
                               v.alibi ? slopes.data() : nullptr,
                               v.docs ? kDocs.data() : nullptr};
  }
  std::vector<Real> slopes;
  AttentionArgs<Real> args;
};

size_t at(int b, int t, int h, int d) { return ((static_cast<size_t>(b) * T + t) * H + h) * D + d; }

// Softmax attention written from the definition in double: full T×T score matrix, −∞ where
// masked, softmax with std::exp. Fills probs [B, H, T, T] too.
std::vector<double> reference_attention(const std::vector<double>& q, const std::vector<double>& k,
                                        const std::vector<double>& v, const Variant& variant,
                                        std::vector<double>* probs_out = nullptr) {
  const double scale = variant.mup_scale ? 1.0 / D : 1.0 / std::sqrt(double(D));
  std::vector<double> out(kActs, 0.0), probs(kProbs, 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const double slope = variant.alibi ? alibi_slope(h, H) : 0.0;
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(T, -std::numeric_limits<double>::infinity());
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < T; ++j) {
          const bool same_doc = !variant.docs || kDocs[b * T + j] == kDocs[b * T + i];
          if (j > i || !same_doc) continue;
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += q[at(b, i, h, d)] * k[at(b, j, h, d)];
          s[j] = scale * dot - slope * (i - j);
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int j = 0; j < T; ++j) z += std::exp(s[j] - mx);
        for (int j = 0; j < T; ++j) {
          const double p = std::exp(s[j] - mx) / z;
          probs[((static_cast<size_t>(b) * H + h) * T + i) * T + j] = p;
          for (int d = 0; d < D; ++d) out[at(b, i, h, d)] += p * v[at(b, j, h, d)];
        }
      }
    }
  if (probs_out) *probs_out = probs;
  return out;
}

class AttentionVariant : public ::testing::TestWithParam<Variant> {};

TEST_P(AttentionVariant, ForwardMatchesNaiveDoubleAttention) {
  const Variant& variant = GetParam();
  Options<double> opts(variant);
  const auto q = random_vector(kActs, 1, -2, 2), k = random_vector(kActs, 2, -2, 2),
             v = random_vector(kActs, 3);
  std::vector<double> out(kActs), probs(kProbs, -1.0), ref_probs;
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  const auto ref = reference_attention(q, k, v, variant, &ref_probs);
  for (size_t i = 0; i < kActs; ++i) EXPECT_NEAR(out[i], ref[i], 1e-13) << i;
  for (size_t i = 0; i < kProbs; ++i) EXPECT_NEAR(probs[i], ref_probs[i], 1e-14) << i;
}

TEST_P(AttentionVariant, FloatForwardMatchesDoubleReference) {
  const Variant& variant = GetParam();
  Options<float> opts(variant);
  const auto qd = random_vector(kActs, 4, -2, 2), kd = random_vector(kActs, 5, -2, 2),
             vd = random_vector(kActs, 6);
  const std::vector<float> q(qd.begin(), qd.end()), k(kd.begin(), kd.end()),
      v(vd.begin(), vd.end());
  std::vector<float> out(kActs), probs(kProbs);
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  const auto ref = reference_attention(std::vector<double>(q.begin(), q.end()),
                                       std::vector<double>(k.begin(), k.end()),
                                       std::vector<double>(v.begin(), v.end()), variant);
  for (size_t i = 0; i < kActs; ++i) EXPECT_NEAR(out[i], ref[i], 1e-5) << i;
}

TEST_P(AttentionVariant, FutureTokensDoNotChangeEarlierOutputs) {
  Options<double> opts(GetParam());
  auto q = random_vector(kActs, 7), k = random_vector(kActs, 8), v = random_vector(kActs, 9);
  std::vector<double> before(kActs), after(kActs), probs(kProbs);
  attention_forward(before.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  // Change q, k and v of token 3 in every row and head: tokens 0..2 must not notice.
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) {
        q[at(b, 3, h, d)] += 1.5;
        k[at(b, 3, h, d)] -= 0.7;
        v[at(b, 3, h, d)] *= 3.0;
      }
  attention_forward(after.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  int changed_at_3 = 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d) {
          if (t < 3) {
            EXPECT_EQ(after[at(b, t, h, d)], before[at(b, t, h, d)]);
          } else if (t == 3) {
            changed_at_3 += after[at(b, t, h, d)] != before[at(b, t, h, d)];
          }
        }
  EXPECT_GT(changed_at_3, 0);
}

TEST_P(AttentionVariant, BackwardMatchesFiniteDifferences) {
  Options<double> opts(GetParam());
  auto q = random_vector(kActs, 10, -2, 2), k = random_vector(kActs, 11, -2, 2),
       v = random_vector(kActs, 12);
  const auto w = random_vector(kActs, 13);
  std::vector<double> out(kActs), probs(kProbs);
  auto loss = [&] {
    attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
    return weighted_sum(out, w);
  };
  loss();
  std::vector<double> dq(kActs, 0.0), dk(kActs, 0.0), dv(kActs, 0.0);
  attention_backward(dq.data(), dk.data(), dv.data(), w.data(), q.data(), k.data(), v.data(),
                     out.data(), probs.data(), opts.args);
  const std::string name = GetParam().name;
  expect_gradient(q, dq, loss, name + " dq");
  expect_gradient(k, dk, loss, name + " dk");
  expect_gradient(v, dv, loss, name + " dv");
}

TEST_P(AttentionVariant, BackwardAccumulates) {
  Options<double> opts(GetParam());
  const auto q = random_vector(kActs, 14), k = random_vector(kActs, 15),
             v = random_vector(kActs, 16), dout = random_vector(kActs, 17);
  std::vector<double> out(kActs), probs(kProbs);
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  std::vector<double> dq0(kActs, 0.0), dk0(kActs, 0.0), dv0(kActs, 0.0);
  attention_backward(dq0.data(), dk0.data(), dv0.data(), dout.data(), q.data(), k.data(),
                     v.data(), out.data(), probs.data(), opts.args);
  const auto prior = random_vector(kActs, 18);
  std::vector<double> dq = prior, dk = prior, dv = prior;
  attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                     out.data(), probs.data(), opts.args);
  for (size_t i = 0; i < kActs; ++i) {
    EXPECT_NEAR(dq[i], prior[i] + dq0[i], 1e-14);
    EXPECT_NEAR(dk[i], prior[i] + dk0[i], 1e-14);
    EXPECT_NEAR(dv[i], prior[i] + dv0[i], 1e-14);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, AttentionVariant,
    ::testing::Values(Variant{"plain", false, false, false}, Variant{"alibi", true, false, false},
                      Variant{"mup_scale", false, true, false},
                      Variant{"doc_mask", false, false, true},
                      Variant{"btlm_alibi_mup_docs", true, true, true}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

TEST(Attention, OtherDocumentsDoNotChangeOutputs) {
  Options<double> opts(Variant{"doc_mask", false, false, true});
  auto q = random_vector(kActs, 20), k = random_vector(kActs, 21), v = random_vector(kActs, 22);
  std::vector<double> before(kActs), after(kActs), probs(kProbs);
  attention_forward(before.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  // Row 0's first document is tokens 0 and 1: the second document (tokens 2..4) must not notice.
  for (int t = 0; t < 2; ++t)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) {
        q[at(0, t, h, d)] += 0.9;
        k[at(0, t, h, d)] -= 1.1;
        v[at(0, t, h, d)] += 2.0;
      }
  attention_forward(after.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  for (int t = 2; t < T; ++t)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) EXPECT_EQ(after[at(0, t, h, d)], before[at(0, t, h, d)]);
  // Row 1 is untouched.
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) EXPECT_EQ(after[at(1, t, h, d)], before[at(1, t, h, d)]);
}

TEST(Attention, FirstTokenOfADocumentAttendsOnlyToItself) {
  Options<double> opts(Variant{"doc_mask", true, false, true});
  const auto q = random_vector(kActs, 23), k = random_vector(kActs, 24),
             v = random_vector(kActs, 25);
  std::vector<double> out(kActs), probs(kProbs);
  attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), opts.args);
  // Row 1 starts documents at tokens 0, 1 and 4; row 0 at tokens 0 and 2.
  for (auto [b, t] : {std::pair{0, 0}, std::pair{0, 2}, std::pair{1, 0}, std::pair{1, 1},
                      std::pair{1, 4}})
    for (int h = 0; h < H; ++h) {
      const double* p = probs.data() + ((static_cast<size_t>(b) * H + h) * T + t) * T;
      for (int j = 0; j < T; ++j) EXPECT_EQ(p[j], j == t ? 1.0 : 0.0);
      for (int d = 0; d < D; ++d) EXPECT_EQ(out[at(b, t, h, d)], v[at(b, t, h, d)]);
    }
}

TEST(Attention, PackedDocumentEqualsTheDocumentAlone) {
  // Row 0's second document (tokens 2..4) gives the same outputs as a 3-token sequence holding
  // just that document, with and without ALiBi (its bias depends only on i − j).
  for (bool alibi : {false, true}) {
    Options<double> packed(Variant{"doc_mask", alibi, false, true});
    const auto q = random_vector(kActs, 26), k = random_vector(kActs, 27),
               v = random_vector(kActs, 28);
    std::vector<double> out(kActs), probs(kProbs);
    attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), packed.args);

    constexpr int T3 = 3;
    std::vector<double> q3, k3, v3;
    for (int t = 2; t < T; ++t)
      for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d) {
          q3.push_back(q[at(0, t, h, d)]);
          k3.push_back(k[at(0, t, h, d)]);
          v3.push_back(v[at(0, t, h, d)]);
        }
    AttentionArgs<double> alone = packed.args;
    alone.B = 1;
    alone.T = T3;
    alone.doc_ids = nullptr;
    std::vector<double> out3(q3.size()), probs3(static_cast<size_t>(H) * T3 * T3);
    attention_forward(out3.data(), probs3.data(), q3.data(), k3.data(), v3.data(), alone);
    for (int t = 0; t < T3; ++t)
      for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d)
          EXPECT_NEAR(out3[(static_cast<size_t>(t) * H + h) * D + d], out[at(0, t + 2, h, d)],
                      1e-15);
  }
}

TEST(Attention, ScaleHelper) {
  EXPECT_DOUBLE_EQ(attention_scale(64, false), 0.125);
  EXPECT_DOUBLE_EQ(attention_scale(64, true), 1.0 / 64);
  EXPECT_DOUBLE_EQ(attention_scale(80, false), 1.0 / std::sqrt(80.0));
}

}  // namespace
}  // namespace kiln::cpu
