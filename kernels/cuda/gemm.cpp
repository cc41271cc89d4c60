#include "cuda/gemm.h"

#include <stdexcept>
#include <string>

#include "cuda/bias_grad.h"

namespace kiln::cuda {
namespace {

const char* kind_name(int kind) {
  switch (kind) {
    case 0: return "linear_forward";
    case 1: return "linear_backward (input gradient)";
    default: return "linear_backward (weight gradient)";
  }
}

std::string shape_text(int kind, int N, int IC, int OC, bool bias) {
  return std::string(kind_name(kind)) + " with N = " + std::to_string(N) + ", IC = " + std::to_string(IC) +
         ", OC = " + std::to_string(OC) + (bias ? ", with bias" : "");
}

void check(cublasStatus_t s, const char* call, int kind, int N, int IC, int OC, bool bias) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLASLt: ") + call + " failed in " + shape_text(kind, N, IC, OC, bias) +
                             ": " + cublasLtGetStatusName(s) + " (" + cublasLtGetStatusString(s) + ")");
}

// The largest power of two (at most 256, cuBLASLt's default assumption) dividing the address.
uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

// One GEMM in cuBLASLt's column-major terms: D[m, n] = op(A)·op(B) (+ beta·C), A stored
// a_rows × a_cols with leading dimension lda, and so on. See gemm.h for the derivations.
struct Shape {
  cublasOperation_t ta, tb;
  uint64_t a_rows, a_cols;
  int64_t lda;
  uint64_t b_rows, b_cols;
  int64_t ldb;
  uint64_t m, n;
  int64_t ldd;
};

Shape shape_of(int kind, int N, int IC, int OC) {
  const uint64_t n = static_cast<uint64_t>(N), ic = static_cast<uint64_t>(IC), oc = static_cast<uint64_t>(OC);
  switch (kind) {
    case 0:  // outᶜ[OC, N] = (weightᶜ[IC, OC])ᵀ · inpᶜ[IC, N]
      return {CUBLAS_OP_T, CUBLAS_OP_N, ic, oc, IC, ic, n, IC, oc, n, OC};
    case 1:  // dinpᶜ[IC, N] += weightᶜ[IC, OC] · doutᶜ[OC, N]
      return {CUBLAS_OP_N, CUBLAS_OP_N, ic, oc, IC, oc, n, OC, ic, n, IC};
    default:  // dweightᶜ[IC, OC] += inpᶜ[IC, N] · (doutᶜ[OC, N])ᵀ
      return {CUBLAS_OP_N, CUBLAS_OP_T, ic, n, IC, oc, n, OC, ic, oc, IC};
  }
}

struct Preference {
  cublasLtMatmulPreference_t p = nullptr;
  ~Preference() {
    if (p) cublasLtMatmulPreferenceDestroy(p);
  }
};

}  // namespace

struct GemmCache::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;  // C and D share d's layout
  cublasLtMatmulAlgo_t algo{};
  // False when the heuristic had no kernel with the bias epilogue for this shape: the bias is then
  // broadcast into the output first and the GEMM accumulates onto it (beta = 1).
  bool bias_epilogue = false;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

GemmCache::GemmCache(cublasLtHandle_t lt, void* workspace, size_t workspace_bytes)
    : lt_(lt), workspace_(workspace), workspace_bytes_(workspace_bytes) {}

GemmCache::~GemmCache() = default;

GemmCache::Plan& GemmCache::plan(const Key& key, const void* bias) {
  const auto found = plans_.find(key);
  if (found != plans_.end()) return *found->second;

  const int kind = std::get<0>(key), N = std::get<1>(key), IC = std::get<2>(key), OC = std::get<3>(key);
  const bool has_bias = std::get<4>(key);
  const Shape s = shape_of(kind, N, IC, OC);
  auto p = std::make_unique<Plan>();
  auto ok = [&](cublasStatus_t st, const char* call) { check(st, call, kind, N, IC, OC, has_bias); };

  ok(cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, s.a_rows, s.a_cols, s.lda), "cublasLtMatrixLayoutCreate(A)");
  ok(cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, s.b_rows, s.b_cols, s.ldb), "cublasLtMatrixLayoutCreate(B)");
  ok(cublasLtMatrixLayoutCreate(&p->d, CUDA_R_16BF, s.m, s.n, s.ldd), "cublasLtMatrixLayoutCreate(D)");

  Preference pref;
  ok(cublasLtMatmulPreferenceCreate(&pref.p), "cublasLtMatmulPreferenceCreate");
  const uint64_t max_workspace = workspace_bytes_;
  ok(cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_workspace,
                                          sizeof(max_workspace)),
     "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
  // Split-K only with fp32 partials in the workspace: the in-place and output-type schemes keep
  // partial sums in bf16, which would round each output more than once.
  const uint32_t reduction = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
  ok(cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reduction,
                                          sizeof(reduction)),
     "cublasLtMatmulPreferenceSetAttribute(REDUCTION_SCHEME_MASK)");
  const uint32_t align_a = std::get<5>(key), align_b = std::get<6>(key), align_d = std::get<7>(key);
  ok(cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                          sizeof(align_a)),
     "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_A_BYTES)");
  ok(cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                          sizeof(align_b)),
     "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_B_BYTES)");
  ok(cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d,
                                          sizeof(align_d)),
     "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_C_BYTES)");
  ok(cublasLtMatmulPreferenceSetAttribute(pref.p, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d,
                                          sizeof(align_d)),
     "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT_D_BYTES)");

  // The descriptor, with or without the bias epilogue; returns whether the heuristic found a kernel.
  auto build = [&](bool epilogue) {
    if (p->desc) {
      cublasLtMatmulDescDestroy(p->desc);
      p->desc = nullptr;
    }
    ok(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const int32_t ta = s.ta, tb = s.tb;
    ok(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)),
       "cublasLtMatmulDescSetAttribute(TRANSA)");
    ok(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)),
       "cublasLtMatmulDescSetAttribute(TRANSB)");
    if (epilogue) {
      const uint32_t ep = CUBLASLT_EPILOGUE_BIAS;
      ok(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof(ep)),
         "cublasLtMatmulDescSetAttribute(EPILOGUE)");
      const int32_t bias_type = CUDA_R_16BF;
      ok(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                        sizeof(bias_type)),
         "cublasLtMatmulDescSetAttribute(BIAS_DATA_TYPE)");
      // The heuristic reads the pointer's alignment (not its data); calls set their own pointer.
      ok(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
         "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
    }
    cublasLtMatmulHeuristicResult_t result{};
    int found_count = 0;
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(lt_, p->desc, p->a, p->b, p->d, p->d, pref.p, 1, &result, &found_count);
    if (st == CUBLAS_STATUS_SUCCESS && found_count > 0 && result.state != CUBLAS_STATUS_SUCCESS) found_count = 0;
    // With the epilogue, "not supported" means: try without it. Without it, it is an error.
    if (epilogue && (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found_count == 0)))
      return false;
    ok(st, "cublasLtMatmulAlgoGetHeuristic");
    if (found_count == 0)
      throw std::runtime_error("cuBLASLt: no algorithm for " + shape_text(kind, N, IC, OC, has_bias));
    p->algo = result.algo;
    return true;
  };
  p->bias_epilogue = has_bias && build(true);
  if (!p->bias_epilogue) build(false);

  Plan& ref = *p;
  plans_.emplace(key, std::move(p));
  return ref;
}

void GemmCache::run(Kind kind_enum, void* d, const void* a, const void* b, const void* bias, int N, int IC, int OC,
                    cudaStream_t stream) {
  const int kind = static_cast<int>(kind_enum);
  const bool has_bias = bias != nullptr;
  const Key key{kind, N, IC, OC, has_bias, alignment_of(a), alignment_of(b), alignment_of(d),
                has_bias ? alignment_of(bias) : 0u};
  Plan& p = plan(key, bias);
  auto ok = [&](cublasStatus_t st, const char* call) { check(st, call, kind, N, IC, OC, has_bias); };

  // Forward overwrites (beta = 0: cuBLASLt does not read C); the gradients accumulate (beta = 1).
  float beta = kind_enum == Kind::forward ? 0.0f : 1.0f;
  if (has_bias) {
    if (p.bias_epilogue) {
      ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
         "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
    } else {
      bias_broadcast_rows(static_cast<__nv_bfloat16*>(d), static_cast<const __nv_bfloat16*>(bias), N, OC, stream);
      beta = 1.0f;
    }
  }
  const float alpha = 1.0f;
  ok(cublasLtMatmul(lt_, p.desc, &alpha, a, p.a, b, p.b, &beta, d, p.d, d, p.d, &p.algo, workspace_,
                    workspace_bytes_, stream),
     "cublasLtMatmul");
}

void GemmCache::linear_forward(__nv_bfloat16* out, const __nv_bfloat16* inp, const __nv_bfloat16* weight,
                               const __nv_bfloat16* bias, int N, int IC, int OC, cudaStream_t stream) {
  run(Kind::forward, out, weight, inp, bias, N, IC, OC, stream);
}

void GemmCache::linear_backward_input(__nv_bfloat16* dinp, const __nv_bfloat16* dout, const __nv_bfloat16* weight,
                                      int N, int IC, int OC, cudaStream_t stream) {
  run(Kind::backward_input, dinp, weight, dout, nullptr, N, IC, OC, stream);
}

void GemmCache::linear_backward_weight(__nv_bfloat16* dweight, const __nv_bfloat16* dout, const __nv_bfloat16* inp,
                                       int N, int IC, int OC, cudaStream_t stream) {
  run(Kind::backward_weight, dweight, inp, dout, nullptr, N, IC, OC, stream);
}

}  // namespace kiln::cuda
