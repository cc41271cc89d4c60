// Fully connected layer, weights stored [out, in] as PyTorch's nn.Linear and Hugging Face
// checkpoints store them (so a checkpoint tensor maps onto kiln's buffer without a transpose):
//
//   out[n, o] = Σ_i inp[n, i]·weight[o, i] + bias[o]        i.e. out = inp · weightᵀ + bias
//
// Layouts (row-major): inp, dinp [N, IC]; out, dout [N, OC]; weight, dweight [OC, IC];
// bias, dbias [OC]. N = tokens, IC / OC = input / output channels.
//
// The products go through OpenBLAS (cblas_sgemm for float, cblas_dgemm for double; link
// -lopenblas): this is the one place where a naive loop would make CPU tests and small runs
// unbearably slow. BLAS uses its own threads; call these functions from outside OpenMP parallel
// regions. The reduction order inside a GEMM is the library's, fixed for a given library build
// and thread count.
//
// Gradient convention (all of kernels/cpu): backward ACCUMULATES (+=) into dinp, dweight and
// dbias; the caller zeroes them before their first contribution. Gradient outputs must not alias
// any input.
#pragma once

namespace kiln::cpu {

// out = inp · weightᵀ + bias. OVERWRITES out, which must not alias inp or weight. bias may be null
// (a linear without bias).
template <typename Real>
void linear_forward(Real* out, const Real* inp, const Real* weight, const Real* bias, int N,
                    int IC, int OC);

//   dinp    += dout · weight         [N, IC]   (skipped when dinp is null)
//   dweight += doutᵀ · inp           [OC, IC]  (skipped when dweight is null: a frozen weight)
//   dbias   += Σ_n dout[n, :]        [OC]      (skipped when dbias is null: no bias); summed in
//                                              row order whatever the number of threads
// inp is the forward pass's input (needed for dweight only; may be null when dweight is null).
template <typename Real>
void linear_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                     const Real* weight, int N, int IC, int OC);

// out[n, o] += bias[o] for n < N, o < OC: the bias of a row-parallel linear under tensor
// parallelism, added once to the all-reduced output (docs/tensor-parallel.md). Its gradient is
// the column sum of dout, which linear_backward's dbias computes (call it with dinp and dweight
// null, or pass dbias to the weight's own linear_backward). In place on out.
template <typename Real>
void bias_add_forward(Real* out, const Real* bias, int N, int OC);

}  // namespace kiln::cpu
