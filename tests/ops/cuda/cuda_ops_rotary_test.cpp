// CudaOps' rotary position embedding against CpuOps<float> with the same tables (prepare_rotary on
// both): the models' partial rotations (D = 64, R = 16 and D = 80, R = 20), positions that restart
// at every document of a packed row, in-place forward, accumulating backward, and the checks
// that guard the table.
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

// Each output is two products and a sum in fp32, rounded to bf16 once: within 2^-8 relative of the
// CPU's fp32 value (fused multiply-adds differ from it by ~1e-7). 5e-3 has room for that and none
// for a wrong angle, a swapped half or a lost +=.
constexpr double kOneRounding = 5e-3;
constexpr int kMaxPositions = 4096;
constexpr double kTheta = 10000.0;

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// Two packed rows of T tokens with reset_position_ids: row 0 holds documents of 10, 20 and 7
// tokens (positions restart at 0 at each), row 1 one document that started in an earlier row,
// so its positions run high, ending at the table's last position.
std::vector<int32_t> packed_positions(int T) {
  std::vector<int32_t> pos;
  for (const int len : {10, 20, T - 30})
    for (int t = 0; t < len; ++t) pos.push_back(t);
  for (int t = 0; t < T; ++t) pos.push_back(kMaxPositions - T + t);
  return pos;
}

struct Shape {
  int H, D, R;
};

TEST(CudaOpsRotary, ForwardAndBackwardMatchTheCpuWithPositionsResetPerDocument) {
  KILN_SKIP_WITHOUT_GPU();
  const int T = 37;
  const std::vector<int32_t> pos = packed_positions(T);
  const int N = static_cast<int>(pos.size());
  for (const Shape& s : {Shape{32, 64, 16}, Shape{32, 80, 20}, Shape{3, 80, 20}, Shape{5, 64, 64}, Shape{2, 6, 2}}) {
    SCOPED_TRACE("H = " + std::to_string(s.H) + ", D = " + std::to_string(s.D) + ", R = " + std::to_string(s.R));
    CudaOps ops;
    CpuOps<float> cpu;
    ops.prepare_rotary(s.R, kMaxPositions, kTheta);
    cpu.prepare_rotary(s.R, kMaxPositions, kTheta);
    const size_t n = static_cast<size_t>(N) * s.H * s.D;
    const std::vector<float> x = random_bf16(n, 1, -3.0, 3.0), dout = random_bf16(n, 2), dinp0 = random_bf16(n, 3);

    std::vector<float> out(n), dinp = dinp0;
    cpu.rotary_forward(out.data(), x.data(), pos.data(), N, s.H, s.D);
    cpu.rotary_backward(dinp.data(), dout.data(), pos.data(), N, s.H, s.D);

    DeviceArray<int32_t> d_pos(pos);
    DeviceArray<bf16> d_x(x), d_out(n), d_inplace(x), d_dout(dout), d_dinp(dinp0);
    sync_uploads();
    ops.rotary_forward(d_out.get(), d_x.get(), d_pos.get(), N, s.H, s.D);
    ops.rotary_forward(d_inplace.get(), d_inplace.get(), d_pos.get(), N, s.H, s.D);
    ops.rotary_backward(d_dinp.get(), d_dout.get(), d_pos.get(), N, s.H, s.D);

    const std::vector<float> g_out = d_out.to_floats(), g_inplace = d_inplace.to_floats();
    EXPECT_LT(max_rel_error(g_out, out), kOneRounding) << "forward";
    EXPECT_LT(max_rel_error(d_dinp.to_floats(), dinp), kOneRounding) << "backward";
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(bits(g_inplace[i]), bits(g_out[i])) << "in place differs, element " << i;
      const size_t d = i % static_cast<size_t>(s.D);
      const size_t token = i / (static_cast<size_t>(s.H) * s.D);
      // Dimensions [R, D) pass through, and position 0 is the identity rotation: both exact.
      if (d >= static_cast<size_t>(s.R) || pos[token] == 0) {
        ASSERT_EQ(bits(g_out[i]), bits(x[i])) << "element " << i << " (d = " << d << ", position " << pos[token] << ")";
      }
    }
  }
}

TEST(CudaOpsRotary, BackwardUndoesForward) {
  KILN_SKIP_WITHOUT_GPU();
  // A rotation's transpose is its inverse: backward from zero of forward(x) gives x back, up to
  // the bf16 roundings in between: the forward's (2^-8 of each element of a pair whose length is
  // at most √2, carried back by the rotation: ≤ 2·2^-8) and the backward's own (2^-8), with |x| ≤ 1
  // measured against a floor of 1.
  CudaOps ops;
  ops.prepare_rotary(20, kMaxPositions, kTheta);
  const std::vector<int32_t> pos = packed_positions(37);
  const int N = static_cast<int>(pos.size()), H = 4, D = 80;
  const size_t n = static_cast<size_t>(N) * H * D;
  const std::vector<float> x = random_bf16(n, 4);
  DeviceArray<int32_t> d_pos(pos);
  DeviceArray<bf16> d_x(x), d_y(n), d_back(std::vector<float>(n, 0.0f));
  sync_uploads();
  ops.rotary_forward(d_y.get(), d_x.get(), d_pos.get(), N, H, D);
  ops.rotary_backward(d_back.get(), d_y.get(), d_pos.get(), N, H, D);
  EXPECT_LT(max_rel_error(d_back.to_floats(), x, 1.0), 3.0 / 256 + 1e-3);
}

TEST(CudaOpsRotary, ThrowsWithoutATableOrWithATableWiderThanTheHead) {
  KILN_SKIP_WITHOUT_GPU();
  CudaOps ops;
  DeviceArray<bf16> a(64), b(64);
  DeviceArray<int32_t> pos(std::vector<int32_t>{0});
  // std::logic_error itself (invalid_argument derives from it, so EXPECT_THROW would not tell).
  for (const bool backward : {false, true}) {
    try {
      if (backward)
        ops.rotary_backward(a.get(), b.get(), pos.get(), 1, 1, 64);
      else
        ops.rotary_forward(a.get(), b.get(), pos.get(), 1, 1, 64);
      ADD_FAILURE() << "no exception without prepare_rotary";
    } catch (const std::invalid_argument& e) {
      ADD_FAILURE() << "invalid_argument instead of logic_error: " << e.what();
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("prepare_rotary"), std::string::npos) << e.what();
    }
  }
  ops.prepare_rotary(16, 128, kTheta);
  EXPECT_THROW(ops.rotary_forward(a.get(), b.get(), pos.get(), 1, 1, 8), std::invalid_argument);
  EXPECT_THROW(ops.rotary_backward(a.get(), a.get(), pos.get(), 1, 1, 64), std::invalid_argument);
  EXPECT_NO_THROW(ops.rotary_forward(a.get(), b.get(), pos.get(), 1, 1, 64));
  ops.synchronize();
}

}  // namespace
}  // namespace kiln
