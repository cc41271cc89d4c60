// The GPT-NeoX-style decoder (StableLM, BTLM): explicit forward and backward, every op through an
// Ops backend (ops/ops.h), CpuOps unless the caller hands in another.
//
//   x_0     = embed(tokens) · embeddings_scale                      (scale: µP only, else 1)
//   x_l+1   = block_l(x_l)                                          (block.h)
//   logits  = norm(x_L) · Wᵀ,  W = lm_head, or embed_tokens when tied
//   loss    = Σ_n mask[n] · CE(logits[n] · logit_scale, target[n])  (logit_scale: µP's
//                                                                     output_alpha · width_scale)
//
// Memory: the constructor plans one activation arena for a micro batch of up to max_batch rows
// of `seq` tokens, holding what backward needs per layer (block.h: BlockSaved), the residual
// stream x_0 .. x_L, the final norm's output and statistics, the [N, V] logits (which the
// cross-entropy overwrites in place with d loss / d logits) and the per-token losses; plus one
// set of gradient scratch that all layers share. Everything is allocated there, once; forward,
// backward and evaluate allocate nothing.
//
// Parameters and gradients are flat buffers in the layout of registry() (param_names.h), which
// the caller allocates (registry().total_numel() elements) and owns. The decoder only keeps
// offsets into them.
//
// Tensor parallelism (docs/tensor-parallel.md): given a TensorParallel context of size > 1, the
// decoder holds this rank's shards (layout(): the local registry and the map to global tensors),
// runs H/tp heads, ffn/tp MLP columns and Vpad/tp vocabulary entries, and makes the TP group's
// collectives itself. Every rank of the group calls forward/backward/evaluate together with the
// same batch; each returns the same loss and token losses. Its logits stay [N, Vpad/tp].
//
// Not thread-safe: one Decoder runs one micro batch at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "data/batch.h"
#include "model/block.h"
#include "model/param_layout.h"
#include "model/tensor_parallel.h"
#include "ops/ops.h"
#include "tensor/param_registry.h"

namespace kiln {

// Activation recomputation (train.recompute, train.recompute_layers): layers [0, layers) recompute
// under `mode`, the others keep every activation. selective keeps everything but the MLP
// intermediates (gate, up, act), which backward recomputes from the saved LN2 output into one
// buffer all such layers share; full keeps only the layer's input (the residual stream, kept
// anyway) and backward reruns the layer's forward into one shared set of activations. The
// forward ops are deterministic, so gradients are bit for bit those without recomputation.
struct Recomputation {
  Recompute mode = Recompute::none;
  int layers = 0;
};

template <class Real>
class Decoder {
 public:
  using Acc = Accum<Real>;  // scalars, statistics and losses: fp32 when Real is bf16

  // `model` as the loader produces it (optionals engaged). Batches may have up to max_batch rows
  // and up to seq tokens per row. Throws std::invalid_argument for max_batch or seq < 1.
  // `ops` runs every op (the decoder keeps it, and prepares its rotary table or ALiBi slopes);
  // nullptr means a CpuOps. Parameters, gradients and the batch's arrays must then live where
  // ops.device() says.
  // `tp`: the tensor-parallel group (default: none); throws std::invalid_argument as
  // validate_tensor_parallel does for a context that cannot split this model.
  // `recompute`: see Recomputation; throws std::invalid_argument for layers outside
  // [0, num_layers].
  Decoder(const ModelConfig& model, int max_batch, int seq, std::unique_ptr<Ops<Real>> ops = nullptr,
          TensorParallel tp = {}, Recomputation recompute = {});
  // The arena holds pointers into itself and the spec points at members: no copies, no moves.
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // The flat layout of parameters and gradients: this rank's shards under TP.
  const ParamRegistry& registry() const { return layout_.registry(); }
  // The registry together with each tensor's global shape and split (tensor_parallel.h).
  const TpLayout& layout() const { return layout_; }
  const TensorParallel& tensor_parallel() const { return tp_; }

  // Runs the model on `batch` and returns Σ_n mask[n]·loss[n] over its tokens (in double, in token
  // order). Saves what backward() needs and leaves d loss / d logits in place, computed for the
  // loss Σ_n mask[n]·loss[n] · dloss_scale: the trainer passes 1 / (unmasked tokens in the whole
  // optimizer step), so that gradients summed over micro batches are those of the mean loss.
  //
  // The batch's arrays must stay unchanged until backward() has run: backward reads the tokens,
  // position ids and document ids again instead of copying them. Position ids must lie in
  // [0, max_position_embeddings) when positions are rotary; tokens in [0, padded_vocab());
  // unmasked targets likewise. With position_ids null, positions are 0 .. T−1 in every row;
  // with doc_ids null, every row is one document.
  double forward(const Real* params, const BatchView& batch, Acc dloss_scale);

  // ACCUMULATES d loss / d params (for the loss forward() described) into `grads`, which has the
  // registry's layout. Requires a forward() since the last evaluate(); throws std::logic_error
  // otherwise. Calling it twice adds the gradients twice.
  void backward(const Real* params, Real* grads);

  // The summed masked loss, as forward() returns it, without preparing a backward pass.
  double evaluate(const Real* params, const BatchView& batch);

  // Per-token losses of the last forward() or evaluate(), [B, T] row-major (0 where masked), in
  // the backend's memory.
  const Acc* token_losses() const { return losses_; }

  // The logits of the last evaluate(), [B·T, V_local] row-major (this rank's vocabulary block
  // under TP, padded entries included), before µP's logit scale. evaluate()'s cross-entropy only
  // reads them; after forward() the same memory holds d loss / d logits instead.
  const Real* logits() const { return logits_; }

  // The backend that runs the model's ops.
  Ops<Real>& ops() { return *ops_; }

  // Bytes of the activation arena (saved activations and gradient scratch), allocated once through
  // the ops backend at construction.
  int64_t arena_bytes() const { return arena_bytes_; }

 private:
  double run_forward(const Real* params, const BatchView& batch, bool for_backward, Acc dloss_scale);

  ModelConfig model_;
  int max_batch_, seq_;
  int C_, H_, D_, F_, V_;
  TensorParallel tp_;
  int H_local_, A_local_, F_local_, V_local_, vocab_begin_;  // this rank's heads, q/k/v width, MLP width, vocabulary
  Acc emb_scale_, logit_scale_;
  TpLayout layout_;
  ModelParamOffsets offsets_;
  std::unique_ptr<Ops<Real>> ops_;
  BlockSpec<Real> spec_;

  // Every activation and scratch tensor below points into one arena of arena_bytes_, allocated
  // through ops_ (host or device memory); the decoder touches it only through ops_.
  int64_t arena_bytes_ = 0;
  std::vector<Real*> residual_;      // x_0 .. x_L, [N, C] each
  std::vector<BlockSaved<Real>> saved_;
  std::vector<Recompute> layer_recompute_;  // per layer: none, selective or full
  BlockSaved<Real> shared_;                 // the recomputing layers' shared activations
  BlockScratch<Real> scratch_;
  Real* lnf_;
  Acc *lnf_mean_, *lnf_rstd_;
  Real* logits_;                     // [N, V_local]; d logits after forward()
  Acc* ce_stats_;                    // [3N] the vocab-parallel cross-entropy's statistics (TP only)
  Acc* losses_;                      // [N]
  Real* mask_;                       // [N] the batch's loss mask in Real, as the kernel takes it
  Real *dres_, *dlnf_;               // [N, C] gradient scratch of the residual stream / final norm
  int32_t* default_positions_;       // [N]: 0 .. seq−1 per row, for batches without position ids

  BatchView batch_;                  // the last forward()'s batch, read again by backward()
  BlockBatch block_batch_;
  bool ready_for_backward_ = false;
};

extern template class Decoder<float>;
extern template class Decoder<double>;
extern template class Decoder<bf16>;

}  // namespace kiln
