// LayerNorm and RMSNorm over the channels of each row.
//
// LayerNorm (StableLM and BTLM, eps 1e-5; with bias, though Stable LM 2's published parameter
// count implies weight-only per-layer norms, SPEC.md §1, hence the optional bias):
//
//   mean = Σ_c x[c] / C,   var = Σ_c (x[c] − mean)² / C   (biased, as torch),
//   rstd = 1 / sqrt(var + eps),   out[c] = (x[c] − mean)·rstd·weight[c] + bias[c]
//
// RMSNorm (no mean subtraction, no bias):
//
//   rstd = 1 / sqrt(Σ_c x[c]² / C + eps),   out[c] = x[c]·rstd·weight[c]
//
// The forward pass saves the per-row statistics (mean and rstd, or rstd) so that backward needs
// no second reduction to recover them; they are N numbers, small next to the [N, C] input that
// backward also needs.
//
// Layouts (row-major): inp, out, dinp, dout [N, C]; weight, bias, dweight, dbias [C];
// mean, rstd [N]. Math is in Real (fp32 for the product, as on the GPU).
//
// Gradient convention (all of kernels/cpu): backward ACCUMULATES (+=) into dinp, dweight and
// dbias; the caller zeroes them before their first contribution. Gradient outputs must not alias
// any input. dweight and dbias sum over rows in row order whatever the number of threads, so
// results are bitwise reproducible.
#pragma once

namespace kiln::cpu {

// OVERWRITES out (which must not alias inp), and mean[n], rstd[n] if they are not null (pass null
// for both when no backward pass follows, e.g. in evaluation). bias may be null (no bias).
template <typename Real>
void layernorm_forward(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* weight,
                       const Real* bias, int N, int C, Real eps);

// With x̂ = (x − mean)·rstd and g = dout·weight (the gradient with respect to x̂):
//   dinp[c]    += rstd · (g[c] − mean_c(g) − x̂[c]·mean_c(g·x̂))
//   dweight[c] += Σ_n dout[n, c]·x̂[n, c]
//   dbias[c]   += Σ_n dout[n, c]            (skipped when dbias is null: a norm without bias)
// mean and rstd are the ones the forward pass saved for this inp.
template <typename Real>
void layernorm_backward(Real* dinp, Real* dweight, Real* dbias, const Real* dout, const Real* inp,
                        const Real* weight, const Real* mean, const Real* rstd, int N, int C);

// OVERWRITES out (which must not alias inp), and rstd[n] if rstd is not null.
template <typename Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* weight, int N, int C,
                     Real eps);

// With x̂ = x·rstd and g = dout·weight:
//   dinp[c]    += rstd · (g[c] − x̂[c]·mean_c(g·x̂))
//   dweight[c] += Σ_n dout[n, c]·x̂[n, c]
template <typename Real>
void rmsnorm_backward(Real* dinp, Real* dweight, const Real* dout, const Real* inp,
                      const Real* weight, const Real* rstd, int N, int C);

}  // namespace kiln::cpu
