// The GPU optimizer against the CPU one: cuda::adamw_update against cpu::adamw_update_groups, and
// CudaAdamWOptimizer against AdamWOptimizer on a µP model from a config.
//
// Tolerance: none, where the host compiler cannot fuse operations. The GPU kernel does every fp32
// operation with a round-to-nearest intrinsic in the CPU reference's order (no FMA contraction;
// cuda/adamw.h); IEEE-754 rounds each such operation to one correct answer on both sides; and the
// per-step scalars come from the same double expressions rounded to fp32 once. So given the same
// gradients (the bf16 values; the CPU sees them widened to float) and the same norm, masters,
// moments and bf16 parameters agree bit for bit after any number of steps, and any difference,
// even one ulp, means the arithmetic differs somewhere. (Gradient magnitudes cover four decades,
// plus values whose squares are fp32 subnormals, so a flush-to-zero build would show too.)
//
// That needs a CPU reference that rounds every operation too. g++ contracts a·b + c into an FMA
// by default in C++ (-ffp-contract=fast; only ISO C turns it off) wherever the target has FMA
// instructions: not on baseline x86-64, which kiln builds for, but on aarch64 (Grace) or with
// -march=native. The test sees the same target as kernels/cpu (__FP_FAST_FMAF is defined exactly
// when FMA is available), and there it accepts a few ulps instead (kCpuMayContract below): an
// FMA moves each result by at most about one ulp of its operands. Building kernels/cpu with
// -ffp-contract=off would make the reference, and this test, exact on every host.
//
// Norms are sums of exact squares in double in different orders, so they agree to the double
// rounding bound n·2^-53 relative, not bitwise. GPU-against-GPU checks (skips, state round trips)
// are always bitwise.
#include "cuda/adamw.h"
#include "optim/cuda_adamw_optimizer.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "cpu/adamw.h"
#include "cpu/global_norm.h"
#include "model/param_names.h"
#include "optim/adamw_optimizer.h"
#include "optim/param_groups.h"
#include "support/cuda_test.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

using test::DeviceArray;

// A blocking stream: it waits for DeviceArray's copies on the legacy default stream, as the
// optimizer's own work must.
class Stream {
 public:
  Stream() { test::cuda_ok(cudaStreamCreate(&s_), "cudaStreamCreate"); }
  ~Stream() { cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

#if defined(__FP_FAST_FMAF)
constexpr bool kCpuMayContract = true;  // see the top of the file
#else
constexpr bool kCpuMayContract = false;
#endif

// How far a value may be from the CPU's where the CPU reference may use FMAs: `rel` of the larger
// magnitude, or `abs` near zero (where a sum cancelled and a one-ulp change of an O(1) operand is
// large relative to the result). Unused where the reference rounds every operation.
struct Tolerance {
  double rel;
  double abs;
};
// 2^-20 = 8 ulps: a few fused operations per step over a few steps. Masters and m are O(1e-3..10),
// so 1e-6 absolute is a few ulps of their operands; v is never a cancelling sum.
constexpr Tolerance kMasterTol{0x1p-20, 1e-6}, kMTol{0x1p-20, 1e-6}, kVTol{0x1p-20, 0.0};

// Number of elements outside the comparison, with the first few described; "" when all agree.
// Bitwise when `tol` is null.
std::string differences(const float* gpu, const float* cpu, size_t n, const char* what, const Tolerance* tol) {
  size_t count = 0;
  std::ostringstream first;
  first.precision(9);
  for (size_t i = 0; i < n; ++i) {
    bool same = std::memcmp(&gpu[i], &cpu[i], sizeof(float)) == 0;
    if (!same && tol != nullptr) {
      const double d = std::abs(static_cast<double>(gpu[i]) - cpu[i]);
      same = d <= tol->rel * std::max(std::abs(static_cast<double>(gpu[i])), std::abs(static_cast<double>(cpu[i]))) ||
             d <= tol->abs;
    }
    if (!same) {
      if (count < 3) first << " [" << i << "] gpu " << gpu[i] << " cpu " << cpu[i] << ";";
      ++count;
    }
  }
  if (count == 0) return "";
  return std::string(what) + ": " + std::to_string(count) + " of " + std::to_string(n) + " differ:" + first.str();
}

// GPU against GPU: always bitwise.
std::string bit_differences(const float* a, const float* b, size_t n, const char* what) {
  return differences(a, b, n, what, nullptr);
}

// GPU against the CPU reference: bitwise, or within `tol` where the reference may fuse.
std::string cpu_differences(const float* gpu, const float* cpu, size_t n, const char* what, const Tolerance& tol) {
  return differences(gpu, cpu, n, what, kCpuMayContract ? &tol : nullptr);
}

// The bf16 parameter the GPU wrote against the CPU's: the same bits, or (where the CPU reference
// may fuse, so the masters may differ by a few fp32 ulps) neighbours.
bool same_bf16(uint16_t gpu, uint16_t cpu) {
  if (!kCpuMayContract) return gpu == cpu;
  return gpu == cpu || (((gpu ^ cpu) & 0x8000u) == 0 && (gpu > cpu ? gpu - cpu : cpu - gpu) == 1);
}

// Gradient-like values: uniform sign, magnitudes 10^[-3, 1) times `scale` (four decades, as
// different tensors have), and every 97th a tiny 1e-21 whose square is an fp32 subnormal.
// Rounded to bf16, so the CPU sees exactly what the GPU reads.
float gradient_value(std::mt19937& rng, float scale, size_t i) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-3.0f, 1.0f);
  const float u = unit(rng);
  const float mag = std::pow(10.0f, log_scale(rng));
  if (i % 97 == 13) return to_float(to_bf16(1e-21f * u));
  return to_float(to_bf16(scale * u * mag));
}

// ---- the kernel ----------------------------------------------------------------------------------

// A slice [1000, 51003) of a flat layout and group ranges around and inside it: one cut by the
// slice's start, one by its end, one wholly outside, a one-element range, two touching ranges of
// different groups, one spanning several chunks, gaps between them, not sorted.
struct KernelCase {
  int64_t shard_begin = 1000;
  int64_t shard_end = 1000 + 50003;
  std::vector<cpu::AdamWGroupRange> groups = {
      {1800, 30000, 0.25, 0.1},  // 28,200 elements: four chunks, the last partial
      {500, 1500, 1.0, 0.1},     // cut by the slice's start
      {1600, 1601, 0.25, 0.1},   // one element
      {1601, 1700, 1.0, 0.0},    // touches the previous range, another group
      {30064, 30067, 1.0, 0.0},  // three elements
      {40000, 60000, 1.0, 0.1},  // cut by the slice's end
      {70000, 80000, 0.25, 0.1}, // outside the slice
  };
  // The distinct (lr_scale, weight_decay) pairs; a range's group id is its index here.
  std::vector<double> lr_scales = {1.0, 0.25, 1.0};
  std::vector<double> weight_decays = {0.1, 0.1, 0.0};

  int64_t n() const { return shard_end - shard_begin; }
  int32_t id_of(const cpu::AdamWGroupRange& g) const {
    for (size_t k = 0; k < lr_scales.size(); ++k) {
      if (lr_scales[k] == g.lr_scale && weight_decays[k] == g.weight_decay) return static_cast<int32_t>(k);
    }
    throw std::logic_error("no such group");
  }
  std::vector<cuda::AdamWRange> local_ranges() const {
    std::vector<cuda::AdamWRange> out;
    for (const cpu::AdamWGroupRange& g : groups) {
      const int64_t b = std::max(g.begin, shard_begin), e = std::min(g.end, shard_end);
      if (b < e) out.push_back({b - shard_begin, e - shard_begin, id_of(g)});
    }
    return out;
  }
  std::vector<char> in_group() const {
    std::vector<char> mask(static_cast<size_t>(n()), 0);
    for (const cuda::AdamWRange& r : local_ranges()) {
      for (int64_t i = r.begin; i < r.end; ++i) mask[static_cast<size_t>(i)] = 1;
    }
    return mask;
  }
};

struct StepSpec {
  int64_t step;
  double lr;
  double grad_scale;
};

void run_kernel_against_cpu(double beta1, bool with_output) {
  SCOPED_TRACE(::testing::Message() << "beta1 " << beta1 << (with_output ? ", bf16 output" : ", no output"));
  const KernelCase kc;
  const size_t n = static_cast<size_t>(kc.n());
  const std::vector<char> in_group = kc.in_group();

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> master(n), m(n), v(n);
  for (size_t i = 0; i < n; ++i) {
    master[i] = unit(rng);
    const bool tiny = i % 97 == 13;  // leave the subnormal-square elements' moments at zero
    m[i] = tiny ? 0.0f : 0.01f * unit(rng);
    v[i] = tiny ? 0.0f : 1e-4f * unit(rng) * unit(rng) + 1e-4f;
  }
  const std::vector<float> master0 = master, m0 = m, v0 = v;
  // The steps need not be consecutive: the kernel takes the step number for the bias correction.
  const std::vector<StepSpec> steps = {{1, 0.05, 1.0}, {2, 0.02, 0.37}, {3, 0.01, 1.0}, {10, 0.03, 0.8}};

  DeviceArray<float> d_master(master), d_m(m), d_v(v);
  DeviceArray<bf16> d_out(n);  // poisoned: untouched elements stay NaN
  const std::vector<cuda::AdamWChunk> chunks = cuda::adamw_chunks(kc.local_ranges());
  ASSERT_GT(chunks.size(), 6u);
  DeviceArray<cuda::AdamWChunk> d_chunks(chunks);
  std::vector<uint16_t> cpu_out(n, 0);

  for (const StepSpec& s : steps) {
    SCOPED_TRACE(::testing::Message() << "step " << s.step);
    std::vector<float> grad(n);
    for (size_t i = 0; i < n; ++i) grad[i] = gradient_value(rng, 1.0f, i);
    DeviceArray<bf16> d_grad(grad);

    cpu::AdamWStep cs;
    cs.beta1 = beta1;
    cs.beta2 = 0.95;
    cs.eps = 1e-8;
    cs.step = s.step;
    cs.grad_scale = s.grad_scale;
    const cpu::AdamWBuffers buf{master.data(), m.data(), v.data(), grad.data(),
                                with_output ? cpu_out.data() : nullptr};
    cpu::adamw_update_groups(buf, kc.shard_begin, kc.shard_end, kc.groups, s.lr, cs);

    const cuda::AdamWScalars scalars =
        cuda::adamw_scalars(beta1, 0.95, 1e-8, s.step, s.grad_scale, s.lr, kc.lr_scales.data(),
                            kc.weight_decays.data(), static_cast<int>(kc.lr_scales.size()));
    cuda::adamw_update(d_master.get(), d_m.get(), d_v.get(), reinterpret_cast<const cuda::bf16_t*>(d_grad.get()),
                       with_output ? reinterpret_cast<cuda::bf16_t*>(d_out.get()) : nullptr, d_chunks.get(),
                       static_cast<int64_t>(chunks.size()), scalars, nullptr);
    test::cuda_ok(cudaGetLastError(), "adamw_update");

    const std::vector<float> g_master = d_master.to_floats(), g_m = d_m.to_floats(), g_v = d_v.to_floats();
    EXPECT_EQ(cpu_differences(g_master.data(), master.data(), n, "masters", kMasterTol), "");
    EXPECT_EQ(cpu_differences(g_m.data(), m.data(), n, "m", kMTol), "");
    EXPECT_EQ(cpu_differences(g_v.data(), v.data(), n, "v", kVTol), "");

    const std::vector<float> g_out = d_out.to_floats();
    size_t wrong_out = 0, written_outside = 0;
    for (size_t i = 0; i < n; ++i) {
      if (in_group[i] && with_output) {
        // The bf16 parameter is the new master rounded to nearest even, and the CPU's.
        const uint16_t bits = to_bf16(g_out[i]).bits;
        if (bits != to_bf16(g_master[i]).bits || !same_bf16(bits, cpu_out[i])) ++wrong_out;
      } else if (!std::isnan(g_out[i])) {
        ++written_outside;  // still the poison: no group, or no output asked for
      }
    }
    EXPECT_EQ(wrong_out, 0u);
    EXPECT_EQ(written_outside, 0u);
  }

  // Elements in no group keep their state bit for bit; grouped ones all moved (the update did run),
  // except the subnormal-square ones of an undecayed group, whose ~1e-14 relative steps round away.
  size_t untouched_changed = 0, grouped_unchanged = 0;
  const std::vector<float> g_master = d_master.to_floats(), g_m = d_m.to_floats(), g_v = d_v.to_floats();
  for (size_t i = 0; i < n; ++i) {
    const bool same = std::memcmp(&g_master[i], &master0[i], 4) == 0 && std::memcmp(&g_m[i], &m0[i], 4) == 0 &&
                      std::memcmp(&g_v[i], &v0[i], 4) == 0;
    if (!in_group[i] && !same) ++untouched_changed;
    if (in_group[i] && i % 97 != 13 && g_master[i] == master0[i]) ++grouped_unchanged;
  }
  EXPECT_EQ(untouched_changed, 0u);
  EXPECT_EQ(grouped_unchanged, 0u);
}

TEST(CudaAdamWKernel, MatchesCpuReference) {
  KILN_SKIP_WITHOUT_GPU();
  run_kernel_against_cpu(0.9, true);
}

TEST(CudaAdamWKernel, MatchesCpuReferenceWithoutOutput) {
  KILN_SKIP_WITHOUT_GPU();
  run_kernel_against_cpu(0.9, false);
}

TEST(CudaAdamWKernel, MatchesCpuReferenceOnTheOtherLerpBranch) {
  // β1 < 0.5 makes 1 − β1 > 0.5, which takes torch's second lerp formula.
  KILN_SKIP_WITHOUT_GPU();
  run_kernel_against_cpu(0.3, true);
}

TEST(CudaAdamWKernel, ChunkTableCoversTheRangesExactly) {
  KILN_SKIP_WITHOUT_GPU();
  const KernelCase kc;
  const std::vector<cuda::AdamWChunk> chunks = cuda::adamw_chunks(kc.local_ranges());
  std::vector<int> covered(static_cast<size_t>(kc.n()), 0);
  for (const cuda::AdamWChunk& c : chunks) {
    EXPECT_GT(c.length, 0);
    EXPECT_LE(c.length, cuda::kAdamWChunkElements);
    for (int64_t i = c.begin; i < c.begin + c.length; ++i) ++covered[static_cast<size_t>(i)];
  }
  const std::vector<char> in_group = kc.in_group();
  for (size_t i = 0; i < covered.size(); ++i) ASSERT_EQ(covered[i], in_group[i] ? 1 : 0) << i;
  EXPECT_THROW(cuda::adamw_chunks({{5, 4, 0}}), std::invalid_argument);
  EXPECT_THROW(cuda::adamw_chunks({{0, 4, cuda::kAdamWMaxGroups}}), std::invalid_argument);
}

// ---- the optimizer -------------------------------------------------------------------------------

// A small µP model with every bias: width scale 16/64 = 0.25 on the hidden matrices, no decay on
// biases and norms, so there are three groups in many ranges.
Config mup_config(double grad_clip = 1.0) {
  const char* yaml = R"(
model:
  num_layers: 2
  hidden_size: 64
  num_heads: 4
  vocab_size: 500
  seq_length: 32
  qkv_bias: true
  linear_bias: true
  norm_bias: true
  mup:
    enabled: true
    base_hidden_size: 16
optimizer:
  lr: 0.01
  weight_decay: 0.1
train:
  steps: 10
)";
  Config c = load_config_tree(YAML::Load(yaml), "cuda_adamw.yml").config;
  c.optimizer.grad_clip = grad_clip;
  return c;
}

// `scale`·gradient_value for every tensor element, zero in padding (as a zero-filled buffer).
std::vector<float> flat_values(const ParamRegistry& r, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::vector<float> x(static_cast<size_t>(r.total_numel()), 0.0f);
  for (const ParamEntry& e : r) {
    for (int64_t i = e.offset; i < e.end(); ++i) x[static_cast<size_t>(i)] = gradient_value(rng, scale, static_cast<size_t>(i));
  }
  return x;
}

std::vector<char> tensor_mask(const ParamRegistry& r) {
  std::vector<char> mask(static_cast<size_t>(r.total_numel()), 0);
  for (const ParamEntry& e : r) {
    for (int64_t i = e.offset; i < e.end(); ++i) mask[static_cast<size_t>(i)] = 1;
  }
  return mask;
}

// |a − b| within the rounding bound of two double sums of n non-negative terms, any order.
void expect_sums_agree(double gpu, double cpu, int64_t n) {
  const double bound = 2.0 * static_cast<double>(n + 1) * std::ldexp(1.0, -53) * cpu;
  EXPECT_LE(std::abs(gpu - cpu), bound) << "gpu " << gpu << " cpu " << cpu;
}

// The GPU optimizer's state equals the CPU optimizer's, bit for bit.
void expect_same_state(const CudaAdamWOptimizer& gpu, const AdamWOptimizer& cpu) {
  const size_t n = static_cast<size_t>(gpu.shard_size());
  ASSERT_EQ(cpu.masters().size(), n);
  std::vector<float> master(n), m(n), v(n);
  gpu.download_state(master.data(), m.data(), v.data());
  EXPECT_EQ(cpu_differences(master.data(), cpu.masters().data(), n, "masters", kMasterTol), "");
  EXPECT_EQ(cpu_differences(m.data(), cpu.m().data(), n, "m", kMTol), "");
  EXPECT_EQ(cpu_differences(v.data(), cpu.v().data(), n, "v", kVTol), "");
}

void run_optimizer_against_cpu(int64_t begin, int64_t end) {
  SCOPED_TRACE(::testing::Message() << "slice [" << begin << ", " << end << ")");
  const Config config = mup_config();
  const ParamRegistry registry = make_param_registry(config.model);
  ASSERT_EQ(summarize_param_groups(registry, config.optimizer).size(), 3u);
  const std::vector<float> init = flat_values(registry, 1, 0.1f);
  const std::vector<char> in_tensor = tensor_mask(registry);
  const size_t total = init.size();

  Stream stream;
  AdamWOptimizer cpu(registry, config.optimizer, init.data(), begin, end);
  CudaAdamWOptimizer gpu(registry, config.optimizer, init.data(), begin, end, stream.get());
  EXPECT_EQ(gpu.state_bytes(), cpu.state_bytes());
  expect_same_state(gpu, cpu);  // the masters start as the slice of init

  std::vector<uint16_t> cpu_params(total, 0);
  DeviceArray<bf16> d_params(total);  // poisoned: only the slice's tensor elements may change
  // Scales 1 and 0.01 give norms well over grad_clip = 1 (clipped), 1e-3 and 1e-4 well under.
  const std::vector<std::pair<float, double>> steps = {{1.0f, 0.05}, {1e-3f, 0.03}, {0.01f, 0.02}, {1e-4f, 0.01}};
  bool clipped = false, unclipped = false;
  for (size_t k = 0; k < steps.size(); ++k) {
    SCOPED_TRACE(k);
    const std::vector<float> grads = flat_values(registry, 10 + static_cast<uint32_t>(k), steps[k].first);
    DeviceArray<bf16> d_grads(grads);
    const double cpu_sq = cpu.local_sum_of_squares(grads.data());
    const double gpu_sq = gpu.local_sum_of_squares(d_grads.get());
    expect_sums_agree(gpu_sq, cpu_sq, end - begin);
    // Both get the same norm: the clip coefficient is then the same double on both sides.
    const double norm = std::sqrt(cpu_sq);
    const StepResult rc = cpu.step_with_norm(norm, grads.data(), steps[k].second, ParamOutput::to_bf16(cpu_params.data()));
    const StepResult rg = gpu.step_with_norm(norm, d_grads.get(), steps[k].second, d_params.get());
    EXPECT_FALSE(rg.skipped);
    EXPECT_EQ(rg.step, static_cast<int64_t>(k + 1));
    EXPECT_EQ(rg.step, rc.step);
    EXPECT_EQ(rg.clip_coef, rc.clip_coef);
    EXPECT_EQ(gpu.step_count(), cpu.step_count());
    (rg.clip_coef < 1.0 ? clipped : unclipped) = true;
    expect_same_state(gpu, cpu);

    const std::vector<float> params = d_params.to_floats();
    size_t wrong = 0, written_outside = 0;
    for (size_t i = 0; i < total; ++i) {
      const bool mine = in_tensor[i] && static_cast<int64_t>(i) >= begin && static_cast<int64_t>(i) < end;
      if (mine) {
        if (!same_bf16(to_bf16(params[i]).bits, cpu_params[i])) ++wrong;
      } else if (!std::isnan(params[i])) {
        ++written_outside;  // padding and other ranks' elements are never written
      }
    }
    EXPECT_EQ(wrong, 0u);
    EXPECT_EQ(written_outside, 0u);
  }
  EXPECT_TRUE(clipped);
  EXPECT_TRUE(unclipped);
}

TEST(CudaAdamWOptimizer, MatchesCpuOptimizerOnTheWholeLayout) {
  KILN_SKIP_WITHOUT_GPU();
  const ParamRegistry registry = make_param_registry(mup_config().model);
  run_optimizer_against_cpu(0, registry.total_numel());
}

TEST(CudaAdamWOptimizer, MatchesCpuOptimizerOnShards) {
  // ZeRO-style shards whose edges cut tensors and group ranges; the last one runs past the layout
  // into DP padding, as with dp = 3.
  KILN_SKIP_WITHOUT_GPU();
  const ParamRegistry registry = make_param_registry(mup_config().model);
  const int64_t total = registry.total_numel();
  const int64_t shard = (total + 2) / 3;
  run_optimizer_against_cpu(shard + 1, 2 * shard + 7);
  // The padded tail: the CPU optimizer and ours both read shard_end elements of init.
  SCOPED_TRACE("padded last shard");
  const Config config = mup_config();
  std::vector<float> init = flat_values(registry, 1, 0.1f);
  init.resize(static_cast<size_t>(3 * shard), 0.0f);
  Stream stream;
  AdamWOptimizer cpu(registry, config.optimizer, init.data(), 2 * shard, 3 * shard);
  CudaAdamWOptimizer gpu(registry, config.optimizer, init.data(), 2 * shard, 3 * shard, stream.get());
  std::vector<float> grads = flat_values(registry, 20, 0.01f);
  grads.resize(init.size(), 0.0f);
  DeviceArray<bf16> d_grads(grads);
  std::vector<uint16_t> cpu_params(init.size(), 0);
  DeviceArray<bf16> d_params(init.size());
  const double cpu_sq = cpu.local_sum_of_squares(grads.data());
  expect_sums_agree(gpu.local_sum_of_squares(d_grads.get()), cpu_sq, shard);
  const double norm = std::sqrt(cpu_sq);
  cpu.step_with_norm(norm, grads.data(), 0.02, ParamOutput::to_bf16(cpu_params.data()));
  gpu.step_with_norm(norm, d_grads.get(), 0.02, d_params.get());
  expect_same_state(gpu, cpu);
}

TEST(CudaAdamWOptimizer, NormRangesCountOnlyTheirElements) {
  // As a TP rank other than 0 does: every tensor but the (replicated) norms counts.
  KILN_SKIP_WITHOUT_GPU();
  const Config config = mup_config();
  const ParamRegistry registry = make_param_registry(config.model);
  CudaAdamWOptimizer::NormRanges ranges;
  for (const ParamEntry& e : registry) {
    if (e.name.find("norm") == std::string::npos) ranges.emplace_back(e.offset, e.end());
  }
  ASSERT_LT(ranges.size(), registry.size());
  const int64_t total = registry.total_numel();
  const int64_t begin = total / 4 + 3, end = total - 5;
  const std::vector<float> init = flat_values(registry, 1, 0.1f);
  const std::vector<float> grads = flat_values(registry, 30, 1.0f);
  DeviceArray<bf16> d_grads(grads);
  Stream stream;
  CudaAdamWOptimizer ranged(registry, config.optimizer, init.data(), begin, end, stream.get(), ranges);
  CudaAdamWOptimizer whole(registry, config.optimizer, init.data(), begin, end, stream.get());

  // ZeroOptimizer's CPU formula: the ranges cut by the slice, each summed by the CPU kernel.
  double expected = 0.0;
  for (const auto& [b, e] : ranges) {
    const int64_t from = std::max(b, begin), to = std::min(e, end);
    if (from < to) expected += cpu::sum_of_squares(grads.data() + from, to - from);
  }
  const double all = cpu::sum_of_squares(grads.data() + begin, end - begin);
  const double got = ranged.local_sum_of_squares(d_grads.get());
  expect_sums_agree(got, expected, end - begin);
  expect_sums_agree(whole.local_sum_of_squares(d_grads.get()), all, end - begin);
  EXPECT_GT(all - expected, 1e-6 * all);  // the norms' squares are really left out

  // No range meets an empty slice or a slice inside a gap: the sum is 0.
  CudaAdamWOptimizer empty(registry, config.optimizer, init.data(), 7, 7, stream.get(), ranges);
  EXPECT_EQ(empty.local_sum_of_squares(d_grads.get()), 0.0);
}

TEST(CudaAdamWOptimizer, NonFiniteNormSkipsTheStep) {
  KILN_SKIP_WITHOUT_GPU();
  const Config config = mup_config();
  const ParamRegistry registry = make_param_registry(config.model);
  const int64_t total = registry.total_numel();
  const std::vector<float> init = flat_values(registry, 1, 0.1f);
  const std::vector<float> good1 = flat_values(registry, 2, 0.01f), good2 = flat_values(registry, 3, 0.01f);
  DeviceArray<bf16> d_good1(good1), d_good2(good2);
  Stream stream;
  CudaAdamWOptimizer opt(registry, config.optimizer, init.data(), 0, total, stream.get());
  CudaAdamWOptimizer clean(registry, config.optimizer, init.data(), 0, total, stream.get());
  DeviceArray<bf16> params(static_cast<size_t>(total)), clean_params(static_cast<size_t>(total));

  auto step = [&](CudaAdamWOptimizer& o, const DeviceArray<bf16>& g, DeviceArray<bf16>& p, double lr) {
    return o.step_with_norm(std::sqrt(o.local_sum_of_squares(g.get())), g.get(), lr, p.get());
  };
  ASSERT_FALSE(step(opt, d_good1, params, 0.05).skipped);
  step(clean, d_good1, clean_params, 0.05);

  const size_t n = static_cast<size_t>(total);
  const size_t some = static_cast<size_t>(registry.at("model.layers.1.self_attn.o_proj.weight").offset) + 5;
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    SCOPED_TRACE(bad);
    std::vector<float> grads = good2;
    grads[some] = bad;
    DeviceArray<bf16> d_bad(grads);
    std::vector<float> m0(n), v0(n), p0(n), m1(n), v1(n), p1(n);
    opt.download_state(p0.data(), m0.data(), v0.data());
    const std::vector<float> params_before = params.to_floats();

    const double sq = opt.local_sum_of_squares(d_bad.get());
    EXPECT_FALSE(std::isfinite(sq));
    const StepResult r = opt.step_with_norm(std::sqrt(sq), d_bad.get(), 0.03, params.get());
    EXPECT_TRUE(r.skipped);
    EXPECT_EQ(r.step, 1);
    EXPECT_EQ(opt.step_count(), 1);
    opt.download_state(p1.data(), m1.data(), v1.data());
    EXPECT_EQ(bit_differences(p1.data(), p0.data(), n, "masters"), "");
    EXPECT_EQ(bit_differences(m1.data(), m0.data(), n, "m"), "");
    EXPECT_EQ(bit_differences(v1.data(), v0.data(), n, "v"), "");
    const std::vector<float> params_after = params.to_floats();
    EXPECT_EQ(bit_differences(params_after.data(), params_before.data(), n, "params"), "");
  }

  // The next good step is update 2, exactly as if the bad ones never happened.
  const StepResult r = step(opt, d_good2, params, 0.03);
  step(clean, d_good2, clean_params, 0.03);
  EXPECT_EQ(r.step, 2);
  std::vector<float> a(n), b(n);
  opt.download_state(a.data(), nullptr, nullptr);
  clean.download_state(b.data(), nullptr, nullptr);
  EXPECT_EQ(bit_differences(a.data(), b.data(), n, "masters"), "");
  const std::vector<float> pa = params.to_floats(), pb = clean_params.to_floats();
  EXPECT_EQ(bit_differences(pa.data(), pb.data(), n, "params"), "");
}

TEST(CudaAdamWOptimizer, SkipsEvenWithClippingOff) {
  KILN_SKIP_WITHOUT_GPU();
  const Config config = mup_config(0.0);
  const ParamRegistry registry = make_param_registry(config.model);
  const std::vector<float> init = flat_values(registry, 1, 0.1f);
  std::vector<float> grads = flat_values(registry, 2, 0.01f);
  grads[static_cast<size_t>(registry.at("model.norm.weight").offset)] = std::numeric_limits<float>::quiet_NaN();
  DeviceArray<bf16> d_grads(grads);
  Stream stream;
  CudaAdamWOptimizer opt(registry, config.optimizer, init.data(), 0, registry.total_numel(), stream.get());
  const StepResult r = opt.step_with_norm(std::sqrt(opt.local_sum_of_squares(d_grads.get())), d_grads.get(), 0.05, nullptr);
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.step, 0);
  std::vector<float> masters(init.size());
  opt.download_state(masters.data(), nullptr, nullptr);
  EXPECT_EQ(bit_differences(masters.data(), init.data(), init.size(), "masters"), "");
}

TEST(CudaAdamWOptimizer, StateRoundTripsThroughTheHost) {
  // A checkpoint's state and step count loaded into a fresh optimizer continue exactly.
  KILN_SKIP_WITHOUT_GPU();
  const Config config = mup_config();
  const ParamRegistry registry = make_param_registry(config.model);
  const int64_t total = registry.total_numel();
  const int64_t begin = 100, end = total - 100;
  const size_t n = static_cast<size_t>(end - begin);
  const std::vector<float> init = flat_values(registry, 1, 0.1f), other = flat_values(registry, 9, 0.1f);
  DeviceArray<bf16> g0(flat_values(registry, 40, 0.01f)), g1(flat_values(registry, 41, 0.01f)),
      g2(flat_values(registry, 42, 0.01f));
  Stream stream;
  CudaAdamWOptimizer a(registry, config.optimizer, init.data(), begin, end, stream.get());
  a.step_with_norm(0.5, g0.get(), 0.02, nullptr);
  a.step_with_norm(0.5, g1.get(), 0.02, nullptr);
  std::vector<float> master(n), m(n), v(n);
  a.download_state(master.data(), m.data(), v.data());

  CudaAdamWOptimizer b(registry, config.optimizer, other.data(), begin, end, stream.get());
  b.upload_state(master.data(), m.data(), v.data());
  b.set_step_count(a.step_count());
  DeviceArray<bf16> pa(static_cast<size_t>(total)), pb(static_cast<size_t>(total));
  EXPECT_EQ(a.step_with_norm(0.5, g2.get(), 0.02, pa.get()).step, 3);
  EXPECT_EQ(b.step_with_norm(0.5, g2.get(), 0.02, pb.get()).step, 3);
  std::vector<float> ma(n), mb(n), va(n), vb(n);
  a.download_state(master.data(), ma.data(), va.data());
  std::vector<float> master_b(n);
  b.download_state(master_b.data(), mb.data(), vb.data());
  EXPECT_EQ(bit_differences(master_b.data(), master.data(), n, "masters"), "");
  EXPECT_EQ(bit_differences(mb.data(), ma.data(), n, "m"), "");
  EXPECT_EQ(bit_differences(vb.data(), va.data(), n, "v"), "");
  const std::vector<float> fa = pa.to_floats(), fb = pb.to_floats();
  EXPECT_EQ(bit_differences(fb.data(), fa.data(), fa.size(), "params"), "");
}

TEST(CudaAdamWOptimizer, EmptySliceIsHarmless) {
  KILN_SKIP_WITHOUT_GPU();
  const Config config = mup_config();
  const ParamRegistry registry = make_param_registry(config.model);
  const std::vector<float> init = flat_values(registry, 1, 0.1f);
  DeviceArray<bf16> d_grads(flat_values(registry, 2, 0.01f));
  Stream stream;
  CudaAdamWOptimizer opt(registry, config.optimizer, init.data(), 64, 64, stream.get());
  EXPECT_EQ(opt.state_bytes(), 0u);
  EXPECT_EQ(opt.local_sum_of_squares(d_grads.get()), 0.0);
  const StepResult r = opt.step_with_norm(1.0, d_grads.get(), 0.01, nullptr);
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(r.step, 1);  // the counter advances on every rank alike, as on the CPU
  test::cuda_ok(cudaStreamSynchronize(stream.get()), "sync");
}

TEST(CudaAdamWOptimizer, RejectsBadSlicesAndRanges) {
  KILN_SKIP_WITHOUT_GPU();
  const Config config = mup_config();
  const ParamRegistry registry = make_param_registry(config.model);
  const std::vector<float> init = flat_values(registry, 1, 0.1f);
  Stream stream;
  EXPECT_THROW(CudaAdamWOptimizer(registry, config.optimizer, init.data(), -1, 10, stream.get()), std::invalid_argument);
  EXPECT_THROW(CudaAdamWOptimizer(registry, config.optimizer, init.data(), 10, 5, stream.get()), std::invalid_argument);
  EXPECT_THROW(CudaAdamWOptimizer(registry, config.optimizer, init.data(), 0, 10, stream.get(), {{8, 4}}),
               std::invalid_argument);
  ParamRegistry unfinished;
  unfinished.add("w", {4});
  EXPECT_THROW(CudaAdamWOptimizer(unfinished, config.optimizer, init.data(), 0, 4, stream.get()), std::logic_error);
}

}  // namespace
}  // namespace kiln
