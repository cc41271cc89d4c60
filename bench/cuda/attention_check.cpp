// cuda_attention_check: kiln's fused GPU attention at the real models' shapes, timed and checked
// against the CPU reference (launch/gpu/device-check.sh runs it; docs/cuda-backend.md).
//
//   cuda_attention_check [--json FILE] [--reps N] [--heads N] [--batch B] [--seq T] [--cpu]
//
// The cases are the attention of the shipped configs at sequence 4096, micro batch 2:
//   sl2-1.6b          32 heads of 64, causal (Stable LM 2 1.6B, no document reset)
//   sl2-1.6b-docs     the same with per-document masks (packed rows, reset_attention_mask)
//   sl2-1.6b-alibi    the same shape with ALiBi slopes
//   3b-4e1t           32 heads of 80, causal (StableLM-3B-4E1T)
//   3b-4e1t-docs      the same with per-document masks
//   btlm-alibi-mup    32 heads of 80, ALiBi and µP's 1/D scale (BTLM-3B-8K)
// For each: forward and backward milliseconds on the GPU (CUDA events over --reps calls, after two
// untimed ones) and TFLOP/s of the causal work; then, for --heads sampled (row, head) pairs, the
// GPU's out, dq, dk and dv against kernels/cpu/attention.h (fp32, the full probability matrix of
// that head) on the same bf16 inputs. The error of a tensor is max |gpu − ref| / max |ref| over the
// sampled heads; a case passes when every tensor's is below 2e-2 (bf16 outputs carry 2^-9 relative
// rounding each, and the backward sums T of them). The CPU references of all cases run at the end,
// in parallel (OpenMP), so that the GPU timings see an idle host.
//
// --cpu runs the same harness on CpuOps<float> instead (a short --seq is wise): the whole-tensor
// calls and the per-head references are then the same kernel, so every error must be exactly 0,
// which proves the sampling, slicing, slopes and scales before a GPU run depends on them. The
// GPU check's smoke mode runs it.
//
// Exit status: 0 every case passed (or no GPU: every case skipped, said on stdout and in the JSON),
// 1 a case failed its check, 2 bad arguments or a CUDA error.
#include <cuda_runtime_api.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "cpu/alibi.h"
#include "cpu/attention.h"
#include "ops/cpu_ops.h"
#include "ops/cuda_ops.h"
#include "ops/ops.h"
#include "tensor/bf16.h"

namespace kiln {
namespace {

struct Case {
  const char* name;
  int D;
  bool docs, alibi, mup;
};

constexpr Case kCases[] = {
    {"sl2-1.6b", 64, false, false, false},     {"sl2-1.6b-docs", 64, true, false, false},
    {"sl2-1.6b-alibi", 64, false, true, false}, {"3b-4e1t", 80, false, false, false},
    {"3b-4e1t-docs", 80, true, false, false},  {"btlm-alibi-mup", 80, false, true, true},
};
constexpr int kHeads = 32;
constexpr double kTolerance = 2e-2;

struct Options {
  std::string json;
  int reps = 10, heads = 2, B = 2, T = 4096;
  bool cpu = false;  // --cpu: the harness on CpuOps<float> (errors must be exactly 0)
};

void cuda_ok(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Documents of random lengths in [1, 1023] (several per row of 4,096, as packed web text has
// them; at most a quarter of T for the short rows of --cpu).
std::vector<int32_t> make_docs(int B, int T, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> len(1, std::max(2, std::min(1023, T / 4)));
  std::vector<int32_t> ids(static_cast<size_t>(B) * T);
  for (int b = 0; b < B; ++b) {
    int doc = 0, left = len(rng);
    for (int t = 0; t < T; ++t, --left) {
      if (left == 0) ++doc, left = len(rng);
      ids[static_cast<size_t>(b) * T + t] = doc;
    }
  }
  return ids;
}

// n values of mean 0 and variance 1, rounded to bf16: the Irwin–Hall sum of four 16-bit uniforms of
// a counter-based hash (SplitMix64), so that 4 × 21 M values take milliseconds, not seconds, and
// do not depend on the thread count. Close enough to normal for scores of realistic spread.
std::vector<bf16> draw(size_t n, uint64_t seed) {
  std::vector<bf16> x(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(i) + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double sum = static_cast<double>(z & 0xFFFF) + static_cast<double>((z >> 16) & 0xFFFF) +
                       static_cast<double>((z >> 32) & 0xFFFF) + static_cast<double>(z >> 48);
    x[static_cast<size_t>(i)] = to_bf16(static_cast<float>((sum / 65536.0 - 2.0) * std::sqrt(3.0)));
  }
  return x;
}

// One sampled (row, head) pair: its inputs and the GPU's outputs, [T, D] each, as floats.
struct Sample {
  int b, h;
  std::vector<float> q, k, v, dout, out, dq, dk, dv;
  std::vector<int32_t> docs;  // [T] or empty
  float slope = 0;
};

struct Result {
  const Case* c;
  double fwd_ms = 0, bwd_ms = 0, fwd_tflops = 0, bwd_tflops = 0;
  std::vector<Sample> samples;
  double err_out = 0, err_dq = 0, err_dk = 0, err_dv = 0;
  double max_rel_err() const { return std::max({err_out, err_dq, err_dk, err_dv}); }
  bool pass(double tolerance) const { return std::isfinite(max_rel_err()) && max_rel_err() <= tolerance; }
};

// Storage values as floats and back: bf16 on the GPU, float for the --cpu self-test.
template <class Real>
float as_float(Real x) {
  if constexpr (std::is_same_v<Real, bf16>) return to_float(x);
  else return static_cast<float>(x);
}
template <class Real>
std::vector<Real> stored(const std::vector<bf16>& x) {
  if constexpr (std::is_same_v<Real, bf16>) return x;
  else {
    std::vector<Real> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = to_float(x[i]);
    return out;
  }
}

// Elements [b, ·, h, ·] of a [B, T, H, D] host array.
template <class Real>
std::vector<float> head_of(const std::vector<Real>& x, int b, int h, int T, int H, int D) {
  std::vector<float> out(static_cast<size_t>(T) * D);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; ++d)
      out[static_cast<size_t>(t) * D + d] = as_float(x[((static_cast<size_t>(b) * T + t) * H + h) * D + d]);
  return out;
}

template <class Real>
struct Buffers {
  using Acc = Accum<Real>;
  Buffers(Ops<Real>& ops, size_t n, int64_t saved, size_t docs) {
    for (Real** p : {&q, &k, &v, &out, &dout, &dq, &dk, &dv}) *p = static_cast<Real*>(ops.allocate(n * sizeof(Real)));
    lse = static_cast<Acc*>(ops.allocate(static_cast<size_t>(saved) * sizeof(Acc)));
    doc_ids = static_cast<int32_t*>(ops.allocate(std::max<size_t>(docs, 1) * sizeof(int32_t)));
  }
  Real *q, *k, *v, *out, *dout, *dq, *dk, *dv;
  Acc* lse;  // what the forward saves: the row log-sum-exp on the GPU, the probabilities on the CPU
  int32_t* doc_ids;
};

// Milliseconds per call of `call`, after two untimed calls: CUDA events on the ops' stream on the
// GPU, the host clock around synchronize() on the CPU.
template <class Real, class Call>
double time_ms(Ops<Real>& ops, int reps, Call&& call) {
  call();
  call();
  if constexpr (std::is_same_v<Real, bf16>) {
    auto& gpu = static_cast<CudaOps&>(ops);
    cudaEvent_t start, stop;
    cuda_ok(cudaEventCreate(&start), "cudaEventCreate");
    cuda_ok(cudaEventCreate(&stop), "cudaEventCreate");
    cuda_ok(cudaEventRecord(start, gpu.stream()), "cudaEventRecord");
    for (int r = 0; r < reps; ++r) call();
    cuda_ok(cudaEventRecord(stop, gpu.stream()), "cudaEventRecord");
    cuda_ok(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    cuda_ok(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return static_cast<double>(ms) / reps;
  } else {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) call();
    ops.synchronize();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
  }
}

// One case on `ops`: timed, then one checked forward and backward, of which --heads (row, head)
// pairs are kept for the CPU reference.
template <class Real>
Result run_case(Ops<Real>& ops, const Case& c, const Options& o, uint32_t seed) {
  using Acc = Accum<Real>;
  const int B = o.B, T = o.T, H = kHeads, D = c.D;
  const size_t n = static_cast<size_t>(B) * T * H * D;
  const std::vector<bf16> q16 = draw(n, seed), k16 = draw(n, seed + 1), v16 = draw(n, seed + 2),
                          dout16 = draw(n, seed + 3);
  const std::vector<Real> q = stored<Real>(q16), k = stored<Real>(k16), v = stored<Real>(v16),
                          dout = stored<Real>(dout16);
  const std::vector<int32_t> docs = c.docs ? make_docs(B, T, seed + 4) : std::vector<int32_t>();

  // allocate() memory lives as long as ops: each case takes its own (a few hundred MiB in all).
  Buffers<Real> d(ops, n, ops.attention_saved_elements(B, H, T), docs.size());
  ops.copy_from_host(d.q, q.data(), n * sizeof(Real));
  ops.copy_from_host(d.k, k.data(), n * sizeof(Real));
  ops.copy_from_host(d.v, v.data(), n * sizeof(Real));
  ops.copy_from_host(d.dout, dout.data(), n * sizeof(Real));
  if (c.docs) ops.copy_from_host(d.doc_ids, docs.data(), docs.size() * sizeof(int32_t));
  const AttentionArgs<Real> args{B,
                                 T,
                                 H,
                                 D,
                                 static_cast<Acc>(attention_scale(D, c.mup)),
                                 c.alibi ? ops.prepare_alibi(H, 0, H) : nullptr,
                                 c.docs ? d.doc_ids : nullptr};

  Result r{&c};
  r.fwd_ms = time_ms(ops, o.reps, [&] { ops.attention_forward(d.out, d.lse, d.q, d.k, d.v, args); });
  r.bwd_ms = time_ms(ops, o.reps,
                     [&] { ops.attention_backward(d.dq, d.dk, d.dv, d.dout, d.q, d.k, d.v, d.out, d.lse, args); });
  // Causal work: QKᵀ and PV over the lower triangle (2·2·T²/2·D per head); the backward's five
  // products, 2.5 times that. Masked-out documents are skipped work, not counted as done.
  const double fwd_flops = 2.0 * B * H * static_cast<double>(T) * T * D;
  r.fwd_tflops = fwd_flops / (r.fwd_ms * 1e-3) / 1e12;
  r.bwd_tflops = 2.5 * fwd_flops / (r.bwd_ms * 1e-3) / 1e12;

  // The checked outputs: one fresh backward into zeroed gradients (backward accumulates).
  for (Real* g : {d.dq, d.dk, d.dv}) ops.fill(g, Acc(0), static_cast<int64_t>(n));
  ops.attention_forward(d.out, d.lse, d.q, d.k, d.v, args);
  ops.attention_backward(d.dq, d.dk, d.dv, d.dout, d.q, d.k, d.v, d.out, d.lse, args);
  std::vector<Real> out(n), dq(n), dk(n), dv(n);
  ops.copy_to_host(out.data(), d.out, n * sizeof(Real));
  ops.copy_to_host(dq.data(), d.dq, n * sizeof(Real));
  ops.copy_to_host(dk.data(), d.dk, n * sizeof(Real));
  ops.copy_to_host(dv.data(), d.dv, n * sizeof(Real));

  std::vector<float> slopes(H);
  cpu::alibi_slopes(slopes.data(), H, 0, H);
  for (int s = 0; s < o.heads; ++s) {
    Sample sm;
    sm.b = s % B;
    sm.h = o.heads == 1 ? 0 : static_cast<int>((static_cast<int64_t>(s) * (H - 1)) / (o.heads - 1));
    sm.q = head_of(q, sm.b, sm.h, T, H, D), sm.k = head_of(k, sm.b, sm.h, T, H, D);
    sm.v = head_of(v, sm.b, sm.h, T, H, D), sm.dout = head_of(dout, sm.b, sm.h, T, H, D);
    sm.out = head_of(out, sm.b, sm.h, T, H, D), sm.dq = head_of(dq, sm.b, sm.h, T, H, D);
    sm.dk = head_of(dk, sm.b, sm.h, T, H, D), sm.dv = head_of(dv, sm.b, sm.h, T, H, D);
    if (c.docs) sm.docs.assign(docs.begin() + static_cast<std::ptrdiff_t>(sm.b) * T, docs.begin() + (sm.b + 1) * T);
    sm.slope = slopes[static_cast<size_t>(sm.h)];
    r.samples.push_back(std::move(sm));
  }
  return r;
}

double rel_err(const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) return INFINITY;
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return worst / std::max(scale, 1e-30);
}

// The CPU reference of one sampled head: [1, T, 1, D] through kernels/cpu/attention.h.
struct Errors {
  double out, dq, dk, dv;
};
Errors check_sample(const Case& c, const Sample& s, int T) {
  const int D = c.D;
  const cpu::AttentionArgs<float> a{1,
                                    T,
                                    1,
                                    D,
                                    static_cast<float>(attention_scale(D, c.mup)),
                                    c.alibi ? &s.slope : nullptr,
                                    c.docs ? s.docs.data() : nullptr};
  const size_t n = static_cast<size_t>(T) * D;
  std::vector<float> out(n), probs(static_cast<size_t>(T) * T), dq(n, 0.0f), dk(n, 0.0f), dv(n, 0.0f);
  cpu::attention_forward(out.data(), probs.data(), s.q.data(), s.k.data(), s.v.data(), a);
  cpu::attention_backward(dq.data(), dk.data(), dv.data(), s.dout.data(), s.q.data(), s.k.data(), s.v.data(),
                          out.data(), probs.data(), a);
  return {rel_err(s.out, out), rel_err(s.dq, dq), rel_err(s.dk, dk), rel_err(s.dv, dv)};
}

int usage(const char* why) {
  std::fprintf(stderr, "cuda_attention_check: %s\nusage: cuda_attention_check [--json FILE] [--reps N] "
               "[--heads N] [--batch B] [--seq T] [--cpu]\n", why);
  return 2;
}

bool parse(int argc, char** argv, Options& o, std::string& why) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cpu") {
      o.cpu = true;
      continue;
    }
    if (i + 1 >= argc) return why = a + " needs a value", false;
    const char* v = argv[++i];
    try {
      if (a == "--json") o.json = v;
      else if (a == "--reps") o.reps = std::stoi(v);
      else if (a == "--heads") o.heads = std::stoi(v);
      else if (a == "--batch") o.B = std::stoi(v);
      else if (a == "--seq") o.T = std::stoi(v);
      else return why = "unknown argument " + a, false;
    } catch (const std::exception&) {
      return why = a + " takes a number, got '" + v + "'", false;
    }
  }
  if (o.reps < 1 || o.heads < 1 || o.B < 1 || o.T < 1) return why = "--reps, --heads, --batch and --seq must be ≥ 1", false;
  return true;
}

void write_json(const Options& o, const nlohmann::ordered_json& j) {
  if (o.json.empty()) return;
  std::ofstream f(o.json);
  f << j.dump(2) << "\n";
  if (!f) throw std::runtime_error("cannot write " + o.json);
}

// The cases on `ops`, one after the other, printing each one's times.
template <class Real>
std::vector<Result> run_cases(Ops<Real>& ops, const Options& o) {
  std::vector<Result> results;
  uint32_t seed = 20261204;
  for (const Case& c : kCases) {
    results.push_back(run_case(ops, c, o, seed += 17));
    const Result& r = results.back();
    std::printf("%-16s B %d T %d H %d D %d: forward %8.3f ms (%6.1f TFLOP/s), backward %8.3f ms (%6.1f TFLOP/s)\n",
                c.name, o.B, o.T, kHeads, c.D, r.fwd_ms, r.fwd_tflops, r.bwd_ms, r.bwd_tflops);
    std::fflush(stdout);
  }
  return results;
}

int run(const Options& o) {
  const double tolerance = o.cpu ? 0.0 : kTolerance;
  nlohmann::ordered_json j = {{"shape", {{"batch", o.B}, {"seq", o.T}, {"heads", kHeads}}}, {"tolerance", tolerance}};
  std::vector<Result> results;
  if (o.cpu) {
    // The harness itself on the CPU backend: the whole-tensor calls and the per-head references are
    // the same kernel, so every error must be 0 (sampling, slicing, slopes and scales line up).
    j["device"] = "cpu (self-test of the harness, CpuOps<float>)";
    CpuOps<float> ops;
    results = run_cases(ops, o);
  } else {
    int count = 0;
    const cudaError_t probe = cudaGetDeviceCount(&count);
    if (probe != cudaSuccess || count == 0) {
      const std::string why = probe != cudaSuccess ? std::string("no usable GPU: ") + cudaGetErrorString(probe)
                                                   : "no CUDA device";
      std::printf("attention check skipped: %s\n", why.c_str());
      j["skipped"] = why;
      write_json(o, j);
      return 0;
    }
    cudaDeviceProp prop{};
    cuda_ok(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    j["device"] = prop.name;
    CudaOps ops;
    results = run_cases(ops, o);
  }
  // Every sampled head of every case is one independent CPU reference.
  std::vector<std::pair<size_t, size_t>> tasks;
  for (size_t i = 0; i < results.size(); ++i)
    for (size_t s = 0; s < results[i].samples.size(); ++s) tasks.emplace_back(i, s);
  std::vector<Errors> errors(tasks.size());
  omp_set_max_active_levels(1);
#pragma omp parallel for schedule(dynamic, 1)
  for (int t = 0; t < static_cast<int>(tasks.size()); ++t) {
    const auto [i, s] = tasks[static_cast<size_t>(t)];
    errors[static_cast<size_t>(t)] = check_sample(*results[i].c, results[i].samples[s], o.T);
  }
  for (size_t t = 0; t < tasks.size(); ++t) {
    Result& r = results[tasks[t].first];
    const Errors& e = errors[t];
    r.err_out = std::max(r.err_out, e.out), r.err_dq = std::max(r.err_dq, e.dq);
    r.err_dk = std::max(r.err_dk, e.dk), r.err_dv = std::max(r.err_dv, e.dv);
  }
  bool all = true;
  std::printf("%-16s %10s %10s %10s %10s  %s\n", "check", "out", "dq", "dk", "dv", "verdict");
  for (const Result& r : results) {
    all = all && r.pass(tolerance);
    std::printf("%-16s %10.2e %10.2e %10.2e %10.2e  %s\n", r.c->name, r.err_out, r.err_dq, r.err_dk, r.err_dv,
                r.pass(tolerance) ? "pass" : "FAIL");
    nlohmann::ordered_json heads = nlohmann::ordered_json::array();
    for (const Sample& s : r.samples) heads.push_back({s.b, s.h});
    auto finite = [](double x) { return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr); };
    j["cases"][r.c->name] = {{"head_dim", r.c->D},           {"docs", r.c->docs},
                             {"alibi", r.c->alibi},          {"mup_scale", r.c->mup},
                             {"fwd_ms", r.fwd_ms},           {"bwd_ms", r.bwd_ms},
                             {"fwd_tflops", r.fwd_tflops},   {"bwd_tflops", r.bwd_tflops},
                             {"max_rel_err", finite(r.max_rel_err())},
                             {"rel_err", {{"out", finite(r.err_out)}, {"dq", finite(r.err_dq)},
                                          {"dk", finite(r.err_dk)}, {"dv", finite(r.err_dv)}}},
                             {"checked_heads", heads},       {"pass", r.pass(tolerance)}};
  }
  j["pass"] = all;
  write_json(o, j);
  return all ? 0 : 1;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  kiln::Options o;
  std::string why;
  if (!kiln::parse(argc, argv, o, why)) return kiln::usage(why.c_str());
  try {
    return kiln::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_attention_check: %s\n", e.what());
    return 2;
  }
}
