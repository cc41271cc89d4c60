// Megatron-style tensor parallelism for the decoder (docs/tensor-parallel.md).
//
// A TP group of `size` ranks runs one model together. Every rank holds a shard of each split
// tensor and a full copy of each replicated one:
//
//   tensor                                   split            local shape
//   model.embed_tokens.weight, lm_head       dim 0 (vocab)    [Vpad/tp, d]
//   q/k/v_proj.weight, their biases          dim 0 (heads)    [d/tp, d], [d/tp]   (H/tp whole heads)
//   gate/up_proj.weight, their biases        dim 0 (ffn)      [f/tp, d], [f/tp]
//   o_proj.weight, down_proj.weight          dim 1 (input)    [d, d/tp], [d, f/tp]
//   o_proj.bias, down_proj.bias, all norms   replicated       (added once, after the all-reduce)
//
// Rank r holds the r-th contiguous block along the split dimension (heads r·H/tp …, vocabulary
// rows r·Vpad/tp …). Names stay the global ones; the registry of a TP rank has the LOCAL shapes,
// and TpLayout is the side table that maps each local tensor back to its global one.
//
// Collectives (the decoder makes them through the Communicator; no op communicates):
//   forward   all-reduce after o_proj and down_proj (row-parallel), after the embedding lookup;
//             all-reduce MAX and SUM of three per-token statistics in the cross-entropy
//   backward  all-reduce of the input gradient of every column-parallel group: the LN1 output's
//             (Q/K/V), the LN2 output's (gate/up) and the final norm output's (LM head)
// so the gradients of replicated tensors come out identical on every rank of the group and need
// no reduction of their own.
#pragma once

#include <type_traits>

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "dist/communicator.h"
#include "ops/ops.h"
#include "tensor/param_registry.h"
#include "tensor/tensor_view.h"

namespace kiln {

// The tensor-parallel context a Decoder runs in. The default is no tensor parallelism.
// comm is the TP group (ProcessGrid::tp); it must be set when size > 1, with comm->rank() == rank
// and comm->size() == size. With size == 1 comm is ignored and nothing communicates.
struct TensorParallel {
  int rank = 0, size = 1;
  Communicator* comm = nullptr;

  bool enabled() const { return size > 1; }
  // The context of the group `tp` (e.g. *grid.tp).
  static TensorParallel of(Communicator& tp) { return {tp.rank(), tp.size(), &tp}; }
};

// Throws std::invalid_argument unless 0 ≤ rank < size, comm is set when size > 1 and agrees with
// rank and size, and size divides num_heads, ffn and padded_vocab.
void validate_tensor_parallel(const ModelConfig& model, const TensorParallel& tp);

// The Communicator dtype of Real (fp32 for float, fp64 for double, bf16 for bf16).
template <class Real>
constexpr CommDType comm_dtype() {
  if constexpr (std::is_same_v<Real, bf16>) return CommDType::bf16;
  return sizeof(Real) == 4 ? CommDType::fp32 : CommDType::fp64;
}

// How one tensor of a TP rank relates to the global tensor.
struct ParamShard {
  Shape global_shape;
  int split_dim = -1;        // −1: replicated; 0 or 1: split along that dimension
  int64_t begin = 0;         // first global index along split_dim held by this rank (0 if replicated)
  bool counts_in_norm = true;  // split tensors on every rank; replicated ones on tp rank 0 only

  bool replicated() const { return split_dim < 0; }
};

// The dimension along which tensor `name` is split under TP (−1: replicated); the table above.
// Throws std::invalid_argument for a name that is not a decoder parameter.
int tp_split_dim(std::string_view name);

// A flat element range [begin, end).
struct ElementRange {
  int64_t begin = 0, end = 0;
  friend bool operator==(const ElementRange&, const ElementRange&) = default;
};

// The layout of one TP rank: its local registry and, per tensor (same index), the shard table.
class TpLayout {
 public:
  // Throws as validate_tensor_parallel for a bad split (the communicator is not needed here).
  TpLayout(const ModelConfig& model, int tp_rank = 0, int tp_size = 1);

  int tp_rank() const { return rank_; }
  int tp_size() const { return size_; }

  // This rank's tensors: global names, local shapes, registration order as the tp = 1 layout.
  const ParamRegistry& registry() const { return local_; }
  // The tp = 1 layout (global shapes), e.g. of a gathered buffer or a checkpoint.
  const ParamRegistry& global_registry() const { return global_; }

  // Shard info of registry() entry `index` (or by name).
  const ParamShard& shard(size_t index) const { return shards_.at(index); }
  const ParamShard& shard(std::string_view name) const { return shards_.at(local_.index_of(name)); }

  // Row-major index in the GLOBAL tensor of element `local_element` of local tensor `index`.
  int64_t global_element(size_t index, int64_t local_element) const;

  // Local flat ranges whose squared gradients this rank adds to the global gradient norm: every
  // tensor on tp rank 0; only split tensors on the others (replicated tensors' gradients are
  // identical on all ranks of the group, so each is counted once). Sorted, disjoint; adjacent
  // counted tensors are merged across the zero alignment padding between them (zero adds nothing
  // to a sum of squares). Summing Σ g² over these ranges on every rank of the TP group (and over
  // DP shards) and all-reducing gives the norm of the tp = 1 model's gradient.
  std::vector<ElementRange> norm_ranges() const;
  // norm_ranges() intersected with the slice [begin, end) of the local flat buffer (a ZeRO shard).
  std::vector<ElementRange> norm_ranges(int64_t begin, int64_t end) const;

  // Copies this rank's shards out of a buffer in global_registry()'s layout into one in
  // registry()'s layout. No communication (e.g. loading a global checkpoint, or tests).
  template <class Real>
  void shard_from_global(const Real* global_flat, Real* local_flat) const;

  // The global tensor `index` on every rank: all-gathers the shards of a split tensor over `comm`
  // (the TP group: every rank must call this with the same index), copies a replicated one.
  // global_out has global_shape.numel() elements. Allocates a temporary: not for the step loop.
  template <class Real>
  void gather_tensor(Communicator& comm, size_t index, const Real* local_flat, Real* global_out) const;
  // Every tensor: global_flat gets global_registry()'s layout (its padding is left untouched).
  template <class Real>
  void gather_all(Communicator& comm, const Real* local_flat, Real* global_flat) const;

 private:
  int rank_, size_;
  ParamRegistry global_, local_;
  std::vector<ParamShard> shards_;
};

// The vocab-parallel cross-entropy: the three ops of Ops::vocab_parallel_ce_* with the TP
// group's reductions between them (all-reduce MAX of the row maxima, then SUM of the sums of
// exponentials and the target logits). logits [N, V_local] hold vocabulary entries
// [vocab_begin, vocab_begin + V_local); `stats` is 3N elements of scratch in the ops' memory.
// comm null: one rank (no reductions). Returns Σ_n loss[n], identical on every rank; losses [N]
// are the full per-token losses on every rank; dlogits (null for evaluation, may be logits) gets
// the local block of d loss / d logits. Contract otherwise as softmax_cross_entropy.
template <class Real>
double vocab_parallel_cross_entropy(Ops<Real>& ops, Communicator* comm, Real* dlogits, Accum<Real>* losses,
                                    const Real* logits, const int32_t* targets, const Real* mask, int N, int V_local,
                                    int vocab_begin, Accum<Real> logit_scale, Accum<Real> dloss_scale,
                                    Accum<Real>* stats);

}  // namespace kiln
