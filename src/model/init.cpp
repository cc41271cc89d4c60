#include "model/init.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "model/counter_rng.h"

namespace kiln {

InitRule init_rule(ParamRole role, const ModelConfig& model) {
  const InitConfig& init = model.init;
  const double hidden_std = init.std * std::sqrt(model.mup_width_scale());
  const double out_factor =
      init.scale_output_layers ? 1.0 / std::sqrt(2.0 * static_cast<double>(model.num_layers)) : 1.0;
  switch (role) {
    case ParamRole::embedding:
      return {InitRule::Kind::normal, init.embedding_std.value()};
    case ParamRole::lm_head:
      return {InitRule::Kind::normal, init.std};
    case ParamRole::hidden:
      return {InitRule::Kind::normal, hidden_std};
    case ParamRole::hidden_out:
      return {InitRule::Kind::normal, hidden_std * out_factor};
    case ParamRole::bias:
    case ParamRole::norm_bias:
      return {InitRule::Kind::zeros, 0.0};
    case ParamRole::norm_weight:
      return {InitRule::Kind::ones, 0.0};
  }
  throw std::logic_error("init_rule: unknown role");
}

namespace {

// Fills every tensor of `registry`; element i of tensor `index` takes the draw of the global
// element global(index, i) (i itself without tensor parallelism).
template <class Real, class GlobalElement>
void fill_parameters(Real* params, const ParamRegistry& registry, const ModelConfig& model, uint64_t seed,
                     const GlobalElement& global) {
  const bool truncated = model.init.method == InitMethod::truncated_normal;
  const double bound = model.init.truncation;
  for (size_t index = 0; index < registry.size(); ++index) {
    const ParamEntry& e = registry.entries()[index];
    const InitRule rule = init_rule(param_role(e.name), model);
    Real* out = params + e.offset;
    const int64_t n = e.numel();
    if (rule.kind != InitRule::Kind::normal) {
      const Real value = rule.kind == InitRule::Kind::ones ? Real(1) : Real(0);
      for (int64_t i = 0; i < n; ++i) out[i] = value;
      continue;
    }
    const CounterRng rng(seed, e.name);
    // Every element is independent of the others, so threads may split the range freely; small
    // tensors are not worth waking a thread team for.
#pragma omp parallel for schedule(static) if (n >= (int64_t{1} << 16))
    for (int64_t i = 0; i < n; ++i) {
      const auto u = static_cast<uint64_t>(global(index, i));
      const double z = truncated ? rng.truncated_normal(u, bound) : rng.normal(u);
      out[i] = static_cast<Real>(rule.std * z);
    }
  }
}

}  // namespace

template <class Real>
void init_parameters(Real* params, const ParamRegistry& registry, const ModelConfig& model, uint64_t seed) {
  fill_parameters(params, registry, model, seed, [](size_t, int64_t i) { return i; });
}

template <class Real>
void init_parameters(Real* params, const TpLayout& layout, const ModelConfig& model, uint64_t seed) {
  fill_parameters(params, layout.registry(), model, seed,
                  [&layout](size_t index, int64_t i) { return layout.global_element(index, i); });
}

void init_parameters(Buffer& params, const ParamRegistry& registry, const ModelConfig& model, uint64_t seed) {
  if (params.numel() < registry.total_numel()) {
    throw std::invalid_argument("init_parameters: buffer of " + std::to_string(params.numel()) +
                                " elements is shorter than the layout's " + std::to_string(registry.total_numel()));
  }
  init_parameters(params.data<float>(), registry, model, seed);
}

void init_parameters(Buffer& params, const TpLayout& layout, const ModelConfig& model, uint64_t seed) {
  if (params.numel() < layout.registry().total_numel()) {
    throw std::invalid_argument("init_parameters: buffer of " + std::to_string(params.numel()) +
                                " elements is shorter than the layout's " +
                                std::to_string(layout.registry().total_numel()));
  }
  init_parameters(params.data<float>(), layout, model, seed);
}

template void init_parameters<float>(float*, const ParamRegistry&, const ModelConfig&, uint64_t);
template void init_parameters<double>(double*, const ParamRegistry&, const ModelConfig&, uint64_t);
template void init_parameters<float>(float*, const TpLayout&, const ModelConfig&, uint64_t);
template void init_parameters<double>(double*, const TpLayout&, const ModelConfig&, uint64_t);

}  // namespace kiln
