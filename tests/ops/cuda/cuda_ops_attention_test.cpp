// CudaOps' fused attention against the CPU reference (CpuOps<float>, which stores the full
// probability matrix) on the same bf16-rounded inputs: out, the saved log-sum-exp (against a
// double-precision oracle written here), dq, dk and dv; accumulation into pre-filled gradients;
// determinism; nothing written past the ends of the outputs.
//
// Shapes cover T that is not a multiple of the 64-row tile (1, 77, 130, 200), an exact tile (64),
// T = 1024, every head dim the models use (16 for tiny tests, 64 for Stable LM 2, 80 for
// StableLM-3B and BTLM) and the rest of the supported ones, ALiBi with 12 heads (not a power of
// two) and a tensor-parallel slice of them, per-document masks with several short documents per
// row (so whole tiles are masked and skipped) and with non-contiguous ids (only equality matters).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/cpu_ops.h"
#include "ops/cuda_ops.h"
#include "support/cuda_test.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

using test::bf16_rounded;
using test::DeviceArray;

// Elements past the end of every output, kept NaN: a write past the last row shows up.
constexpr size_t kGuard = 256;

enum class Docs {
  none,         // nullptr: one document per row
  runs,         // consecutive documents of random lengths in [1, max_doc], ids 0, 1, 2, … per row
  interleaved,  // ids ((t / 7) + b) mod 3: a document's tokens are not contiguous
};

struct Case {
  std::string name;
  int B, T, H, D;
  Docs docs = Docs::none;
  int max_doc = 0;          // Docs::runs
  int alibi_heads = 0;      // 0: no ALiBi; else the model's head count, this call holding
  int alibi_begin = 0;      //   heads [alibi_begin, alibi_begin + H) of them
  bool mup_scale = false;   // 1/D instead of 1/sqrt(D)
  uint32_t seed = 1;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return bf16_rounded(std::move(v));
}

std::vector<int32_t> make_docs(const Case& c) {
  std::vector<int32_t> ids(static_cast<size_t>(c.B) * c.T);
  std::mt19937 rng(c.seed * 7919u + 17u);
  for (int b = 0; b < c.B; ++b) {
    int32_t* row = ids.data() + static_cast<size_t>(b) * c.T;
    if (c.docs == Docs::interleaved) {
      for (int t = 0; t < c.T; ++t) row[t] = (t / 7 + b) % 3;
    } else {
      int32_t id = 0;
      for (int t = 0; t < c.T; ++id) {
        const int len = 1 + static_cast<int>(rng() % static_cast<uint32_t>(c.max_doc));
        for (int e = 0; e < len && t < c.T; ++e) row[t++] = id;
      }
    }
  }
  return ids;
}

std::vector<float> head(const std::vector<float>& v, size_t n) { return std::vector<float>(v.begin(), v.begin() + n); }

// The scale below which a reference is treated as zero: with a single token (T = 1) dq and dk
// are exactly 0 on the CPU, and the GPU's delta and dP (the same dot product, summed in another
// order) leave differences of fp32 rounding size.
constexpr double kTiny = 1e-4;

// ‖got − want‖₂ / max(‖want‖₂, kTiny·√n); +inf when got holds a NaN (an element never written) or
// the reference holds anything not finite (a broken oracle must fail, not pass).
double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) || !std::isfinite(want[i])) return INFINITY;
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), kTiny * std::sqrt(static_cast<double>(want.size())));
}

// max |got − want| / max(max |want|, kTiny); +inf for a NaN, or a reference that is not finite.
double rel_max(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) || !std::isfinite(want[i])) return INFINITY;
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return worst / std::max(scale, kTiny);
}

// Number of elements from `from` on that are not NaN (the guard must stay poisoned).
int written_past_end(const std::vector<float>& v, size_t from) {
  int n = 0;
  for (size_t i = from; i < v.size(); ++i) n += !std::isnan(v[i]);
  return n;
}

std::vector<float> plus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> s(a.size());
  for (size_t i = 0; i < a.size(); ++i) s[i] = a[i] + b[i];
  return s;
}

std::vector<float> minus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> s(a.size());
  for (size_t i = 0; i < a.size(); ++i) s[i] = a[i] - b[i];
  return s;
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s / std::max<size_t>(v.size(), 1));
}

// The log-sum-exp of every row [B, H, T], from the definition in double: the oracle for what the
// GPU forward saves.
std::vector<double> reference_lse(const Case& c, const std::vector<float>& q, const std::vector<float>& k,
                                  const float* slopes, const std::vector<int32_t>* docs, double scale) {
  const int B = c.B, T = c.T, H = c.H, D = c.D;
  std::vector<double> lse(static_cast<size_t>(B) * H * T);
  std::vector<double> s(T);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        double mx = -INFINITY;
        for (int j = 0; j <= i; ++j) {
          s[j] = -INFINITY;
          if (docs && (*docs)[static_cast<size_t>(b) * T + j] != (*docs)[static_cast<size_t>(b) * T + i]) continue;
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += static_cast<double>(q[((static_cast<size_t>(b) * T + i) * H + h) * D + d]) *
                   k[((static_cast<size_t>(b) * T + j) * H + h) * D + d];
          s[j] = scale * dot - (slopes ? static_cast<double>(slopes[h]) * (i - j) : 0.0);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= i; ++j) sum += std::exp(s[j] - mx);
        lse[(static_cast<size_t>(b) * H + h) * T + i] = mx + std::log(sum);
      }
  return lse;
}

class CudaAttention : public ::testing::TestWithParam<Case> {};

TEST_P(CudaAttention, MatchesCpuReference) {
  KILN_SKIP_WITHOUT_GPU();
  const Case& c = GetParam();
  const int B = c.B, T = c.T, H = c.H, D = c.D;
  const size_t n = static_cast<size_t>(B) * T * H * D, rows = static_cast<size_t>(B) * H * T;
  const float scale = static_cast<float>(attention_scale(D, c.mup_scale));

  // Scores of a few units (|q|, |k| ≤ 2): the softmax is neither flat nor one-hot.
  const std::vector<float> q = uniform(n, c.seed, -2.0f, 2.0f), k = uniform(n, c.seed + 1, -2.0f, 2.0f);
  const std::vector<float> v = uniform(n, c.seed + 2, -1.0f, 1.0f), dout = uniform(n, c.seed + 3, -1.0f, 1.0f);
  const std::vector<int32_t> docs = c.docs == Docs::none ? std::vector<int32_t>() : make_docs(c);

  // ---- the CPU reference ----
  CpuOps<float> cpu;
  const float* cpu_slopes = c.alibi_heads ? cpu.prepare_alibi(c.alibi_heads, c.alibi_begin, H) : nullptr;
  const AttentionArgs<float> cpu_args{B, T, H, D, scale, cpu_slopes, docs.empty() ? nullptr : docs.data()};
  std::vector<float> out_ref(n), probs(static_cast<size_t>(cpu.attention_saved_elements(B, H, T)));
  cpu.attention_forward(out_ref.data(), probs.data(), q.data(), k.data(), v.data(), cpu_args);
  std::vector<float> dq_ref(n, 0.0f), dk_ref(n, 0.0f), dv_ref(n, 0.0f);
  cpu.attention_backward(dq_ref.data(), dk_ref.data(), dv_ref.data(), dout.data(), q.data(), k.data(), v.data(),
                         out_ref.data(), probs.data(), cpu_args);
  const std::vector<double> lse_ref =
      reference_lse(c, q, k, cpu_slopes, docs.empty() ? nullptr : &docs, static_cast<double>(scale));

  // ---- the GPU ----
  CudaOps gpu;
  ASSERT_EQ(gpu.attention_saved_elements(B, H, T), static_cast<int64_t>(rows));
  const float* gpu_slopes = c.alibi_heads ? gpu.prepare_alibi(c.alibi_heads, c.alibi_begin, H) : nullptr;
  DeviceArray<int32_t> docs_d(docs.empty() ? std::vector<int32_t>{0} : docs);
  const AttentionArgs<bf16> args{B, T, H, D, scale, gpu_slopes, docs.empty() ? nullptr : docs_d.get()};
  DeviceArray<bf16> q_d(q), k_d(k), v_d(v), dout_d(dout);
  DeviceArray<bf16> out_d(n + kGuard);     // poisoned: NaN everywhere until written
  DeviceArray<float> lse_d(rows + kGuard);  // likewise
  // The uploads went through cudaMemcpy on the legacy stream, which CudaOps' non-blocking stream
  // does not wait for.
  test::cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  gpu.attention_forward(out_d.get(), lse_d.get(), q_d.get(), k_d.get(), v_d.get(), args);
  const std::vector<float> out_all = out_d.to_floats(), lse_all = lse_d.to_floats();
  const std::vector<float> out = head(out_all, n);
  EXPECT_EQ(written_past_end(out_all, n), 0) << "out written past its end";
  EXPECT_EQ(written_past_end(lse_all, rows), 0) << "lse written past its end";

  // out = Σ_j p̃_j v_j / Σ_j p̃_j with each weight p̃_j rounded to bf16 (relative error ≤ 2^-9), so
  // |out − ref| ≤ 2^-9 · max|v_j − ref| ≤ 2^-8 · max|v| (|v| ≤ 1), plus the final rounding of out
  // (≤ 2^-9 |ref|). Typical errors are far smaller, which the L2 bound (a few times the rms
  // rounding error of bf16, 2^-9/√3 ≈ 1.1e-3) checks.
  {
    double worst = 0;
    size_t at = 0;
    for (size_t e = 0; e < n; ++e) {
      const double bound = 1.1 * std::ldexp(1.0, -8) + std::ldexp(1.0, -8) * std::abs(out_ref[e]);
      const double err = std::isnan(out[e]) || !std::isfinite(out_ref[e]) ? INFINITY : std::abs(out[e] - out_ref[e]) / bound;
      if (err > worst) worst = err, at = e;
    }
    EXPECT_LE(worst, 1.0) << "out[" << at << "] = " << out[at] << ", reference " << out_ref[at];
    EXPECT_LE(rel_l2(out, out_ref), 5e-3);
  }
  // lse = m + log Σ p̃: the bf16 weights make the sum's relative error ≤ 2^-9 (≈ 2^-9 in the log);
  // the rest is fp32 rounding of scores of at most a few hundred.
  {
    double worst = 0;
    size_t at = 0;
    for (size_t e = 0; e < rows; ++e) {
      const double err = std::isnan(lse_all[e]) || !std::isfinite(lse_ref[e]) ? INFINITY
                                                 : std::abs(lse_all[e] - lse_ref[e]) /
                                                       (std::ldexp(1.0, -8) + 1e-5 * std::abs(lse_ref[e]));
      if (err > worst) worst = err, at = e;
    }
    EXPECT_LE(worst, 1.0) << "lse[" << at << "] = " << lse_all[at] << ", reference " << lse_ref[at];
  }

  // Backward into zeroed gradients. Errors: P and dS are rounded to bf16 before their tensor-core
  // products (2^-9 each, random in sign, so they average over the sums), the saved lse carries
  // the forward's 2^-9, delta uses the bf16 out, and each result is rounded once: a relative L2
  // error of a few 1e-3; 1e-2 leaves margin and still catches any wrong mask, tile or factor
  // (those give errors of order 1). The max error is relative to the largest gradient, since
  // gradients near 0 come from cancelling sums.
  std::vector<float> guarded_zeros(n, 0.0f);
  guarded_zeros.resize(n + kGuard, NAN);
  auto backward = [&](const std::vector<float>& init_q, const std::vector<float>& init_k,
                      const std::vector<float>& init_v, std::vector<float>& dq, std::vector<float>& dk,
                      std::vector<float>& dv) {
    DeviceArray<bf16> dq_d(init_q), dk_d(init_k), dv_d(init_v);
    test::cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");  // as after the uploads above
    gpu.attention_backward(dq_d.get(), dk_d.get(), dv_d.get(), dout_d.get(), q_d.get(), k_d.get(), v_d.get(),
                           out_d.get(), lse_d.get(), args);
    dq = dq_d.to_floats();
    dk = dk_d.to_floats();
    dv = dv_d.to_floats();
    EXPECT_EQ(written_past_end(dq, n), 0) << "dq written past its end";
    EXPECT_EQ(written_past_end(dk, n), 0) << "dk written past its end";
    EXPECT_EQ(written_past_end(dv, n), 0) << "dv written past its end";
  };
  std::vector<float> dq, dk, dv;
  backward(guarded_zeros, guarded_zeros, guarded_zeros, dq, dk, dv);
  EXPECT_LE(rel_l2(head(dq, n), dq_ref), 1e-2);
  EXPECT_LE(rel_l2(head(dk, n), dk_ref), 1e-2);
  EXPECT_LE(rel_l2(head(dv, n), dv_ref), 1e-2);
  EXPECT_LE(rel_max(head(dq, n), dq_ref), 3e-2);
  EXPECT_LE(rel_max(head(dk, n), dk_ref), 3e-2);
  EXPECT_LE(rel_max(head(dv, n), dv_ref), 3e-2);

  // Deterministic: the same call gives the same bits (the comparison of floats widened from bf16
  // is exact).
  {
    std::vector<float> dq2, dk2, dv2;
    backward(guarded_zeros, guarded_zeros, guarded_zeros, dq2, dk2, dv2);
    EXPECT_EQ(head(dq2, n), head(dq, n));
    EXPECT_EQ(head(dk2, n), head(dk, n));
    EXPECT_EQ(head(dv2, n), head(dv, n));
    DeviceArray<bf16> out2_d(n);
    DeviceArray<float> lse2_d(rows);
    gpu.attention_forward(out2_d.get(), lse2_d.get(), q_d.get(), k_d.get(), v_d.get(), args);
    EXPECT_EQ(out2_d.to_floats(), out);
    EXPECT_EQ(lse2_d.to_floats(), head(lse_all, rows));
  }

  // Accumulation: gradients that already hold values of their own size (random, rms about that of
  // the gradient) get the new gradient added, then rounded once to bf16.
  {
    auto prefill = [&](const std::vector<float>& grad, uint32_t seed) {
      std::vector<float> init = uniform(n, seed, -1.0f, 1.0f);
      const double size = std::max(rms(grad), kTiny);
      for (float& x : init) x = static_cast<float>(x * size);
      return bf16_rounded(std::move(init));
    };
    const std::vector<float> iq = prefill(dq_ref, c.seed + 4), ik = prefill(dk_ref, c.seed + 5),
                             iv = prefill(dv_ref, c.seed + 6);
    auto guarded = [&](std::vector<float> x) {
      x.resize(n + kGuard, NAN);
      return x;
    };
    std::vector<float> aq, ak, av;
    backward(guarded(iq), guarded(ik), guarded(iv), aq, ak, av);
    // The sums, and what was added to the initial values: the gradient, within the tolerance
    // above plus the rounding of the sum (2^-9 of values of about the gradient's size).
    EXPECT_LE(rel_l2(head(aq, n), plus(iq, dq_ref)), 1e-2);
    EXPECT_LE(rel_l2(head(ak, n), plus(ik, dk_ref)), 1e-2);
    EXPECT_LE(rel_l2(head(av, n), plus(iv, dv_ref)), 1e-2);
    EXPECT_LE(rel_l2(minus(head(aq, n), iq), dq_ref), 2e-2);
    EXPECT_LE(rel_l2(minus(head(ak, n), ik), dk_ref), 2e-2);
    EXPECT_LE(rel_l2(minus(head(av, n), iv), dv_ref), 2e-2);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaAttention,
    ::testing::Values(
        // Causal only, T not a multiple of the tile, tiny-test head dim.
        Case{"causal_T77_D16", 2, 77, 3, 16, Docs::none, 0, 0, 0, false, 11},
        // One query and one key.
        Case{"single_token_D32", 1, 1, 2, 32, Docs::none, 0, 0, 0, false, 12},
        // Exactly one tile, µP's 1/D scale.
        Case{"one_tile_T64_D96_mup", 2, 64, 2, 96, Docs::none, 0, 0, 0, true, 13},
        // Several short documents per row: tiles of other documents are skipped.
        Case{"docs_T200_D64", 2, 200, 2, 64, Docs::runs, 40, 0, 0, false, 14},
        // BTLM-like: ALiBi over 12 heads (not a power of two) with documents, D = 80.
        Case{"alibi12_docs_T200_D80", 2, 200, 12, 80, Docs::runs, 60, 12, 0, false, 15},
        // ALiBi over 12 heads, non-contiguous document ids, D = 16.
        Case{"alibi12_interleaved_T77_D16", 2, 77, 12, 16, Docs::interleaved, 0, 12, 0, false, 16},
        // A tensor-parallel rank's slice of ALiBi heads (the 4 extra slopes of 12), D = 128.
        Case{"alibi12_slice_T130_D128", 2, 130, 4, 128, Docs::none, 0, 12, 8, false, 17},
        // Stable LM 2's head dim at a realistic length, causal only and with documents.
        Case{"causal_T1024_D64", 2, 1024, 2, 64, Docs::none, 0, 0, 0, false, 18},
        Case{"docs_T1024_D64", 2, 1024, 2, 64, Docs::runs, 300, 0, 0, false, 19},
        // StableLM-3B's head dim, D = 80, causal, odd length.
        Case{"causal_T333_D80", 2, 333, 2, 80, Docs::none, 0, 0, 0, false, 20},
        Case{"causal_T100_D32", 2, 100, 3, 32, Docs::none, 0, 0, 0, false, 21}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(CudaAttentionArgs, UnsupportedHeadDimThrows) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps gpu;
  constexpr int B = 1, T = 8, H = 1;
  for (const int D : {8, 48, 256}) {
    DeviceArray<bf16> x(static_cast<size_t>(B) * T * H * D), dx(static_cast<size_t>(B) * T * H * D);
    DeviceArray<float> lse(static_cast<size_t>(B) * H * T);
    const AttentionArgs<bf16> args{B, T, H, D, 1.0f, nullptr, nullptr};
    EXPECT_THROW(gpu.attention_forward(x.get(), lse.get(), x.get(), x.get(), x.get(), args), std::invalid_argument)
        << "D = " << D;
    EXPECT_THROW(gpu.attention_backward(dx.get(), dx.get(), dx.get(), x.get(), x.get(), x.get(), x.get(), x.get(),
                                        lse.get(), args),
                 std::invalid_argument)
        << "D = " << D;
  }
}

}  // namespace
}  // namespace kiln
