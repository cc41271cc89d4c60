// Fused softmax + cross-entropy over the vocabulary, forward and backward in one call.
//
// For each token n with mask weight w = mask[n] (1 when mask is null), target t = targets[n] and
// scaled logits z = logit_scale · logits[n, :]:
//
//   loss[n]       = w · (log Σ_v e^z[v] − z[t])
//   dlogits[n, v] = w · dloss_scale · logit_scale · (softmax(z)[v] − [v == t])
//
// and the function returns Σ_n loss[n].
//
// Why fused: the [N, V] logits are the largest activation in the model (V = 50k–100k), and the
// gradient of the loss with respect to them is a closed form of the softmax. Computing it in the
// same pass means no [N, V] probability buffer, and dlogits may even overwrite the logits in
// place, as llm.c's fused classifier does.
//
// The loss gradient is produced here, not by a separate backward call: the caller knows the
// normaliser before the forward pass runs (dloss_scale = 1 / the number of unmasked tokens of the
// whole optimizer step, i.e. also divided by the micro-batch count), so "d(mean loss)/dlogits"
// falls out directly. The returned sum is NOT multiplied by dloss_scale.
//
// logit_scale is µP's output multiplier, mup_output_alpha · mup_width_scale (2.22 · 0.1 = 0.222
// for BTLM, SPEC.md §3), and 1 without µP. It is applied here, to the LM head's output just
// before the softmax, so the LM head stays a plain linear layer and no extra pass over [N, V]
// scales the logits. logits is therefore the UNscaled LM-head output, and dlogits is the gradient
// with respect to it (it includes the factor logit_scale), ready for linear_backward.
//
// Masking: mask[n] is the per-token loss weight, 0 or 1 in practice (document boundaries,
// padding, prompt tokens). A token with mask 0 is skipped entirely: its target is not read for
// indexing and may be anything (−1, −100, V), its logits may even be non-finite, and its loss and
// dlogits row are 0. An unmasked token whose target lies outside [0, V) is a bug in the caller,
// asserted in debug builds. Padded vocabulary entries (V rounded up to a multiple of 64) are
// ordinary logits here and take part in the softmax, as in GPT-NeoX and Hugging Face.
//
// Numerics: the softmax subtracts the row maximum of z before exponentiating, so no logit
// magnitude overflows. Math is in Real per row; the returned sum is accumulated in double, in
// row order, so it does not depend on the number of threads.
//
// Layouts (row-major): logits, dlogits [N, V]; targets, mask, losses [N]. Under tensor
// parallelism the vocabulary is split across ranks; this kernel is the single-rank form, and the
// vocab-parallel form (the row max and sum reduced across ranks) is the three kernels at the end.
#pragma once

#include <cstdint>

namespace kiln::cpu {

// Returns Σ_n loss[n] and OVERWRITES losses[n] = loss[n] (losses is required: the sum is taken
// over it afterwards, which is what keeps the sum's order fixed). If dlogits is not null it is
// OVERWRITTEN with the gradient above (not accumulated: this is where the backward pass starts);
// dlogits may be exactly logits (in place), and must not otherwise overlap it. Pass dlogits null
// for evaluation (loss only). mask may be null (every token counts with weight 1).
template <typename Real>
double softmax_cross_entropy(Real* dlogits, Real* losses, const Real* logits,
                             const int32_t* targets, const Real* mask, int N, int V,
                             Real logit_scale, Real dloss_scale);

// ---- vocab-parallel form (Megatron's vocab_parallel_cross_entropy) ----
//
// Under tensor parallelism rank r holds the logits of vocabulary entries [vocab_begin,
// vocab_begin + V_local) only: logits [N, V_local]. The full [N, V] row is never gathered; three
// per-row statistics are reduced across the TP group instead, by the caller between the three
// calls below (kernels do no communication):
//
//   1. vocab_parallel_ce_max:  row_max[n] = max_v z[n, v] over the local entries
//                              → all-reduce MAX over the group
//   2. vocab_parallel_ce_sums: sums[n]     = Σ_v e^(z[n, v] − row_max[n]) over the local entries,
//                              sums[N + n] = z[n, t] if the target t is local, else 0
//                              → all-reduce SUM over the group (one call on the [2N] buffer)
//   3. vocab_parallel_ce_finish: loss[n] = w · (row_max + log sums[n] − sums[N + n]) and
//                              dlogits[n, v] = w·dloss_scale·logit_scale·(softmax − onehot) on the
//                              local entries; returns Σ_n loss[n] (identical on every rank).
//
// z = logit_scale · logits as in softmax_cross_entropy; masked rows (w = 0) get row_max 0, sums
// 0, loss 0 and a zero dlogits row, and their targets are never read. With one rank
// (vocab_begin 0, V_local = V) the result equals softmax_cross_entropy's up to rounding (the
// exponentials are recomputed in step 3 rather than parked). Steps 1–2 OVERWRITE row_max / sums;
// step 3 OVERWRITES losses and, if not null, dlogits, which may be exactly logits (in place).
template <typename Real>
void vocab_parallel_ce_max(Real* row_max, const Real* logits, const Real* mask, int N, int V_local,
                           Real logit_scale);

template <typename Real>
void vocab_parallel_ce_sums(Real* sums, const Real* logits, const int32_t* targets, const Real* mask,
                            const Real* row_max, int N, int V_local, int vocab_begin, Real logit_scale);

template <typename Real>
double vocab_parallel_ce_finish(Real* dlogits, Real* losses, const Real* logits, const int32_t* targets,
                                const Real* mask, const Real* row_max, const Real* sums, int N, int V_local,
                                int vocab_begin, Real logit_scale, Real dloss_scale);

}  // namespace kiln::cpu
