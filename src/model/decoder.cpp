#include "model/decoder.h"

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "model/param_names.h"
#include "ops/cpu_ops.h"

namespace kiln {
namespace {

// Lays tensors out in one arena: each take() reserves n elements of its type, starting on a
// 256-byte boundary (a cache line on the CPU, the widest vector load and cuBLASLt's preferred
// alignment on the GPU), and remembers which pointer to aim at them; bind() aims them all once the
// arena exists. Planning before allocating is what lets the whole arena be one allocation, of a
// size known up front, made through the ops backend (host or device memory alike).
class ArenaPlan {
 public:
  template <class T>
  void take(T*& slot, int64_t n) {
    const int64_t offset = bytes_;
    binders_.emplace_back([&slot, offset](std::byte* base) { slot = reinterpret_cast<T*>(base + offset); });
    bytes_ += (n * static_cast<int64_t>(sizeof(T)) + 255) / 256 * 256;
  }
  int64_t bytes() const { return bytes_; }
  void bind(void* base) const {
    for (const auto& b : binders_) b(static_cast<std::byte*>(base));
  }

 private:
  std::vector<std::function<void(std::byte*)>> binders_;
  int64_t bytes_ = 0;
};

template <class Real>
std::unique_ptr<Ops<Real>> default_ops() {
  if constexpr (std::is_same_v<Real, bf16>) {
    throw std::invalid_argument("Decoder<bf16>: bf16 storage needs a device backend (CudaOps); there is no CPU bf16 Ops");
  } else {
    return std::make_unique<CpuOps<Real>>();
  }
}

}  // namespace

template <class Real>
Decoder<Real>::Decoder(const ModelConfig& model, int max_batch, int seq, std::unique_ptr<Ops<Real>> ops,
                       TensorParallel tp, Recomputation recompute)
    : model_(model),
      max_batch_(max_batch),
      seq_(seq),
      C_(static_cast<int>(model.hidden_size)),
      H_(static_cast<int>(model.num_heads)),
      D_(static_cast<int>(model.head_dim())),
      F_(static_cast<int>(model.ffn())),
      V_(static_cast<int>(model.padded_vocab())),
      tp_((validate_tensor_parallel(model, tp), tp.size > 1 ? tp : TensorParallel{})),
      H_local_(H_ / tp_.size),
      A_local_(H_local_ * D_),
      F_local_(F_ / tp_.size),
      V_local_(V_ / tp_.size),
      vocab_begin_(tp_.rank * V_local_),
      emb_scale_(static_cast<Acc>(model.mup.enabled ? model.mup.embeddings_scale : 1.0)),
      logit_scale_(static_cast<Acc>(model.mup.enabled ? model.mup.output_alpha * model.mup_width_scale() : 1.0)),
      layout_(model, tp_.rank, tp_.size),
      offsets_(resolve_param_offsets(layout_.registry(), model)),
      ops_(ops ? std::move(ops) : default_ops<Real>()) {
  if (max_batch < 1 || seq < 1) {
    throw std::invalid_argument("Decoder: max_batch (" + std::to_string(max_batch) + ") and seq (" +
                                std::to_string(seq) + ") must be at least 1");
  }
  if (recompute.layers < 0 || recompute.layers > model.num_layers) {
    throw std::invalid_argument("Decoder: " + std::to_string(recompute.layers) + " recomputing layers of a " +
                                std::to_string(model.num_layers) + "-layer model");
  }
  const bool rotary = model.positions == PositionType::rotary;
  if (rotary) {
    ops_->prepare_rotary(static_cast<int>(model.rotary_dims()), static_cast<int>(model.max_position_embeddings.value()),
                         model.rotary_theta);
  }
  // The slopes of this rank's heads: global heads [rank·H/tp, (rank + 1)·H/tp).
  const Acc* alibi_slopes =
      model.positions == PositionType::alibi ? ops_->prepare_alibi(H_, tp_.rank * H_local_, H_local_) : nullptr;
  const bool qk_by_d = model.mup.enabled && model.mup.scale_qk_dot_by_d;
  spec_ = {C_,
           H_local_,
           D_,
           F_local_,
           model.norm,
           static_cast<Acc>(model.norm_eps),
           model.activation,
           model.parallel_residual,
           static_cast<Acc>(attention_scale(D_, qk_by_d)),
           rotary,
           alibi_slopes,
           A_local_,
           tp_.enabled() ? tp_.comm : nullptr};

  // ---- plan the arena ----
  const int64_t L = model.num_layers;
  const int64_t N = static_cast<int64_t>(max_batch) * seq;
  const int64_t NC = N * C_, NF = N * F_local_, NA = N * A_local_;
  const int64_t attn_saved = ops_->attention_saved_elements(max_batch, H_local_, seq);
  const bool swiglu = model.activation == Activation::swiglu;

  ArenaPlan plan;
  residual_.assign(static_cast<size_t>(L + 1), nullptr);
  for (Real*& x : residual_) plan.take(x, NC);
  saved_.assign(static_cast<size_t>(L), BlockSaved<Real>{});
  layer_recompute_.assign(static_cast<size_t>(L), Recompute::none);
  for (int l = 0; l < recompute.layers; ++l) layer_recompute_[static_cast<size_t>(l)] = recompute.mode;
  auto recomputing = [&](Recompute mode) {
    for (Recompute r : layer_recompute_)
      if (r == mode) return true;
    return false;
  };
  // What a layer keeps: everything (none), all but the MLP intermediates (selective), or nothing
  // of its own (full: its input is residual_[l]). The shared set holds what the recomputing layers
  // do not keep: a whole layer's worth when some layer recomputes in full, else the MLP
  // intermediates alone.
  auto take_saved = [&](BlockSaved<Real>& s, bool attention_and_norms, bool mlp) {
    if (attention_and_norms) {
      plan.take(s.ln1, NC);
      plan.take(s.ln1_mean, N);
      plan.take(s.ln1_rstd, N);
      plan.take(s.q, NA);
      plan.take(s.k, NA);
      plan.take(s.v, NA);
      plan.take(s.attn_saved, attn_saved);
      plan.take(s.att, NA);
      plan.take(s.mid, NC);
      plan.take(s.ln2, NC);
      plan.take(s.ln2_mean, N);
      plan.take(s.ln2_rstd, N);
    }
    if (mlp) {
      plan.take(s.gate, swiglu ? NF : 0);
      plan.take(s.up, NF);
      plan.take(s.act, NF);
    }
  };
  const bool any_full = recomputing(Recompute::full);
  shared_ = BlockSaved<Real>{};
  if (any_full || recomputing(Recompute::selective)) take_saved(shared_, any_full, true);
  for (size_t l = 0; l < saved_.size(); ++l) {
    const Recompute r = layer_recompute_[l];
    if (r != Recompute::full) take_saved(saved_[l], true, r == Recompute::none);
  }
  plan.take(lnf_, NC);
  plan.take(lnf_mean_, N);
  plan.take(lnf_rstd_, N);
  plan.take(logits_, N * V_local_);
  plan.take(ce_stats_, tp_.enabled() ? 3 * N : 0);
  plan.take(losses_, N);
  plan.take(mask_, N);
  // Gradient scratch: one set for the whole model, reused layer after layer.
  plan.take(dres_, NC);
  plan.take(dlnf_, NC);
  BlockScratch<Real>& sc = scratch_;
  plan.take(sc.dln, NC);
  plan.take(sc.datt, NA);
  plan.take(sc.dq, NA);
  plan.take(sc.dk, NA);
  plan.take(sc.dv, NA);
  plan.take(sc.dq_rot, rotary ? NA : 0);
  plan.take(sc.dk_rot, rotary ? NA : 0);
  plan.take(sc.dact, NF);
  plan.take(sc.dgate, swiglu ? NF : 0);
  plan.take(sc.dup, NF);

  plan.take(default_positions_, N);

  arena_bytes_ = plan.bytes();
  plan.bind(ops_->allocate(static_cast<size_t>(arena_bytes_)));
  for (size_t l = 0; l < saved_.size(); ++l) {
    BlockSaved<Real>& s = saved_[l];
    if (layer_recompute_[l] == Recompute::full) {
      s = shared_;
    } else if (layer_recompute_[l] == Recompute::selective) {
      s.gate = shared_.gate, s.up = shared_.up, s.act = shared_.act;
    }
  }
}

template <class Real>
double Decoder<Real>::run_forward(const Real* params, const BatchView& batch, bool for_backward, Acc dloss_scale) {
  if (batch.batch < 1 || batch.batch > max_batch_ || batch.seq < 1 || batch.seq > seq_) {
    throw std::invalid_argument("Decoder: a batch of " + std::to_string(batch.batch) + " × " +
                                std::to_string(batch.seq) + " tokens does not fit the planned " +
                                std::to_string(max_batch_) + " × " + std::to_string(seq_));
  }
  const int B = batch.batch, T = batch.seq, N = B * T;

  const int32_t* positions = batch.position_ids;
  if (!positions) {
    ops_->fill_positions(default_positions_, B, T);
    positions = default_positions_;
  }
  batch_ = batch;
  block_batch_ = {B, T, positions, batch.doc_ids};

  Ops<Real>& ops = *ops_;
  const int64_t NC = static_cast<int64_t>(N) * C_;
  if (tp_.enabled()) {  // vocab-parallel: each rank looks up its rows, zeros elsewhere; sum them
    ops.embedding_forward_vocab_range(residual_[0], batch.tokens, params + offsets_.embed, N, vocab_begin_, V_local_,
                                      C_, emb_scale_);
    tp_.comm->all_reduce(residual_[0], static_cast<size_t>(NC), comm_dtype<Real>(), ReduceOp::sum);
  } else {
    ops.embedding_forward(residual_[0], batch.tokens, params + offsets_.embed, N, V_, C_, emb_scale_);
  }
  for (size_t l = 0; l < saved_.size(); ++l) {
    block_forward(ops, residual_[l + 1], residual_[l], bind_layer(offsets_.layers[l], params), saved_[l], spec_,
                  block_batch_);
  }
  norm_forward(ops, model_.norm, lnf_, lnf_mean_, lnf_rstd_, residual_.back(), params + offsets_.norm_w,
               at_offset(params, offsets_.norm_b), N, C_, spec_.norm_eps);
  const int64_t head = offsets_.lm_head >= 0 ? offsets_.lm_head : offsets_.embed;  // tied: the embedding
  ops.linear_forward(logits_, lnf_, params + head, nullptr, N, C_, V_local_);

  if (batch.loss_mask)
    ops.convert(mask_, batch.loss_mask, N);
  else
    ops.fill(mask_, Acc(1), N);
  // In place: the logits are not needed once their gradient exists.
  if (tp_.enabled()) {  // vocab-parallel: [N, V/tp] logits, three statistics reduced per token
    return vocab_parallel_cross_entropy(ops, tp_.comm, for_backward ? logits_ : nullptr, losses_, logits_,
                                        batch.targets, mask_, N, V_local_, vocab_begin_, logit_scale_, dloss_scale,
                                        ce_stats_);
  }
  return ops.softmax_cross_entropy(for_backward ? logits_ : nullptr, losses_, logits_, batch.targets, mask_, N, V_,
                                   logit_scale_, dloss_scale);
}

template <class Real>
double Decoder<Real>::forward(const Real* params, const BatchView& batch, Acc dloss_scale) {
  ready_for_backward_ = false;  // stays false if run_forward throws
  const double loss = run_forward(params, batch, true, dloss_scale);
  ready_for_backward_ = true;
  return loss;
}

template <class Real>
double Decoder<Real>::evaluate(const Real* params, const BatchView& batch) {
  ready_for_backward_ = false;  // the arena now holds this batch, and no d logits
  return run_forward(params, batch, false, Acc(0));
}

template <class Real>
void Decoder<Real>::backward(const Real* params, Real* grads) {
  if (!ready_for_backward_) throw std::logic_error("Decoder::backward: no forward() to differentiate since the last evaluate()");
  const int N = block_batch_.B * block_batch_.T;
  const int64_t NC = static_cast<int64_t>(N) * C_;

  // LM head: logits_ holds d logits. Tied, its weight gradient lands in the embedding's.
  const int64_t head = offsets_.lm_head >= 0 ? offsets_.lm_head : offsets_.embed;
  Ops<Real>& ops = *ops_;
  ops.fill(dlnf_, Acc(0), NC);
  ops.linear_backward(dlnf_, grads + head, nullptr, logits_, lnf_, params + head, N, C_, V_local_);
  // The LM head is column-parallel over the vocabulary: sum the ranks' parts of d lnf.
  if (tp_.enabled()) tp_.comm->all_reduce(dlnf_, static_cast<size_t>(NC), comm_dtype<Real>(), ReduceOp::sum);

  ops.fill(dres_, Acc(0), NC);
  norm_backward(ops, model_.norm, dres_, grads + offsets_.norm_w, at_offset(grads, offsets_.norm_b), dlnf_,
                residual_.back(), params + offsets_.norm_w, lnf_mean_, lnf_rstd_, N, C_);

  for (size_t l = saved_.size(); l-- > 0;) {
    // Recomputation: regenerate what the layer did not keep, from its input (full) or from its
    // saved LN2 output (selective).
    if (layer_recompute_[l] == Recompute::full) {
      block_recompute(ops, residual_[l], bind_layer(offsets_.layers[l], params), saved_[l], spec_, block_batch_);
    } else if (layer_recompute_[l] == Recompute::selective) {
      block_recompute_mlp(ops, bind_layer(offsets_.layers[l], params), saved_[l], spec_, block_batch_);
    }
    block_backward(ops, dres_, bind_layer(offsets_.layers[l], grads), residual_[l],
                   bind_layer(offsets_.layers[l], params), saved_[l], scratch_, spec_, block_batch_);
  }
  if (tp_.enabled()) {
    ops.embedding_backward_vocab_range(grads + offsets_.embed, dres_, batch_.tokens, N, vocab_begin_, V_local_, C_,
                                       emb_scale_);
  } else {
    ops.embedding_backward(grads + offsets_.embed, dres_, batch_.tokens, N, V_, C_, emb_scale_);
  }
}

template class Decoder<float>;
template class Decoder<double>;
template class Decoder<bf16>;

}  // namespace kiln
