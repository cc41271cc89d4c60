// Initial values of the decoder's parameters.
//
// Per role (param_names.h), with σ = init.std, σ_e = init.embedding_std, L = num_layers and
// w = mup_width_scale() (base_hidden_size / hidden_size when µP is on, else 1):
//
//   embedding                   N(0, σ_e²)
//   lm_head (untied)            N(0, σ²): σ itself, not width-scaled, also under µP. BTLM ties
//                               its head, so µP gives no rule of its own; the output multiplier
//                               output_alpha·w already scales the head's contribution.
//   hidden  (Q, K, V, gate, up) N(0, (σ·sqrt(w))²)          µP: σ·(d/base)^−1/2
//   hidden_out (O, down)        as hidden, × 1/sqrt(2L) when init.scale_output_layers
//   biases                      0
//   norm weights / biases       1 / 0
//
// "N" is the plain normal for init.method = normal and the normal truncated at ±truncation·σ
// (resampled, not clipped: Megatron's and torch's trunc_normal_) for truncated_normal.
//
// Determinism: element i of tensor `name` is drawn from CounterRng(seed, name) at counter i, so
// a value depends only on (seed, name, i): not on registration order, buffer padding, thread
// count, or which rank fills which slice. Values are computed in double and rounded to Real once,
// so a float buffer holds exactly the float rounding of the double buffer's values.
#pragma once

#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "model/param_names.h"
#include "model/tensor_parallel.h"
#include "tensor/buffer.h"
#include "tensor/param_registry.h"

namespace kiln {

// How one tensor starts out.
struct InitRule {
  enum class Kind { normal, zeros, ones } kind = Kind::normal;
  double std = 0;  // σ for Kind::normal
};

InitRule init_rule(ParamRole role, const ModelConfig& model);

// Fills every tensor of the finalized `registry` in the flat buffer `params` (at least
// registry.total_numel() elements). Padding between tensors is left as it is (zero in a fresh
// Buffer). Instantiated for float and double.
template <class Real>
void init_parameters(Real* params, const ParamRegistry& registry, const ModelConfig& model, uint64_t seed);

// A tensor-parallel rank's shards (layout.registry()'s flat layout): every element gets exactly
// the value the tp = 1 model's init gives the global element it holds (the draw at the global
// index, TpLayout::global_element), so the ranks' slices put together are the global init.
// With a tp = 1 layout this is the overload above.
template <class Real>
void init_parameters(Real* params, const TpLayout& layout, const ModelConfig& model, uint64_t seed);

// The same for an fp32 Buffer. Throws std::invalid_argument if it is too short, std::logic_error if
// it is not fp32.
void init_parameters(Buffer& params, const ParamRegistry& registry, const ModelConfig& model, uint64_t seed);
// The same for a TP rank's fp32 Buffer (at least layout.registry().total_numel() elements).
void init_parameters(Buffer& params, const TpLayout& layout, const ModelConfig& model, uint64_t seed);

}  // namespace kiln
