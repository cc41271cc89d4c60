#include "plan/plan_report.h"

#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

namespace kiln {
namespace {

std::string with_commas(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// printf-style formatting into a std::string; <format> is not available on every toolchain we use.
template <typename... Args>
std::string fmt(const char* format, Args... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(n), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

std::string gib(int64_t bytes) {
  return fmt("%.2f", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
}

const char* name(Activation a) { return a == Activation::swiglu ? "swiglu" : "gelu"; }
const char* name(NormType n) { return n == NormType::layernorm ? "layernorm" : "rmsnorm"; }
const char* name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

void model_summary(std::ostringstream& out, const ModelConfig& m) {
  out << "model: " << m.num_layers << " layers, hidden " << m.hidden_size << ", " << m.num_heads
      << " heads of " << m.head_dim() << ", ffn " << m.ffn() << " (" << name(m.activation)
      << "), vocab " << with_commas(m.vocab_size) << " padded to " << with_commas(m.padded_vocab())
      << ", seq " << m.seq_length << ", " << name(m.norm) << ", "
      << (m.tied_embeddings ? "tied" : "untied") << " embeddings\n";
}

void parameter_table(std::ostringstream& out, const Plan& plan, int64_t layers) {
  const ParamCounts& c = plan.params;
  const std::vector<std::pair<const char*, int64_t>> rows = {
      {"embedding", c.embedding},
      {"attention qkv weight", layers * c.layer.qkv_weight},
      {"attention qkv bias", layers * c.layer.qkv_bias},
      {"attention out weight", layers * c.layer.attn_out_weight},
      {"attention out bias", layers * c.layer.attn_out_bias},
      {"mlp weights", layers * c.layer.mlp_weight},
      {"mlp biases", layers * c.layer.mlp_bias},
      {"layer norms", layers * c.layer.norms},
      {"final norm", c.final_norm},
      {"lm head", c.lm_head},
  };
  const double total = c.total > 0 ? static_cast<double>(c.total) : 1.0;
  out << fmt("\n%-22s %16s %8s\n", "parameters", "count", "share");
  for (const auto& [label, count] : rows) {
    if (count == 0) continue;  // absent biases, a tied head: nothing to show
    out << fmt("  %-20s %16s %7.2f%%\n", label, with_commas(count).c_str(), 100.0 * count / total);
  }
  out << fmt("  %-20s %16s %7.2f%%\n", "total", with_commas(c.total).c_str(), 100.0);
}

void memory_table(std::ostringstream& out, const Plan& plan) {
  const MemoryBytes& m = plan.memory;
  const ActivationBytes& a = plan.activations;
  out << fmt("\nper-rank memory (GiB): %s params per rank, %s in the optimizer shard\n",
             with_commas(plan.per_rank_params).c_str(),
             with_commas(plan.optimizer_shard_params).c_str());
  const auto row = [&](const char* label, int64_t bytes) {
    out << fmt("  %-28s %10s\n", label, gib(bytes).c_str());
  };
  row("weights", m.weights);
  row("gradients", m.gradients);
  row("optimizer state", m.optimizer);
  row("activations (1 micro batch)", m.activations);
  row("  transformer layers", a.layers);
  if (a.recompute_working_set > 0) row("  recompute working set", a.recompute_working_set);
  row("  logits", a.logits);
  row("  logits log-sum-exp", a.logits_lse);
  row("  final norm output", a.final_norm);
  row("total", m.total);
}

// Decimal gigabytes beside the exact byte count: transfer times are figured against link rates
// quoted in GB/s (10^9), unlike memory, which the table above gives in GiB.
void comm_table(std::ostringstream& out, const Plan& plan, const Config& config) {
  const CommVolume& c = plan.comm;
  const auto row = [&](const std::string& label, int64_t bytes) {
    out << fmt("    %-36s %17s B %9.3f GB\n", label.c_str(), with_commas(bytes).c_str(),
               static_cast<double>(bytes) / 1e9);
  };
  out << "\ncommunication per rank per step (bytes each rank sends; a ring receives as many):\n";

  if (plan.data == 1) {
    out << "  data parallel: dp 1, no gradient reduction\n";
  } else {
    out << "  data parallel: dp " << plan.data << ", ZeRO stage " << plan.zero_stage
        << ", once per step, gradient buffer " << with_commas(c.dp.grad_buffer_bytes) << " B\n";
    const std::string grad = name(config.parallel.grad_reduce_dtype);
    if (plan.zero_stage == 1) {
      row("gradient reduce-scatter (" + grad + ")", c.dp.reduce_scatter);
      row(std::string("weight all-gather (") + name(config.train.precision) + ")", c.dp.all_gather);
    } else {
      row("gradient all-reduce (" + grad + ")", c.dp.all_reduce);
    }
  }

  const TensorParallelComm& t = c.tp;
  if (plan.tensor == 1) {
    out << "  tensor parallel: tp 1, no all-reduces\n";
  } else {
    out << "  tensor parallel: tp " << plan.tensor << ", per micro batch of [" << plan.micro_batch
        << ", " << config.model.seq_length << ", " << config.model.hidden_size << "] "
        << name(config.train.precision) << " = " << with_commas(t.activation_bytes)
        << " B, × " << plan.grad_accum << " per step\n";
    row(fmt("layers (%lld × %lld all-reduces)", static_cast<long long>(config.model.num_layers),
            static_cast<long long>(t.all_reduces_per_layer)),
        t.layers);
    row("embedding output (forward)", t.embedding);
    row("lm head input gradient (backward)", t.lm_head);
    row("cross-entropy statistics (fp32)", t.cross_entropy);
    row(fmt("per micro batch (%lld all-reduces)", static_cast<long long>(t.calls_per_micro_batch)),
        t.per_micro_batch);
    row("per step", t.per_step);
  }
  out << fmt("  %-38s %17s B %9.3f GB\n", "total per step", with_commas(c.total_per_step).c_str(),
             static_cast<double>(c.total_per_step) / 1e9);
}

}  // namespace

std::string format_plan(const Plan& plan, const Config& config) {
  std::ostringstream out;
  model_summary(out, config.model);
  parameter_table(out, plan, config.model.num_layers);

  out << "\nFLOPs per token: " << with_commas(plan.flops_per_token_palm)
      << " (PaLM, 6N + 12·L·d·T), " << with_commas(plan.flops_per_token_causal)
      << " (causal-halved, 6N + 6·L·d·T); N = " << with_commas(plan.params.n_flops) << "\n";

  memory_table(out, plan);

  out << "\nlayout: tp " << plan.tensor << " × dp " << plan.data << " = " << plan.world
      << (plan.world == 1 ? " rank" : " ranks") << ", ZeRO stage " << plan.zero_stage << "; micro batch " << plan.micro_batch
      << " × accum " << plan.grad_accum << " × dp " << plan.data << " = global batch "
      << plan.global_batch << " sequences, " << with_commas(plan.tokens_per_step)
      << " tokens per step\n";

  comm_table(out, plan, config);
  return out.str();
}

nlohmann::json plan_to_json(const Plan& plan) {
  const ParamCounts& c = plan.params;
  const LayerParams& l = c.layer;
  const ActivationBytes& a = plan.activations;
  const MemoryBytes& m = plan.memory;
  const CommVolume& comm = plan.comm;
  return {
      {"params",
       {{"embedding", c.embedding},
        {"layer",
         {{"qkv_weight", l.qkv_weight},
          {"qkv_bias", l.qkv_bias},
          {"attn_out_weight", l.attn_out_weight},
          {"attn_out_bias", l.attn_out_bias},
          {"mlp_weight", l.mlp_weight},
          {"mlp_bias", l.mlp_bias},
          {"norms", l.norms},
          {"total", l.total()}}},
        {"layers", c.layers},
        {"final_norm", c.final_norm},
        {"lm_head", c.lm_head},
        {"total", c.total},
        {"n_flops", c.n_flops}}},
      {"flops_per_token",
       {{"palm", plan.flops_per_token_palm}, {"causal_halved", plan.flops_per_token_causal}}},
      {"layout",
       {{"tensor", plan.tensor},
        {"data", plan.data},
        {"world", plan.world},
        {"zero_stage", plan.zero_stage},
        {"micro_batch", plan.micro_batch},
        {"grad_accum", plan.grad_accum},
        {"global_batch", plan.global_batch},
        {"tokens_per_step", plan.tokens_per_step}}},
      {"per_rank",
       {{"params", plan.per_rank_params},
        {"optimizer_shard_params", plan.optimizer_shard_params},
        {"memory_bytes",
         {{"weights", m.weights},
          {"gradients", m.gradients},
          {"optimizer", m.optimizer},
          {"activations", m.activations},
          {"total", m.total}}},
        {"activation_bytes",
         {{"per_layer", a.per_layer},
          {"layers", a.layers},
          {"recompute_working_set", a.recompute_working_set},
          {"logits", a.logits},
          {"logits_lse", a.logits_lse},
          {"final_norm", a.final_norm},
          {"total", a.total}}}}},
      {"comm_bytes_per_rank",
       {{"data_parallel",
         {{"grad_buffer", comm.dp.grad_buffer_bytes},
          {"reduce_scatter", comm.dp.reduce_scatter},
          {"all_gather", comm.dp.all_gather},
          {"all_reduce", comm.dp.all_reduce},
          {"total_per_step", comm.dp.total}}},
        {"tensor_parallel",
         {{"activation", comm.tp.activation_bytes},
          {"all_reduces_per_layer", comm.tp.all_reduces_per_layer},
          {"layers", comm.tp.layers},
          {"embedding", comm.tp.embedding},
          {"lm_head", comm.tp.lm_head},
          {"cross_entropy", comm.tp.cross_entropy},
          {"per_micro_batch", comm.tp.per_micro_batch},
          {"calls_per_micro_batch", comm.tp.calls_per_micro_batch},
          {"per_step", comm.tp.per_step}}},
        {"total_per_step", comm.total_per_step}}},
  };
}

}  // namespace kiln
