#include "config/neox_import.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "config/scalar.h"
#include "config/schema.h"
#include "config/suggest.h"

namespace kiln {
namespace {

// Keys that only say where things run, log or are stored: nothing they hold changes what is
// computed. Kept as an explicit list so that an unfamiliar key is refused rather than guessed at.
const std::set<std::string> kInfrastructure = {
    "use_wandb",           "launcher",            "deepspeed_slurm",        "deepspeed_mpi",
    "num_workers",         "distributed_backend", "steps_per_print",        "wall_clock_breakdown",
    "extra_save_iters",    "eval_tasks",          "eval_batch_size",        "partition_activations",
    "synchronize_each_layer", "checkpoint_num_layers", "save_base_shapes",  "base_shapes_file",
    "coord_check",         "tokenizer_type",      "merge_file",             "test_data_paths",
    "test_data_weights",   "tensorboard_dir",     "log_dir",                "log_grad_norm",
    "log_param_norm",      "log_optimizer_states", "log_grad_pct_zeros",    "log_gradient_noise_scale",
    "use_shared_fs",       "mmap_warmup",         "hostfile",               "include",
    "master_port",         "master_addr",         "exit_interval",
};
const std::vector<std::string> kInfrastructurePrefixes = {"wandb_", "s3_"};

// Fused kernels and similar implementation choices: the same math computed another way.
const std::set<std::string> kImplementation = {
    "scaled_upper_triang_masked_softmax_fusion", "scaled_masked_softmax_fusion", "bias_gelu_fusion",
    "bias_dropout_fusion", "use_flash_cross_entropy",
};

// GPT-NeoX's µP hyper-parameters; they do nothing unless use_mup is true (which is refused).
const std::set<std::string> kMupOnly = {
    "mup_init_scale", "mup_attn_temp", "mup_output_temp", "mup_embedding_mult", "mup_rp_embedding_mult",
    "mup_width_scale",
};

// GPT-NeoX configs do not state the vocabulary size: it is the tokenizer's. These files are common
// enough to know by name.
struct KnownTokenizer {
  const char* file;
  int64_t size;
  const char* what;
};
const KnownTokenizer kKnownTokenizers[] = {
    {"arcade100k.tiktoken", 100289, "Arcade100k (Stable LM 2)"},
    {"neox-tokenizer-vocab.json", 50277, "the GPT-NeoX-20B tokenizer"},
    {"20B_tokenizer.json", 50277, "the GPT-NeoX-20B tokenizer"},
    {"gpt2-vocab.json", 50257, "GPT-2 BPE"},
    {"gpt2-tokenizer.json", 50257, "GPT-2 BPE"},
};

// One key of the NeoX file; nested keys are written "parent.child".
struct Entry {
  std::string written;  // as in the file, for messages and the ignored list
  YAML::Node key, value;
};

// GPT-NeoX reads `hidden-size` and `hidden_size` alike.
std::string normalise(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string at(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// "'pipe-parallel-size: 2'" (scalars show their value), "'attention-config'" otherwise.
std::string shown(const Entry& e) {
  return "'" + e.written + (e.value.IsScalar() ? ": " + e.value.Scalar() : "") + "'";
}

YAML::Node to_node(int64_t v) { return YAML::Node(v); }
YAML::Node to_node(double v) { return YAML::Node(format_double(v)); }  // as the schema emits it
YAML::Node to_node(bool v) { return YAML::Node(v); }
YAML::Node to_node(const std::string& v) { return YAML::Node(v); }
YAML::Node to_node(const char* v) { return YAML::Node(std::string(v)); }
template <class X>
YAML::Node to_node(const std::vector<X>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const auto& x : v) n.push_back(to_node(x));
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

class Importer {
 public:
  Importer(std::string file, const NeoxImportOptions& options) : file_(std::move(file)), options_(options) {}

  NeoxImport run(const YAML::Node& root) {
    read_top(root);
    parallelism();
    model();
    optimizer();
    schedule();
    batch_and_data();
    run_settings();
    precision();
    regularisation();
    leftovers();
    return finish();
  }

 private:
  struct Emitted {
    YAML::Node value;
    std::string where, label;  // where the value came from, for messages
    int line = INT_MAX, column = INT_MAX;
  };
  struct Problem {
    int line, column;  // for ordering; INT_MAX for the file as a whole
    Diagnostic diagnostic;
  };

  std::string file_;
  NeoxImportOptions options_;
  std::map<std::string, Entry> top_;  // by normalised name
  std::vector<std::string> order_;    // normalised names in file order
  std::set<std::string> taken_;       // names the importer asked for, present or not
  std::map<std::string, Emitted> out_;
  std::vector<Problem> problems_;
  std::vector<std::pair<int, std::string>> ignored_;  // (line, key)
  std::vector<std::string> notes_;
  int64_t tensor_ = 1;
  std::string norm_ = "layernorm", precision_;
  bool mup_ = false;

  // ---- reading ----------------------------------------------------------------------------

  void read_top(const YAML::Node& root) {
    for (auto& [name, e] : children(root, "")) {
      order_.push_back(name);
      top_.emplace(name, std::move(e));
    }
  }

  // The keys of a mapping by normalised name. Two spellings of one key would leave it unclear
  // which one GPT-NeoX used, so the second is refused.
  std::vector<std::pair<std::string, Entry>> children(const YAML::Node& map, const std::string& prefix) {
    std::vector<std::pair<std::string, Entry>> out;
    std::map<std::string, YAML::Mark> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      Entry e{prefix + (it->first.IsScalar() ? it->first.Scalar() : "?"), it->first, it->second};
      if (!it->first.IsScalar()) {
        refuse(&e, "keys must be plain names");
        continue;
      }
      const std::string name = normalise(it->first.Scalar());
      if (auto [pos, fresh] = seen.emplace(name, it->first.Mark()); !fresh) {
        refuse(&e, "duplicates the key at line " + std::to_string(pos->second.line + 1) +
                       " (GPT-NeoX reads hyphens as underscores); keep one");
        continue;
      }
      out.emplace_back(name, std::move(e));
    }
    return out;
  }

  // The entry for a normalised top-level name, or nullptr when absent or null (GPT-NeoX reads null
  // as "use the default").
  const Entry* take(const std::string& name) {
    taken_.insert(name);
    auto it = top_.find(name);
    return it == top_.end() || it->second.value.IsNull() ? nullptr : &it->second;
  }

  std::optional<int64_t> int_of(const Entry* e) {
    if (!e) return std::nullopt;
    if (e->value.IsScalar())
      if (auto v = parse_int(e->value.Scalar())) return v;
    refuse(e, "expected an integer");
    return std::nullopt;
  }
  std::optional<double> num_of(const Entry* e) {
    if (!e) return std::nullopt;
    if (e->value.IsScalar())
      if (auto v = parse_float(e->value.Scalar())) return v;
    refuse(e, "expected a number");
    return std::nullopt;
  }
  std::optional<bool> bool_of(const Entry* e) {
    if (!e) return std::nullopt;
    if (e->value.IsScalar())
      if (auto v = parse_bool(e->value.Scalar())) return v;
    refuse(e, "expected true or false");
    return std::nullopt;
  }
  std::optional<std::string> str_of(const Entry* e) {
    if (!e) return std::nullopt;
    if (e->value.IsScalar()) return e->value.Scalar();
    refuse(e, "expected a single value");
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> strs_of(const Entry* e) {
    if (!e) return std::nullopt;
    std::vector<std::string> out;
    if (e->value.IsSequence())
      for (const auto& item : e->value) {
        if (!item.IsScalar()) break;
        out.push_back(item.Scalar());
      }
    if (!e->value.IsSequence() || out.size() != e->value.size()) {
      refuse(e, "expected a list of paths");
      return std::nullopt;
    }
    return out;
  }
  std::optional<std::vector<double>> nums_of(const Entry* e) {
    if (!e) return std::nullopt;
    std::vector<double> out;
    if (e->value.IsSequence())
      for (const auto& item : e->value) {
        auto v = item.IsScalar() ? parse_float(item.Scalar()) : std::nullopt;
        if (!v) break;
        out.push_back(*v);
      }
    if (!e->value.IsSequence() || out.size() != e->value.size()) {
      refuse(e, "expected a list of numbers");
      return std::nullopt;
    }
    return out;
  }
  bool is_map(const Entry* e) {
    if (e && !e->value.IsMap()) refuse(e, "expected a mapping");
    return e && e->value.IsMap();
  }

  // ---- writing ----------------------------------------------------------------------------

  // Records kiln `key` = `value`, taken from `from` (nullptr: GPT-NeoX's default for a key the
  // file leaves out).
  template <class T>
  void put(const std::string& key, const T& value, const Entry* from) {
    if (from)
      out_[key] = {to_node(value), at(file_, from->key.Mark()), shown(*from), from->key.Mark().line,
                   from->key.Mark().column};
    else
      out_[key] = {to_node(value), file_, "GPT-NeoX's default"};
  }

  // The common case: a NeoX key whose value kiln takes as it is.
  std::optional<int64_t> map_int(const char* neox, const char* key) {
    const Entry* e = take(neox);
    auto v = int_of(e);
    if (v) put(key, *v, e);
    return v;
  }
  std::optional<bool> map_bool(const char* neox, const char* key) {
    const Entry* e = take(neox);
    auto v = bool_of(e);
    if (v) put(key, *v, e);
    return v;
  }

  void refuse(const Entry* e, const std::string& why) {
    const YAML::Mark m = e->key.Mark();
    problems_.push_back({m.line, m.column, {at(file_, m), shown(*e) + ": " + why}});
  }
  void refuse_missing(const std::string& name, const std::string& why) {
    problems_.push_back({INT_MAX, INT_MAX, {file_, "'" + name + "' is not set: " + why}});
  }
  void ignore(const Entry& e) { ignored_.emplace_back(e.key.Mark().line, e.written); }
  void note(std::string text) { notes_.push_back(std::move(text)); }

  // ---- the mapping ------------------------------------------------------------------------

  void parallelism() {
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

  void model() {
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

  void norms() {
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

  void positions() {
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

  void mlp() {
    const Entry* type_e = take("mlp_type");
    const Entry* act_e = take("activation");
    const std::string type = str_of(type_e).value_or("regular");
    const std::string act = str_of(act_e).value_or("gelu");
    if (type == "gated" && (act == "silu" || act == "swish"))
      put("model.activation", "swiglu", act_e ? act_e : type_e);
    else if (type == "regular" && act == "gelu")
      put("model.activation", "gelu", act_e ? act_e : type_e);
    else
      refuse(act_e ? act_e : type_e, "kiln implements mlp_type gated with activation silu or swish (SwiGLU) and "
                                     "mlp_type regular with activation gelu; this file has mlp_type " +
                                         type + " with activation " + act);

    // GPT-NeoX's default multiple is 1; kiln's is 256, so write it out either way.
    const Entry* multiple_e = take("mlp_multiple_of");
    put("model.mlp_multiple_of", int_of(multiple_e).value_or(1), multiple_e);
    const Entry* size_e = take("intermediate_size");
    if (auto size = int_of(size_e)) {
      put("model.ffn_hidden_size", *size, size_e);
      if (type == "gated")
        note("intermediate_size " + std::to_string(*size) +
             " is taken as the width of each SwiGLU branch (model.ffn_hidden_size); upstream EleutherAI "
             "gpt-neox instead makes each branch about intermediate_size/3 wide: check which one wrote this file");
    }
  }

  void residual_and_embeddings() {
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

  // The attention kinds in `[[["flash", "global"], 12], ...]`: every scalar but the repeat counts.
  static void collect_kinds(const YAML::Node& n, std::vector<std::string>& kinds) {
    if (n.IsScalar()) {
      if (!parse_int(n.Scalar()) && n.Scalar() != "all") kinds.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      for (const auto& item : n) collect_kinds(item, kinds);
    } else if (n.IsMap()) {
      kinds.push_back("(a mapping)");
    }
  }

  void init() {
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

  void biases() {
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

  static std::string flag(bool value, const Entry* from) {
    return std::string(value ? "true" : "false") + (from ? "" : " (GPT-NeoX's default)");
  }

  void vocabulary() {
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

  void optimizer() {
    const Entry* opt = take("optimizer");
    if (!opt) {
      note("the file has no optimizer section; kiln's optimizer defaults apply");
      return;
    }
    if (!is_map(opt)) return;
    bool has_params = false;
    for (auto& [name, e] : children(opt->value, opt->written + ".")) {
      if (name == "type") {
        // DeepSpeed and GPT-NeoX build FusedAdam in AdamW mode: weight decay is decoupled.
        auto type = str_of(&e);
        std::string lower = type.value_or("");
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (type && lower != "adam" && lower != "adamw")
          refuse(&e, "kiln implements AdamW (GPT-NeoX's Adam with weight decay is decoupled AdamW)");
      } else if (name == "params") {
        has_params = true;
        optimizer_params(e);
      } else {
        refuse(&e, "unknown optimizer key; expected type and params");
      }
    }
    if (!has_params) note("the optimizer section has no params; kiln's optimizer defaults apply");
  }

  void optimizer_params(const Entry& params) {
    if (!is_map(&params)) return;
    std::optional<double> lr, eps;
    std::optional<std::vector<double>> betas;
    const Entry *lr_e = nullptr, *betas_e = nullptr, *eps_e = nullptr;
    auto kids = children(params.value, params.written + ".");
    for (auto& [name, e] : kids) {
      if (name == "lr") {
        lr_e = &e;
        lr = num_of(&e);
      } else if (name == "betas") {
        betas_e = &e;
        betas = nums_of(&e);
        if (betas && betas->size() != 2) {
          refuse(&e, "expected [beta1, beta2]");
          betas.reset();
        }
      } else if (name == "eps") {
        eps_e = &e;
        eps = num_of(&e);
      } else {
        refuse(&e, "unknown optimizer parameter; kiln's AdamW takes lr, betas and eps here");
      }
    }
    if (lr)
      put("optimizer.lr", *lr, lr_e);
    else if (!lr_e)
      note("the optimizer params have no lr; kiln's default optimizer.lr applies");
    // Adam's own defaults when the file leaves them out.
    put("optimizer.beta1", betas ? (*betas)[0] : 0.9, betas ? betas_e : nullptr);
    put("optimizer.beta2", betas ? (*betas)[1] : 0.999, betas ? betas_e : nullptr);
    put("optimizer.eps", eps.value_or(1e-8), eps ? eps_e : nullptr);
  }

  void schedule() {
    const Entry* wd = take("weight_decay");
    put("optimizer.weight_decay", num_of(wd).value_or(0.01), wd);
    const Entry* clip = take("gradient_clipping");  // DeepSpeed's; 0 means no clipping
    put("optimizer.grad_clip", num_of(clip).value_or(0.0), clip);

    const auto iters = map_int("train_iters", "train.steps");
    const auto decay = map_int("lr_decay_iters", "schedule.decay_steps");
    const Entry* min = take("min_lr");
    put("schedule.min_lr", num_of(min).value_or(0.0), min);

    const Entry* style_e = take("lr_decay_style");
    const std::string style = str_of(style_e).value_or("linear");
    const std::map<std::string, std::string> styles = {
        {"constant", "constant"}, {"linear", "linear"},   {"cosine", "cosine"}, {"hybrid_cosine_inv_sqrt", "hyb"},
        {"hybrid_cosine_inv_sqrt_2", "hyb2"}, {"inv_sqrt", "rsqrt"},
    };
    if (auto it = styles.find(style); it != styles.end())
      put("schedule.style", it->second, style_e);
    else
      refuse(style_e, "kiln implements constant, linear, cosine, inv_sqrt, hybrid_cosine_inv_sqrt and "
                      "hybrid_cosine_inv_sqrt_2");

    // GPT-NeoX's warmup is a fraction of the decay length (lr_decay_iters, or train_iters).
    const Entry* warm = take("warmup");
    const double fraction = num_of(warm).value_or(0.01);
    if (decay && (!iters || *decay != *iters)) {
      put("schedule.warmup_steps", static_cast<int64_t>(std::llround(fraction * static_cast<double>(*decay))), warm);
      note("schedule.warmup_steps = warmup × lr_decay_iters, as GPT-NeoX computes it");
    } else {
      put("schedule.warmup_fraction", fraction, warm);
    }

    // Stability-AI's fork: the last `cooldown` fraction of train_iters decays linearly.
    if (const Entry* e = take("cooldown"))
      if (auto v = num_of(e)) {
        if (iters)
          put("schedule.cooldown_steps", static_cast<int64_t>(std::llround(*v * static_cast<double>(*iters))), e);
        else
          refuse(e, "cooldown is a fraction of train_iters, which the file does not set");
      }
  }

  void batch_and_data() {
    const auto micro = map_int("train_micro_batch_size_per_gpu", "batch.micro_batch");
    const auto accum = map_int("gradient_accumulation_steps", "batch.grad_accum");
    const Entry* total_e = take("train_batch_size");
    if (auto total = int_of(total_e)) {
      put("batch.global_batch", *total, total_e);
      if (micro && accum && *micro > 0 && *accum > 0) {
        if (*total % (*micro * *accum) == 0) {
          put("parallel.data", *total / (*micro * *accum), total_e);
          note("parallel.data = train_batch_size / (micro batch × accumulation) = " +
               std::to_string(*total / (*micro * *accum)) + "; override it to match the launch");
        } else {
          refuse(total_e, "not a multiple of train_micro_batch_size_per_gpu × gradient_accumulation_steps");
        }
      }
    } else if (!total_e) {
      note("the file does not set train_batch_size: GPT-NeoX takes the data-parallel size from the launcher, "
           "so the global batch is micro batch × accumulation × parallel.data; set parallel.data (or "
           "batch.global_batch) for the real run");
    }

    if (const Entry* e = take("data_impl"))
      if (auto v = str_of(e)) {
        if (*v == "mmap")
          put("data.format", "mmap", e);
        else
          refuse(e, "kiln reads mmap indexed datasets (data_impl mmap) or HDF5 shards (data.format hdf5)");
      }

    const Entry* train_e = take("train_data_paths");
    const auto train = strs_of(train_e);
    if (train) put("data.train_paths", *train, train_e);
    if (const Entry* e = take("valid_data_paths"))
      if (auto v = strs_of(e)) put("data.valid_paths", *v, e);
    if (const Entry* e = take("train_data_weights"))
      if (auto v = nums_of(e)) put("data.train_weights", *v, e);
    if (const Entry* e = take("valid_data_weights"))
      if (auto v = nums_of(e)) put("data.valid_weights", *v, e);
    // One combined dataset, split into train/valid/test by `split`; only when no train paths are given.
    if (const Entry* e = take("data_path"))
      if (auto v = str_of(e)) {
        if (train && !train->empty())
          note("data_path is not used when train_data_paths is set (as in GPT-NeoX)");
        else
          put("data.train_paths", std::vector<std::string>{*v}, e);
      }
    if (const Entry* e = take("split"))
      if (auto v = split_of(e)) put("data.split", *v, e);

    map_bool("reset_attention_mask", "data.reset_attention_mask");
    map_bool("reset_position_ids", "data.reset_position_ids");
  }

  // "969, 30, 1" (or "969/30/1"): proportions, normalised to fractions as Megatron does.
  std::optional<std::vector<double>> split_of(const Entry* e) {
    auto text = str_of(e);
    if (!text) return std::nullopt;
    const char sep = text->find(',') != std::string::npos ? ',' : '/';
    std::vector<double> parts;
    double sum = 0;
    size_t start = 0;
    while (start <= text->size()) {
      size_t end = text->find(sep, start);
      if (end == std::string::npos) end = text->size();
      std::string part = text->substr(start, end - start);
      part.erase(0, part.find_first_not_of(' '));
      part.erase(part.find_last_not_of(' ') + 1);
      auto v = parse_float(part);
      if (!v || *v < 0) {
        refuse(e, "expected proportions such as \"969, 30, 1\"");
        return std::nullopt;
      }
      parts.push_back(*v);
      sum += *v;
      start = end + 1;
    }
    if (parts.size() > 3 || sum <= 0) {
      refuse(e, "expected up to three proportions (train, valid, test) with a positive sum");
      return std::nullopt;
    }
    parts.resize(3, 0.0);
    for (double& p : parts) p /= sum;
    return parts;
  }

  void run_settings() {
    map_int("seed", "train.seed");
    map_int("log_interval", "logging.interval");
    map_int("eval_interval", "train.eval_interval");
    map_int("eval_iters", "train.eval_steps");
    map_int("keep_last_n_checkpoints", "checkpoint.keep_last");
    map_int("checkpoint_factor", "checkpoint.interval");
    if (const Entry* e = take("checkpoint_scale"))
      if (auto v = str_of(e); v && *v != "linear")
        refuse(e, "kiln saves every checkpoint.interval steps; log-spaced checkpoints are not implemented");

    if (const Entry* e = take("save"))
      if (auto v = str_of(e); v && !v->empty()) put("checkpoint.dir", *v, e);
    if (const Entry* e = take("load"))
      if (auto v = str_of(e); v && !v->empty()) put("checkpoint.resume", *v, e);

    const Entry* ckpt = take("checkpoint_activations");
    if (auto v = bool_of(ckpt)) put("train.recompute", *v ? "full" : "none", ckpt);
  }

  void precision() {
    const Entry* p_e = take("precision");
    const Entry* bf = take("bf16");
    const Entry* fp = take("fp16");
    const bool bf_on = enabled(bf), fp_on = enabled(fp);
    const std::string fp16_why = "kiln trains in bf16 or fp32; fp16 with loss scaling is not implemented";
    if (fp_on) refuse(fp, fp16_why);

    if (auto p = str_of(p_e)) {
      if (*p == "bfloat16" || *p == "bf16")
        precision_ = "bf16";
      else if (*p == "fp32" || *p == "float32")
        precision_ = "fp32";
      else
        refuse(p_e, *p == "fp16" || *p == "float16" ? fp16_why : "expected bfloat16 or fp32");
    }
    if (bf_on) {
      if (!precision_.empty() && precision_ != "bf16")
        refuse(bf, "bf16 is enabled but precision is " + p_e->value.Scalar());
      else
        precision_ = "bf16";
    }
    if (!p_e && !bf && !fp) {
      precision_ = "fp32";
      note("the file sets no precision, so GPT-NeoX trains in fp32: train.precision = fp32");
    }
    if (!precision_.empty()) put("train.precision", precision_, p_e ? p_e : bf);

    // The gradient reduction is fp32 when asked for, or when the gradients are fp32 anyway.
    // GPT-NeoX's default is false: gradients are reduced in the training dtype.
    const Entry* allreduce = take("fp32_allreduce");
    put("parallel.grad_reduce_dtype", bool_of(allreduce).value_or(false) || precision_ == "fp32" ? "fp32" : "bf16",
        allreduce);

    if (auto v = bool_of(take("full_precision_lm_cross_entropy")); v && !*v)
      note("full_precision_lm_cross_entropy is false, but kiln computes the cross-entropy in fp32 anyway");
  }

  // DeepSpeed's {"enabled": true, ...} blocks; the other keys tune loss scaling or communication.
  bool enabled(const Entry* block) {
    if (!is_map(block)) return false;
    bool on = false;
    for (auto& [name, e] : children(block->value, block->written + ".")) {
      if (name == "enabled")
        on = bool_of(&e).value_or(false);
      else
        ignore(e);
    }
    return on;
  }

  void regularisation() {
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

  void leftovers() {
    for (const auto& name : order_) {
      if (taken_.count(name)) continue;
      const Entry& e = top_.at(name);
      const bool infrastructure =
          kInfrastructure.count(name) ||
          std::any_of(kInfrastructurePrefixes.begin(), kInfrastructurePrefixes.end(),
                      [&](const std::string& p) { return name.starts_with(p); });
      if (infrastructure || kImplementation.count(name) || (kMupOnly.count(name) && !mup_)) {
        ignore(e);
      } else if (!kMupOnly.count(name)) {
        std::vector<std::string> known(taken_.begin(), taken_.end());
        known.insert(known.end(), kInfrastructure.begin(), kInfrastructure.end());
        known.insert(known.end(), kImplementation.begin(), kImplementation.end());
        auto guess = closest_match(name, known);
        refuse(&e, "unknown GPT-NeoX key; kiln cannot tell whether it changes the math" +
                       (guess ? " (did you mean '" + *guess + "'?)" : std::string()));
      }
    }
  }

  // Checks every value against its kiln field (so a bad value is reported at its NeoX key), then
  // builds the tree in schema order.
  NeoxImport finish() {
    const Schema& schema = Schema::instance();
    for (const auto& [key, em] : out_) {
      const Field* field = schema.find(key);
      if (!field) throw std::logic_error("GPT-NeoX import writes '" + key + "', which is not a kiln key");
      Config scratch = schema.defaults();
      if (auto err = field->parse(scratch, em.value))
        problems_.push_back({em.line, em.column, {em.where, em.label + " gives " + key + ", which " + *err}});
    }
    if (!problems_.empty()) {
      std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
      });
      std::vector<Diagnostic> diagnostics;
      for (auto& p : problems_) diagnostics.push_back(std::move(p.diagnostic));
      throw ConfigError(std::move(diagnostics));
    }

    NeoxImport result;
    result.config = YAML::Node(YAML::NodeType::Map);
    for (const auto& field : schema.fields()) {
      auto it = out_.find(field->key());
      if (it == out_.end()) continue;
      YAML::Node node = result.config;
      const std::string& key = field->key();
      size_t start = 0;
      for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
        node.reset(node[key.substr(start, dot - start)]);
      node[key.substr(start)] = it->second.value;
    }
    std::stable_sort(ignored_.begin(), ignored_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [line, key] : ignored_) result.ignored.push_back(std::move(key));
    result.notes = std::move(notes_);
    return result;
  }
};

}  // namespace

NeoxImport import_neox(const std::filesystem::path& file, const NeoxImportOptions& options) {
  const std::string name = file.string();
  if (!std::filesystem::is_regular_file(file))
    throw ConfigError(Diagnostic{name, "GPT-NeoX config '" + name + "' does not exist or is not a file"});
  YAML::Node root;
  try {
    root = YAML::LoadFile(name);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(Diagnostic{at(name, e.mark), "YAML syntax error: " + e.msg});
  } catch (const YAML::BadFile&) {
    throw ConfigError(Diagnostic{name, "cannot read GPT-NeoX config '" + name + "'"});
  }
  if (!root.IsMap())
    throw ConfigError(Diagnostic{at(name, root.Mark()), "a GPT-NeoX config must be a mapping of keys"});
  return Importer(name, options).run(root);
}

}  // namespace kiln
