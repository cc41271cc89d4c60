// The GPT-NeoX importer's mapping of the model: parallelism, architecture, initialisation, biases,
// vocabulary, and the dropout and µP keys kiln refuses.
#include "config/neox_importer.h"

#include <filesystem>
#include <string>
#include <vector>

#include "config/neox_keys.h"
#include "config/scalar.h"

namespace kiln::neox {
namespace {

// The attention kinds in `[[["flash", "global"], 12], ...]`: every scalar but the repeat counts.
void collect_kinds(const YAML::Node& n, std::vector<std::string>& kinds) {
  if (n.IsScalar()) {
    if (!parse_int(n.Scalar()) && n.Scalar() != "all") kinds.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& item : n) collect_kinds(item, kinds);
  } else if (n.IsMap()) {
    kinds.push_back("(a mapping)");
  }
}

std::string flag(bool value, const Entry* from) {
  return std::string(value ? "true" : "false") + (from ? "" : " (GPT-NeoX's default)");
}

}  // namespace

void Importer::parallelism() {
  if (const Entry* e = take("pipe_parallel_size"))
    if (auto v = int_of(e); v && (*v < 0 || *v > 1)) refuse(e, "kiln has no pipeline parallelism");
  if (auto v = map_int("model_parallel_size", "parallel.tensor")) tensor_ = *v;

  // DeepSpeed's default is stage 0 (no sharding), written out unless the file says otherwise.
  put("parallel.zero_stage", int64_t{0}, nullptr);
  const Entry* zero = take("zero_optimization");
  if (!is_map(zero)) return;
  for (auto& [name, e] : children(zero->value, zero->written + ".")) {
    if (name != "stage") {
      ignore(e);  // bucket sizes, overlap, offload: how ZeRO communicates, not what it computes
      continue;
    }
    if (auto v = int_of(&e)) {
      if (*v == 0 || *v == 1)
        put("parallel.zero_stage", *v, &e);
      else
        refuse(&e, "kiln shards only the optimizer state (ZeRO stage 0 or 1)");
    }
  }
}

void Importer::model() {
  map_int("num_layers", "model.num_layers");
  map_int("hidden_size", "model.hidden_size");
  map_int("num_attention_heads", "model.num_heads");
  map_int("seq_length", "model.seq_length");
  map_int("max_position_embeddings", "model.max_position_embeddings");
  norms();
  positions();
  mlp();
  residual_and_embeddings();
  init();
  biases();
  vocabulary();
}

void Importer::norms() {
  const Entry* e = take("norm");
  norm_ = str_of(e).value_or("layernorm");
  const bool known = norm_ == "layernorm" || norm_ == "rmsnorm";
  if (known)
    put("model.norm", norm_, e);
  else if (e)
    refuse(e, "kiln implements layernorm and rmsnorm");
  // Each norm has its own epsilon key and default; the other norms' keys do nothing.
  struct Eps {
    const char* key;
    const char* norm;
    double neox_default;
  };
  for (const Eps& eps : {Eps{"layernorm_epsilon", "layernorm", 1e-5}, Eps{"rms_norm_epsilon", "rmsnorm", 1e-8},
                         Eps{"scalenorm_epsilon", "scalenorm", 1e-8}}) {
    const Entry* ee = take(eps.key);
    auto v = num_of(ee);
    if (norm_ == eps.norm && known)
      put("model.norm_eps", v.value_or(eps.neox_default), ee);
    else if (ee)
      note("'" + ee->written + "' applies only to norm " + eps.norm + "; not used with " + norm_);
  }
}

void Importer::positions() {
  const Entry* e = take("pos_emb");
  const Entry* pct = take("rotary_pct");
  const Entry* base = take("rotary_emb_base");
  const Entry* interleaved = take("rotary_interleaved");
  if (!e) {
    refuse_missing("pos_emb", "GPT-NeoX then uses learned position embeddings, which kiln does not have; "
                              "set it to rotary, alibi or none");
    return;
  }
  auto kind = str_of(e);
  if (!kind) return;
  if (*kind == "rotary") {
    put("model.positions", "rotary", e);
    put("model.rotary_pct", num_of(pct).value_or(1.0), pct);
    put("model.rotary_theta", num_of(base).value_or(10000.0), base);
    if (bool_of(interleaved).value_or(false))
      refuse(interleaved, "kiln's rotary rotates the two halves of each head (GPT-NeoX style); "
                          "GPT-J's interleaved pairs are not implemented");
  } else if (*kind == "alibi" || *kind == "none") {
    put("model.positions", *kind, e);
  } else {
    refuse(e, "kiln implements rotary, alibi and none; " + *kind + " position embeddings are not implemented");
  }
}

// Two spellings of SwiGLU: Stability AI's fork writes mlp_type gated with activation silu (or
// swish) and takes intermediate_size as each branch's width; upstream EleutherAI gpt-neox writes
// activation swiglu (no mlp_type) and derives the branch width from intermediate_size (default 4h):
// linear1 is int(2/3·I) rounded up to 2·mlp_multiple_of wide, each branch half of that rounded up to
// mlp_multiple_of (ParallelMLP in megatron/model/transformer.py). The other gated activations
// (geglu, reglu, bilinear, glu) are other functions and are refused.
void Importer::mlp() {
  const Entry* type_e = take("mlp_type");
  const Entry* act_e = take("activation");
  const std::string type = str_of(type_e).value_or("regular");
  const std::string act = str_of(act_e).value_or("gelu");
  const bool upstream_swiglu = act == "swiglu" && type != "gated";
  if ((type == "gated" && (act == "silu" || act == "swish")) || upstream_swiglu)
    put("model.activation", "swiglu", act_e ? act_e : type_e);
  else if (type == "regular" && act == "gelu")
    put("model.activation", "gelu", act_e ? act_e : type_e);
  else
    refuse(act_e ? act_e : type_e,
           "kiln implements SwiGLU (activation swiglu, or mlp_type gated with activation silu or swish) and "
           "GELU (mlp_type regular with activation gelu); this file has " +
               (type_e ? "mlp_type " + type + " with activation " + act : "activation " + act));

  // GPT-NeoX's default multiple is 1; kiln's is 256, so write it out either way.
  const Entry* multiple_e = take("mlp_multiple_of");
  const int64_t multiple = int_of(multiple_e).value_or(1);
  put("model.mlp_multiple_of", multiple, multiple_e);
  const Entry* size_e = take("intermediate_size");
  const Entry* factor_e = take("expansion_factor");
  if (upstream_swiglu) {
    const Entry* hidden_e = top_.count("hidden_size") ? &top_.at("hidden_size") : nullptr;
    const int64_t hidden = hidden_e ? int_of(hidden_e).value_or(0) : 0;  // 0: not given (refused elsewhere)
    const std::optional<double> factor = num_of(factor_e);
    int64_t intermediate = int_of(size_e).value_or(0);
    if (intermediate == 0 && factor) intermediate = static_cast<int64_t>(*factor * static_cast<double>(hidden));
    if (intermediate == 0) intermediate = 4 * hidden;
    const std::optional<int64_t> total =
        intermediate > 0 ? std::optional<int64_t>(intermediate) : std::optional<int64_t>();
    if (total) {
      auto round_up = [](int64_t x, int64_t m) { return (x + m - 1) / m * m; };
      const int64_t both = round_up(static_cast<int64_t>(static_cast<double>(*total) * 2.0 / 3.0), 2 * multiple);
      const int64_t branch = round_up(both / 2, multiple);
      put("model.ffn_hidden_size", branch, size_e ? size_e : (factor_e ? factor_e : act_e));
      note("activation swiglu (upstream gpt-neox): each SwiGLU branch is " + std::to_string(branch) +
           " wide (model.ffn_hidden_size), from intermediate size " + std::to_string(*total) +
           " as ParallelMLP computes it");
    }
    return;
  }
  if (factor_e) refuse(factor_e, "expansion_factor is read by upstream gpt-neox's SwiGLU and Mamba only");
  if (auto size = int_of(size_e)) {
    put("model.ffn_hidden_size", *size, size_e);
    if (type == "gated")
      note("intermediate_size " + std::to_string(*size) +
           " is taken as the width of each SwiGLU branch (model.ffn_hidden_size), as Stability AI's gpt-neox "
           "fork (mlp_type gated) does; upstream EleutherAI gpt-neox writes activation swiglu instead");
  }
}

// Architectures and optimizers that compute something kiln does not: refused by name, with what
// they are, so that a file is never refused as "unknown" for them.
void Importer::unsupported_features() {
  if (const Entry* e = take("num_kv_heads")) {
    const Entry* heads = top_.count("num_attention_heads") ? &top_.at("num_attention_heads") : nullptr;
    if (!heads || int_of(e) != int_of(heads))
      refuse(e, "grouped-query attention (fewer key/value heads than query heads) is not implemented");
  }
  if (const Entry* e = take("attention_type"))
    if (auto v = str_of(e); v && *v != "multihead") refuse(e, "kiln implements multi-head attention only");
  if (const Entry* e = take("sliding_window_width")) refuse(e, "sliding-window attention is not implemented");
  if (const Entry* e = take("moe_num_experts"))
    if (int_of(e).value_or(1) > 1) refuse(e, "mixture-of-experts layers are not implemented");
  if (const Entry* e = take("sparsity_config")) refuse(e, "sparse attention is not implemented");
  if (const Entry* e = take("gmlp_attn_dim")) refuse(e, "gMLP layers are not implemented");
  if (const Entry* e = take("use_bnb_optimizer"))
    if (bool_of(e).value_or(false)) refuse(e, "8-bit Adam (bitsandbytes) updates differently; kiln's AdamW is fp32");
  // Transformer Engine: its fp8 paths change the arithmetic; its other switches only choose kernels.
  for (const char* key : {"te_fp8_wgrad", "te_fp8_mha", "te_columnparallel", "te_rowparallel", "te_layernorm_mlp",
                          "te_mha"})
    if (const Entry* e = take(key))
      if (bool_of(e).value_or(false))
        refuse(e, "Transformer Engine layers (with their fp8 recipe) are not implemented; kiln computes in bf16 "
                  "with fp32 accumulation");
  for (const char* key : {"te_fp8_format", "te_fp8_margin", "te_fp8_amax_history_len", "te_fp8_amax_compute_algo"})
    if (const Entry* e = take(key)) ignore(*e);  // settings of the fp8 recipe, refused above when it is on
}

void Importer::residual_and_embeddings() {
  const Entry* untie = take("no_weight_tying");
  put("model.tied_embeddings", !bool_of(untie).value_or(false), untie);

  const Entry* gptj = take("gpt_j_residual");
  const bool parallel = bool_of(gptj).value_or(false);
  put("model.parallel_residual", parallel, gptj);
  const Entry* tied = take("gpt_j_tied");
  if (bool_of(tied).value_or(false)) {
    if (parallel)
      refuse(tied, "kiln's parallel residual has two norms, x + attn(LN1(x)) + mlp(LN2(x)); "
                   "one shared norm is not implemented");
    else
      note("gpt_j_tied has no effect without gpt_j_residual; not used");
  }

  if (const Entry* e = take("attention_head_type"))
    if (auto v = str_of(e); v && *v != "multihead") refuse(e, "kiln implements multi-head attention only");

  // Row or column split of the LM head: the same logits either way.
  if (const Entry* e = take("output_layer_parallelism")) {
    if (auto v = str_of(e); v && *v != "column" && *v != "row")
      refuse(e, "expected row or column");
    else
      ignore(*e);
  }

  // Flash and global are the same dense causal attention; the other kinds are sparse or local.
  if (const Entry* e = take("attention_config")) {
    std::vector<std::string> kinds;
    collect_kinds(e->value, kinds);
    std::string other;
    for (const auto& k : kinds)
      if (k != "flash" && k != "global") other += (other.empty() ? "" : ", ") + k;
    if (!other.empty())
      refuse(e, "kiln implements dense causal attention (flash or global); not " + other);
    else
      ignore(*e);
  }
}

void Importer::init() {
  const Entry* method = take("init_method");
  const std::string m = str_of(method).value_or("normal");
  if (m == "normal")
    put("model.init.method", "normal", method);
  else
    refuse(method, "kiln initialises hidden weights with normal (σ = init_method_std); " + m +
                       " is not implemented");

  const Entry* out = take("output_layer_init_method");
  const std::string o = str_of(out).value_or("scaled_normal");
  if (o == "scaled_normal" || o == "normal")
    put("model.init.scale_output_layers", o == "scaled_normal", out);
  else
    refuse(out, "kiln initialises the attention-out and MLP-out projections with normal or scaled_normal "
                "(σ/sqrt(2·num_layers)); " + o + " is not implemented");

  const Entry* std_e = take("init_method_std");
  put("model.init.std", num_of(std_e).value_or(0.02), std_e);
}

void Importer::biases() {
  // GPT-NeoX has one flag for every norm, the final one included.
  const Entry* norms = take("use_bias_in_norms");
  const auto norm_bias = bool_of(norms);
  if (norm_ == "layernorm") {
    put("model.norm_bias", norm_bias.value_or(true), norms);
    put("model.final_norm_bias", norm_bias.value_or(true), norms);
  } else if (norm_ == "rmsnorm") {
    if (norm_bias.value_or(false))
      refuse(norms, "kiln's rmsnorm has no bias (GPT-NeoX versions that honour this flag add an offset)");
    else if (!norms)
      note("use_bias_in_norms is not set: recent GPT-NeoX then gives RMSNorm an offset, which kiln's rmsnorm "
           "does not have; imported without one");
  }

  // kiln's qkv_bias is NeoX's attention flag; kiln's linear_bias covers the attention output and
  // the MLP together, so NeoX's two flags must agree on them.
  const Entry* attn = take("use_bias_in_attn_linear");
  const Entry* mlp = take("use_bias_in_mlp");
  const bool attn_bias = bool_of(attn).value_or(true), mlp_bias = bool_of(mlp).value_or(true);
  put("model.qkv_bias", attn_bias, attn);
  if (attn_bias == mlp_bias)
    put("model.linear_bias", attn_bias, attn ? attn : mlp);
  else
    refuse(mlp ? mlp : attn, "use_bias_in_attn_linear is " + flag(attn_bias, attn) + " but use_bias_in_mlp is " +
                                 flag(mlp_bias, mlp) +
                                 ": kiln's model.linear_bias covers the attention output and the MLP together");
}

void Importer::vocabulary() {
  // GPT-NeoX pads to make_vocab_size_divisible_by × model_parallel_size.
  const Entry* div_e = take("make_vocab_size_divisible_by");
  const int64_t divisible_by = int_of(div_e).value_or(128);
  put("model.vocab_pad_multiple", divisible_by * tensor_, div_e);
  if (tensor_ > 1)
    note("model.vocab_pad_multiple = " + std::to_string(divisible_by * tensor_) +
         ": GPT-NeoX pads the vocabulary to make_vocab_size_divisible_by × model_parallel_size");

  const Entry* file_e = take("vocab_file");
  const auto tokenizer = str_of(file_e);
  if (tokenizer) put("data.tokenizer", *tokenizer, file_e);
  auto padded = [&](int64_t n) {
    const int64_t k = divisible_by * tensor_;
    return std::to_string((n + k - 1) / k * k);
  };

  if (options_.vocab_size) {
    const int64_t n = *options_.vocab_size;
    out_["model.vocab_size"] = {to_node(n), "--vocab-size", "--vocab-size " + std::to_string(n)};
    note("model.vocab_size = " + std::to_string(n) + " as given (--vocab-size); padded to " + padded(n));
    return;
  }
  if (!tokenizer) {
    if (!file_e)
      refuse_missing("vocab_file", "the vocabulary size comes from the tokenizer; give it with --vocab-size");
    return;
  }
  const std::string name = std::filesystem::path(*tokenizer).filename().string();
  for (const auto& known : kKnownTokenizers)
    if (name == known.file) {
      put("model.vocab_size", known.size, file_e);
      note("model.vocab_size = " + std::to_string(known.size) + ": '" + name + "' is " + known.what +
           "; padded to " + padded(known.size) + " embedding rows (--vocab-size overrides)");
      return;
    }
  refuse(file_e, "kiln does not know this tokenizer's vocabulary size; give it with --vocab-size");
}

void Importer::regularisation() {
  for (const char* key : {"hidden_dropout", "attention_dropout"}) {
    const Entry* e = take(key);
    if (!e)
      refuse_missing(key, "GPT-NeoX then applies dropout 0.1 and kiln has no dropout; set it to 0 to import");
    else if (auto v = num_of(e); v && *v != 0)
      refuse(e, "kiln has no dropout");
  }
  const Entry* mup = take("use_mup");
  mup_ = bool_of(mup).value_or(false);
  if (mup_)
    refuse(mup, "kiln's µP is BTLM's (model.mup); GPT-NeoX's mup-package base shapes are not imported");
}

}  // namespace kiln::neox
