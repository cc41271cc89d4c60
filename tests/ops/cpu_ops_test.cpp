// CpuOps is a thin forwarding layer: these tests check that a few of its methods give bit for bit
// what the kernels they wrap give, and that its backend state (rotary table, ALiBi slopes) is the
// kernels'. The math itself is covered by tests/kernels/cpu and, through the decoder, tests/model.
#include "ops/cpu_ops.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "cpu/alibi.h"
#include "cpu/attention.h"
#include "cpu/layernorm.h"
#include "cpu/rotary.h"
#include "support/grad_check.h"

namespace kiln {
namespace {

using kiln::testing::random_vector;

template <class Real>
std::vector<Real> random_real(size_t n, uint32_t seed) {
  const std::vector<double> d = random_vector(n, seed);
  return std::vector<Real>(d.begin(), d.end());
}

template <class Real>
class CpuOpsTest : public ::testing::Test {};
using Reals = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CpuOpsTest, Reals);

TYPED_TEST(CpuOpsTest, DeviceIsCpu) {
  CpuOps<TypeParam> ops;
  EXPECT_EQ(ops.device(), DeviceKind::cpu);
}

TYPED_TEST(CpuOpsTest, LayerNormMatchesKernel) {
  using Real = TypeParam;
  constexpr int N = 7, C = 13;
  const Real eps = Real(1e-5);
  const auto x = random_real<Real>(N * C, 1), w = random_real<Real>(C, 2), b = random_real<Real>(C, 3);
  const auto dout = random_real<Real>(N * C, 4);

  // Gradients start non-zero so that accumulation is compared too.
  struct Run {
    std::vector<Real> out = std::vector<Real>(N * C), mean = std::vector<Real>(N), rstd = std::vector<Real>(N);
    std::vector<Real> dx = random_real<Real>(N * C, 5), dw = random_real<Real>(C, 6), db = random_real<Real>(C, 7);
  } k, o;
  cpu::layernorm_forward(k.out.data(), k.mean.data(), k.rstd.data(), x.data(), w.data(), b.data(), N, C, eps);
  cpu::layernorm_backward(k.dx.data(), k.dw.data(), k.db.data(), dout.data(), x.data(), w.data(), k.mean.data(),
                          k.rstd.data(), N, C);
  CpuOps<Real> ops;
  ops.layernorm_forward(o.out.data(), o.mean.data(), o.rstd.data(), x.data(), w.data(), b.data(), N, C, eps);
  ops.layernorm_backward(o.dx.data(), o.dw.data(), o.db.data(), dout.data(), x.data(), w.data(), o.mean.data(),
                         o.rstd.data(), N, C);
  EXPECT_EQ(o.out, k.out);
  EXPECT_EQ(o.mean, k.mean);
  EXPECT_EQ(o.rstd, k.rstd);
  EXPECT_EQ(o.dx, k.dx);
  EXPECT_EQ(o.dw, k.dw);
  EXPECT_EQ(o.db, k.db);
}

TYPED_TEST(CpuOpsTest, AttentionWithAlibiAndDocumentsMatchesKernel) {
  using Real = TypeParam;
  constexpr int B = 2, T = 5, H = 3, D = 4;
  constexpr size_t n = static_cast<size_t>(B) * T * H * D, np = static_cast<size_t>(B) * H * T * T;
  const std::vector<int32_t> docs = {0, 0, 1, 1, 1, 7, 8, 8, 8, 9};
  const auto q = random_real<Real>(n, 11), kk = random_real<Real>(n, 12), v = random_real<Real>(n, 13);
  const auto dout = random_real<Real>(n, 14);

  CpuOps<Real> ops;
  const Real* slopes = ops.prepare_alibi(H, 0, H);
  std::vector<Real> kernel_slopes(H);
  cpu::alibi_slopes(kernel_slopes.data(), H, 0, H);
  ASSERT_EQ(std::vector<Real>(slopes, slopes + H), kernel_slopes);

  const Real scale = static_cast<Real>(attention_scale(D, false));
  const AttentionArgs<Real> args{B, T, H, D, scale, slopes, docs.data()};
  const cpu::AttentionArgs<Real> kargs{B, T, H, D, scale, kernel_slopes.data(), docs.data()};

  struct Run {
    std::vector<Real> out = std::vector<Real>(n), probs = std::vector<Real>(np);
    std::vector<Real> dq = random_real<Real>(n, 15), dk = random_real<Real>(n, 16), dv = random_real<Real>(n, 17);
  } k, o;
  cpu::attention_forward(k.out.data(), k.probs.data(), q.data(), kk.data(), v.data(), kargs);
  cpu::attention_backward(k.dq.data(), k.dk.data(), k.dv.data(), dout.data(), q.data(), kk.data(), v.data(),
                          k.out.data(), k.probs.data(), kargs);
  ops.attention_forward(o.out.data(), o.probs.data(), q.data(), kk.data(), v.data(), args);
  ops.attention_backward(o.dq.data(), o.dk.data(), o.dv.data(), dout.data(), q.data(), kk.data(), v.data(),
                         o.out.data(), o.probs.data(), args);
  EXPECT_EQ(o.out, k.out);
  EXPECT_EQ(o.probs, k.probs);
  EXPECT_EQ(o.dq, k.dq);
  EXPECT_EQ(o.dk, k.dk);
  EXPECT_EQ(o.dv, k.dv);
}

TYPED_TEST(CpuOpsTest, RotaryUsesThePreparedTable) {
  using Real = TypeParam;
  constexpr int N = 6, H = 2, D = 8, R = 4, P = 16;
  const std::vector<int32_t> pos = {0, 3, 1, 15, 2, 7};
  const auto x = random_real<Real>(N * H * D, 21), dout = random_real<Real>(N * H * D, 22);

  CpuOps<Real> ops;
  std::vector<Real> out(N * H * D);
  EXPECT_THROW(ops.rotary_forward(out.data(), x.data(), pos.data(), N, H, D), std::logic_error);
  EXPECT_THROW(ops.prepare_rotary(3, P, 10000.0), std::invalid_argument);

  ops.prepare_rotary(R, P, 10000.0);
  const cpu::RotaryTable<Real> table(R, P, 10000.0);
  std::vector<Real> kout(N * H * D), dx = random_real<Real>(N * H * D, 23), kdx = dx;
  cpu::rotary_forward(kout.data(), x.data(), pos.data(), table, N, H, D);
  cpu::rotary_backward(kdx.data(), dout.data(), pos.data(), table, N, H, D);
  ops.rotary_forward(out.data(), x.data(), pos.data(), N, H, D);
  ops.rotary_backward(dx.data(), dout.data(), pos.data(), N, H, D);
  EXPECT_EQ(out, kout);
  EXPECT_EQ(dx, kdx);
}

TYPED_TEST(CpuOpsTest, BufferOps) {
  using Real = TypeParam;
  CpuOps<Real> ops;
  std::vector<Real> a(5, Real(3));
  ops.fill(a.data() + 1, Real(0), 3);
  EXPECT_EQ(a, (std::vector<Real>{3, 0, 0, 0, 3}));

  const std::vector<float> mask = {1.f, 0.f, 0.5f};
  std::vector<Real> m(3);
  ops.convert(m.data(), mask.data(), 3);
  EXPECT_EQ(m, (std::vector<Real>{1, 0, Real(0.5)}));

  std::vector<int32_t> pos(6, -1);
  ops.fill_positions(pos.data(), 2, 3);
  EXPECT_EQ(pos, (std::vector<int32_t>{0, 1, 2, 0, 1, 2}));
}

}  // namespace
}  // namespace kiln
