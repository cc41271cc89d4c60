// Where each of the decoder's parameters lies in the flat buffer, resolved once by name.
//
// The registry (param_names.h) is the authority on the layout; the decoder needs, per layer, the
// offset of each tensor, looked up once at construction instead of by string in the step loop.
// An absent tensor (a bias the config leaves out, the LM head when tied) has offset −1, and
// binding it to a buffer gives nullptr, which is exactly what the kernels take for "no bias".
// Because parameters, gradients and optimizer state share one layout, the same offsets bind the
// parameter buffer (const) and the gradient buffer (mutable).
#pragma once

#include <cstdint>
#include <vector>

#include "config/config.h"
#include "tensor/param_registry.h"

namespace kiln {

// Offsets of one layer's tensors; −1 where the config has no such tensor.
struct LayerParamOffsets {
  int64_t ln1_w = -1, ln1_b = -1;
  int64_t q_w = -1, q_b = -1, k_w = -1, k_b = -1, v_w = -1, v_b = -1;
  int64_t o_w = -1, o_b = -1;
  int64_t ln2_w = -1, ln2_b = -1;
  int64_t gate_w = -1, gate_b = -1, up_w = -1, up_b = -1, down_w = -1, down_b = -1;
};

struct ModelParamOffsets {
  int64_t embed = -1;
  std::vector<LayerParamOffsets> layers;
  int64_t norm_w = -1, norm_b = -1;
  int64_t lm_head = -1;  // −1 when tied: the LM head reads (and its gradient goes to) `embed`
};

// Resolves every offset from a finalized registry made by register_parameters for `model`.
ModelParamOffsets resolve_param_offsets(const ParamRegistry& registry, const ModelConfig& model);

// One layer's tensors in a particular flat buffer; P is const Real* (weights) or Real*
// (gradients). Absent tensors are nullptr.
template <class P>
struct LayerTensors {
  P ln1_w, ln1_b;
  P q_w, q_b, k_w, k_b, v_w, v_b;
  P o_w, o_b;
  P ln2_w, ln2_b;
  P gate_w, gate_b, up_w, up_b, down_w, down_b;
};

// base + offset, or nullptr for an absent tensor (offset −1).
template <class P>
P at_offset(P base, int64_t offset) {
  return offset < 0 ? nullptr : base + offset;
}

template <class P>
LayerTensors<P> bind_layer(const LayerParamOffsets& o, P base) {
  auto at = [&](int64_t off) { return at_offset(base, off); };
  return {at(o.ln1_w),  at(o.ln1_b),  at(o.q_w),    at(o.q_b),  at(o.k_w),    at(o.k_b),
          at(o.v_w),    at(o.v_b),    at(o.o_w),    at(o.o_b),  at(o.ln2_w),  at(o.ln2_b),
          at(o.gate_w), at(o.gate_b), at(o.up_w),   at(o.up_b), at(o.down_w), at(o.down_b)};
}

}  // namespace kiln
