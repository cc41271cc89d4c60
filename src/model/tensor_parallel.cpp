#include "model/tensor_parallel.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/param_names.h"

namespace kiln {
namespace {

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

void check_split(const ModelConfig& model, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw std::invalid_argument("tensor parallel: rank " + std::to_string(rank) + " of a group of " +
                                std::to_string(size));
  }
  auto need = [&](const char* what, int64_t n) {
    if (n % size != 0) {
      throw std::invalid_argument("tensor parallel: " + std::to_string(size) + " ranks must divide " + what + " (" +
                                  std::to_string(n) + ")");
    }
  };
  need("model.num_heads", model.num_heads);
  need("the FFN width", model.ffn());
  need("the padded vocabulary", model.padded_vocab());
}

}  // namespace

void validate_tensor_parallel(const ModelConfig& model, const TensorParallel& tp) {
  check_split(model, tp.rank, tp.size);
  if (tp.size > 1) {
    if (!tp.comm) throw std::invalid_argument("tensor parallel: a group of " + std::to_string(tp.size) +
                                              " ranks needs a communicator");
    if (tp.comm->size() != tp.size || tp.comm->rank() != tp.rank) {
      throw std::invalid_argument("tensor parallel: rank " + std::to_string(tp.rank) + " of " +
                                  std::to_string(tp.size) + " does not match the communicator's " +
                                  std::to_string(tp.comm->rank()) + " of " + std::to_string(tp.comm->size()));
    }
  }
}

int tp_split_dim(std::string_view name) {
  switch (param_role(name)) {  // throws for a name the decoder does not have
    case ParamRole::embedding:
    case ParamRole::lm_head:
      return 0;  // vocabulary rows
    case ParamRole::hidden:
      return 0;  // Q/K/V (whole heads) and gate/up: output features, column-parallel
    case ParamRole::hidden_out:
      return 1;  // o_proj and down_proj: input features, row-parallel
    case ParamRole::bias:
      // A column-parallel linear's bias is split with its outputs; a row-parallel one's is added
      // once to the reduced output, so every rank holds all of it.
      return (ends_with(name, "o_proj.bias") || ends_with(name, "down_proj.bias")) ? -1 : 0;
    case ParamRole::norm_weight:
    case ParamRole::norm_bias:
      return -1;
  }
  return -1;
}

TpLayout::TpLayout(const ModelConfig& model, int tp_rank, int tp_size)
    : rank_(tp_rank), size_(tp_size), global_(make_param_registry(model)) {
  check_split(model, tp_rank, tp_size);
  shards_.reserve(global_.size());
  for (const ParamEntry& e : global_) {
    ParamShard s;
    s.global_shape = e.shape;
    s.split_dim = tp_size > 1 ? tp_split_dim(e.name) : -1;
    std::vector<int64_t> local(e.shape.dims().begin(), e.shape.dims().end());
    if (s.split_dim >= 0) {
      const int64_t extent = local[static_cast<size_t>(s.split_dim)] / tp_size;
      local[static_cast<size_t>(s.split_dim)] = extent;
      s.begin = extent * tp_rank;
    }
    s.counts_in_norm = !s.replicated() || tp_rank == 0;
    local_.add(e.name, std::move(local), e.info);
    shards_.push_back(s);
  }
  local_.finalize();
}

int64_t TpLayout::global_element(size_t index, int64_t local_element) const {
  const ParamShard& s = shards_.at(index);
  if (s.replicated()) return local_element;
  const Shape& g = s.global_shape;
  if (s.split_dim == 0) {
    const int64_t row = g.numel() / g[0];  // elements per index of dim 0
    return local_element + s.begin * row;
  }
  // split_dim == 1 of a [rows, cols] matrix: local [rows, cols/tp].
  const int64_t cols = g[1];
  const int64_t local_cols = cols / size_;
  return (local_element / local_cols) * cols + s.begin + local_element % local_cols;
}

std::vector<ElementRange> TpLayout::norm_ranges() const {
  std::vector<ElementRange> out;
  bool previous_counted = false;
  for (size_t i = 0; i < local_.size(); ++i) {
    const ParamEntry& e = local_.entries()[i];
    if (!shards_[i].counts_in_norm) {
      previous_counted = false;
      continue;
    }
    if (previous_counted && !out.empty())
      out.back().end = e.end();  // only zero padding lies between the two
    else
      out.push_back({e.offset, e.end()});
    previous_counted = true;
  }
  return out;
}

std::vector<ElementRange> TpLayout::norm_ranges(int64_t begin, int64_t end) const {
  std::vector<ElementRange> out;
  for (const ElementRange& r : norm_ranges()) {
    const int64_t b = std::max(r.begin, begin), e = std::min(r.end, end);
    if (b < e) out.push_back({b, e});
  }
  return out;
}

template <class Real>
void TpLayout::shard_from_global(const Real* global_flat, Real* local_flat) const {
  for (size_t i = 0; i < local_.size(); ++i) {
    const ParamEntry& l = local_.entries()[i];
    const Real* g = global_flat + global_.entries()[i].offset;
    Real* out = local_flat + l.offset;
    const int64_t n = l.numel();
    for (int64_t k = 0; k < n; ++k) out[k] = g[global_element(i, k)];
  }
}

template <class Real>
void TpLayout::gather_tensor(Communicator& comm, size_t index, const Real* local_flat, Real* global_out) const {
  const ParamShard& s = shards_.at(index);
  const ParamEntry& l = local_.entries().at(index);
  const Real* mine = local_flat + l.offset;
  const int64_t n = l.numel();
  if (s.replicated()) {
    std::copy(mine, mine + n, global_out);
    return;
  }
  if (comm.size() != size_ || comm.rank() != rank_) {
    throw std::invalid_argument("TpLayout::gather_tensor: the communicator's rank " + std::to_string(comm.rank()) +
                                " of " + std::to_string(comm.size()) + " is not this layout's " +
                                std::to_string(rank_) + " of " + std::to_string(size_));
  }
  std::vector<Real> all(static_cast<size_t>(n * size_));
  comm.all_gather(mine, all.data(), static_cast<size_t>(n), comm_dtype<Real>());
  if (s.split_dim == 0) {  // rank blocks of rows are the global tensor in order
    std::copy(all.begin(), all.end(), global_out);
    return;
  }
  const int64_t cols = s.global_shape[1], local_cols = cols / size_, rows = s.global_shape[0];
  for (int r = 0; r < size_; ++r)
    for (int64_t row = 0; row < rows; ++row)
      std::copy_n(all.data() + r * n + row * local_cols, local_cols, global_out + row * cols + r * local_cols);
}

template <class Real>
void TpLayout::gather_all(Communicator& comm, const Real* local_flat, Real* global_flat) const {
  for (size_t i = 0; i < local_.size(); ++i)
    gather_tensor(comm, i, local_flat, global_flat + global_.entries()[i].offset);
}

template <class Real>
double vocab_parallel_cross_entropy(Ops<Real>& ops, Communicator* comm, Real* dlogits, Accum<Real>* losses,
                                    const Real* logits, const int32_t* targets, const Real* mask, int N, int V_local,
                                    int vocab_begin, Accum<Real> logit_scale, Accum<Real> dloss_scale,
                                    Accum<Real>* stats) {
  using Acc = Accum<Real>;
  Acc* row_max = stats;  // [N]
  Acc* sums = stats + N;  // [2N]: Σ e^(z − max), then the target logits
  ops.vocab_parallel_ce_max(row_max, logits, mask, N, V_local, logit_scale);
  if (comm) comm->all_reduce(row_max, static_cast<size_t>(N), comm_dtype<Acc>(), ReduceOp::max);
  ops.vocab_parallel_ce_sums(sums, logits, targets, mask, row_max, N, V_local, vocab_begin, logit_scale);
  if (comm) comm->all_reduce(sums, static_cast<size_t>(2) * static_cast<size_t>(N), comm_dtype<Acc>(), ReduceOp::sum);
  return ops.vocab_parallel_ce_finish(dlogits, losses, logits, targets, mask, row_max, sums, N, V_local, vocab_begin,
                                      logit_scale, dloss_scale);
}

#define KILN_INSTANTIATE_TP(Real)                                                                                   \
  template void TpLayout::shard_from_global<Real>(const Real*, Real*) const;                                        \
  template void TpLayout::gather_tensor<Real>(Communicator&, size_t, const Real*, Real*) const;                     \
  template void TpLayout::gather_all<Real>(Communicator&, const Real*, Real*) const;                                \
  template double vocab_parallel_cross_entropy<Real>(Ops<Real>&, Communicator*, Real*, Accum<Real>*, const Real*,   \
                                                     const int32_t*, const Real*, int, int, int, Accum<Real>,       \
                                                     Accum<Real>, Accum<Real>*);
KILN_INSTANTIATE_TP(float)
KILN_INSTANTIATE_TP(double)
KILN_INSTANTIATE_TP(bf16)

}  // namespace kiln
