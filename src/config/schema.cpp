#include "config/schema.h"

#include <algorithm>
#include <charconv>

#include "config/typed_field.h"

namespace kiln {

Field::Field(std::string key) : key_(std::move(key)) {
  section_ = key_.substr(0, key_.rfind('.'));
}

std::string format_double(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  std::string s(buf, end);
  if (s.find('.') != std::string::npos) return s;
  auto e = s.find('e');
  if (e == std::string::npos) return s + ".0";
  s.insert(e, ".0");
  return s;
}

std::string Bounds::text() const {
  auto num = [](double v) {
    std::string s = format_double(v);
    if (s.size() > 2 && s.ends_with(".0")) s.resize(s.size() - 2);
    return s;
  };
  if (lo && hi) return num(*lo) + (lo_open ? " < x " : " ≤ x ") + (hi_open ? "< " : "≤ ") + num(*hi);
  if (lo) return (lo_open ? "> " : "≥ ") + num(*lo);
  if (hi) return (hi_open ? "< " : "≤ ") + num(*hi);
  return "";
}

template <class T>
class Schema::Builder {
 public:
  static TypedField<T>& add(Schema& s, const char* key, typename TypedField<T>::Ref ref) {
    auto f = std::make_unique<TypedField<T>>(key, std::move(ref));
    auto& out = *f;
    s.fields_.push_back(std::move(f));
    return out;
  }
};

namespace {

template <class X>
struct OptionalBuilder {
  static OptionalField<X>& add(std::vector<std::unique_ptr<Field>>& fields, const char* key,
                               typename OptionalField<X>::Ref ref) {
    auto f = std::make_unique<OptionalField<X>>(key, std::move(ref));
    auto& out = *f;
    fields.push_back(std::move(f));
    return out;
  }
};

}  // namespace

// The key of a field is the path of its Config member, so one macro names both.
#define KEY(path) #path, [](Config& c) -> auto& { return c.path; }

Schema::Schema() {
  auto& s = *this;
  auto i64 = [&](const char* k, auto ref) -> TypedField<int64_t>& { return Builder<int64_t>::add(s, k, ref); };
  auto f64 = [&](const char* k, auto ref) -> TypedField<double>& { return Builder<double>::add(s, k, ref); };
  auto flag = [&](const char* k, auto ref) -> TypedField<bool>& { return Builder<bool>::add(s, k, ref); };
  auto str = [&](const char* k, auto ref) -> TypedField<std::string>& {
    return Builder<std::string>::add(s, k, ref);
  };
  auto strs = [&](const char* k, auto ref) -> auto& { return Builder<std::vector<std::string>>::add(s, k, ref); };
  auto nums = [&](const char* k, auto ref) -> auto& { return Builder<std::vector<double>>::add(s, k, ref); };
  auto opt_i64 = [&](const char* k, auto ref) -> auto& { return OptionalBuilder<int64_t>::add(fields_, k, ref); };
  auto opt_f64 = [&](const char* k, auto ref) -> auto& { return OptionalBuilder<double>::add(fields_, k, ref); };
  auto opt_flag = [&](const char* k, auto ref) -> auto& { return OptionalBuilder<bool>::add(fields_, k, ref); };
  auto opt_str = [&](const char* k, auto ref) -> auto& {
    return OptionalBuilder<std::string>::add(fields_, k, ref);
  };
  auto choice = [&]<class E>(E, const char* k, auto ref) -> TypedField<E>& { return Builder<E>::add(s, k, ref); };

  // ---- model ------------------------------------------------------------------------------
  i64(KEY(model.num_layers)).required().min(1).doc("Number of decoder blocks.");
  i64(KEY(model.hidden_size)).required().min(1).doc("Width of the residual stream (d).");
  i64(KEY(model.num_heads)).required().min(1).doc("Attention heads; must divide hidden_size.");
  opt_i64(KEY(model.ffn_hidden_size))
      .min(1)
      .derived("swiglu: mlp_multiple_of·ceil(8/3·hidden_size / mlp_multiple_of); gelu: 4·hidden_size")
      .doc("Inner width of the MLP (per branch for SwiGLU).");
  i64(KEY(model.mlp_multiple_of)).def(256).min(1).doc("Rounding multiple for the derived SwiGLU width.");
  i64(KEY(model.vocab_size)).required().min(1).doc("Tokenizer vocabulary size (before padding).");
  i64(KEY(model.vocab_pad_multiple))
      .def(128)
      .min(1)
      .doc("Embedding and LM-head rows are padded up to a multiple of this (1: no padding).");
  i64(KEY(model.seq_length)).required().min(1).doc("Training sequence length in tokens.");
  opt_i64(KEY(model.max_position_embeddings))
      .min(1)
      .derived("seq_length")
      .doc("Longest context the model is meant for (written to exported configs).");
  choice(NormType{}, KEY(model.norm)).def(NormType::layernorm).doc("Normalisation of the pre-LN blocks.");
  f64(KEY(model.norm_eps)).def(1e-5).gt(0).doc("Epsilon of the norms.");
  flag(KEY(model.norm_bias)).def(true).doc("LayerNorm bias in the per-layer norms (ignored for rmsnorm).");
  opt_flag(KEY(model.final_norm_bias))
      .derived("norm_bias")
      .doc("LayerNorm bias in the final norm; Stable LM 2 1.6B has it while its per-layer norms don't.");
  choice(PositionType{}, KEY(model.positions)).def(PositionType::rotary).doc("Position encoding.");
  f64(KEY(model.rotary_pct))
      .def(0.25)
      .gt(0)
      .max(1)
      .doc("Fraction of each head's dimensions that rotary rotates (NeoX rotate-half).");
  f64(KEY(model.rotary_theta)).def(10000.0).gt(0).doc("Rotary base frequency theta.");
  flag(KEY(model.qkv_bias)).def(false).doc("Biases on the Q, K and V projections.");
  flag(KEY(model.linear_bias)).def(false).doc("Biases on the attention-out and MLP projections.");
  flag(KEY(model.parallel_residual))
      .def(false)
      .doc("x + attn(LN1(x)) + mlp(LN2(x)) (GPT-J style) instead of sequential blocks.");
  choice(Activation{}, KEY(model.activation)).def(Activation::swiglu).doc("MLP type.");
  flag(KEY(model.tied_embeddings)).def(false).doc("LM head shares the input embedding matrix.");
  choice(InitMethod{}, KEY(model.init.method)).def(InitMethod::normal).doc("Weight initialiser.");
  f64(KEY(model.init.std)).def(0.02).gt(0).doc("σ of the hidden weight matrices.");
  opt_f64(KEY(model.init.embedding_std)).gt(0).derived("model.init.std").doc("σ of the embedding matrix.");
  flag(KEY(model.init.scale_output_layers))
      .def(true)
      .doc("Attention-out and MLP-out σ × 1/sqrt(2·num_layers) (GPT-NeoX scaled_normal).");
  f64(KEY(model.init.truncation)).def(2.0).gt(0).doc("truncated_normal cuts at ±truncation·σ.");
  flag(KEY(model.mup.enabled)).def(false).doc("µP parametrisation as BTLM uses it (SPEC §3).");
  f64(KEY(model.mup.base_hidden_size))
      .def(256.0)
      .gt(0)
      .doc("Proxy-model width; width_scale = base_hidden_size / hidden_size.");
  opt_f64(KEY(model.mup.base_ffn_size))
      .gt(0)
      .derived("base_hidden_size · ffn_hidden_size / hidden_size")
      .doc("Proxy-model FFN width; must give the same width scale as base_hidden_size.");
  f64(KEY(model.mup.embeddings_scale)).def(1.0).gt(0).doc("Embedding output multiplier (BTLM 14.6).");
  f64(KEY(model.mup.output_alpha))
      .def(1.0)
      .gt(0)
      .doc("Logits multiplier before width scaling (BTLM 2.22; logits × alpha × width_scale).");
  flag(KEY(model.mup.scale_qk_dot_by_d)).def(false).doc("Attention scores QKᵀ/d_head instead of /sqrt(d_head).");

  // ---- parallel -----------------------------------------------------------------------------
  i64(KEY(parallel.tensor)).def(1).min(1).doc("Tensor-parallel size (consecutive ranks, inside a node).");
  i64(KEY(parallel.data)).def(1).min(1).doc("Data-parallel size; world size = tensor × data.");
  i64(KEY(parallel.zero_stage)).def(1).min(0).max(1).doc("1 shards fp32 master weights and Adam moments over data-parallel ranks.");
  choice(Precision{}, KEY(parallel.grad_reduce_dtype))
      .def(Precision::fp32)
      .doc("Dtype of the gradient buffer and its data-parallel reduction.");

  // ---- optimizer ----------------------------------------------------------------------------
  f64(KEY(optimizer.lr)).def(1e-3).gt(0).doc("Peak learning rate (AdamW).");
  f64(KEY(optimizer.beta1)).def(0.9).min(0).lt(1).doc("Adam β1.");
  f64(KEY(optimizer.beta2)).def(0.95).min(0).lt(1).doc("Adam β2.");
  f64(KEY(optimizer.eps)).def(1e-8).gt(0).doc("Adam ε.");
  f64(KEY(optimizer.weight_decay)).def(0.1).min(0).doc("Decoupled weight decay (none on biases and norms).");
  f64(KEY(optimizer.grad_clip)).def(1.0).min(0).doc("Global gradient-norm clip; 0 disables.");

  // ---- schedule -----------------------------------------------------------------------------
  choice(ScheduleStyle{}, KEY(schedule.style))
      .def(ScheduleStyle::cosine)
      .doc("Decay after warmup (SPEC §2); wsd is warmup-stable-decay; hyb and hyb2 are Stable LM 2's cosine→rsqrt hybrids.");
  opt_i64(KEY(schedule.warmup_steps))
      .min(0)
      .derived("round(warmup_fraction · train.steps), or 0")
      .doc("Linear warmup from 0 to optimizer.lr.");
  opt_f64(KEY(schedule.warmup_fraction))
      .min(0)
      .lt(1)
      .derived("not used when warmup_steps is given")
      .doc("Warmup as a fraction of train.steps (GPT-NeoX `warmup`).");
  opt_i64(KEY(schedule.decay_steps)).min(1).derived("train.steps").doc("Step at which the decay reaches min_lr.");
  f64(KEY(schedule.min_lr)).def(0.0).min(0).doc("Floor of the decay.");
  i64(KEY(schedule.cooldown_steps)).def(0).min(0).doc("Linear cooldown over the last cooldown_steps of train.steps.");
  f64(KEY(schedule.cooldown_min_lr)).def(0.0).min(0).doc("Learning rate at the end of the cooldown.");
  opt_f64(KEY(schedule.hybrid_switch))
      .gt(0)
      .lt(1)
      .derived("hyb 0.25, hyb2 0.5; unset for other styles")
      .doc("Where the hybrid switches from cosine to rsqrt, as a fraction of the decay span.");
  i64(KEY(schedule.wsd_decay_steps))
      .def(0)
      .min(0)
      .doc("wsd: constant lr until decay_steps − wsd_decay_steps, then decay to min_lr over these steps.");
  choice(WsdShape{}, KEY(schedule.wsd_decay_shape))
      .def(WsdShape::linear)
      .doc("wsd decay shape in r = fraction of the decay done: linear 1−r, cosine, exponential, sqrt 1−sqrt(r).");

  // ---- batch --------------------------------------------------------------------------------
  i64(KEY(batch.micro_batch)).def(1).min(1).doc("Sequences per rank per micro step.");
  opt_i64(KEY(batch.grad_accum))
      .min(1)
      .derived("global_batch / (micro_batch · parallel.data), or 1")
      .doc("Micro steps per optimizer step.");
  opt_i64(KEY(batch.global_batch))
      .min(1)
      .derived("micro_batch · grad_accum · parallel.data")
      .doc("Sequences per optimizer step across all data-parallel ranks.");

  // ---- data ---------------------------------------------------------------------------------
  strs(KEY(data.train_paths)).doc("Training shard prefixes (mmap: without .bin/.idx) or files.");
  nums(KEY(data.train_weights)).min(0).doc("Blend weights, one per train path; empty: by size.");
  strs(KEY(data.valid_paths)).doc("Validation shards; empty: carved from train by data.split.");
  nums(KEY(data.valid_weights)).min(0).doc("Blend weights, one per valid path; empty: by size.");
  choice(DataFormat{}, KEY(data.format))
      .def(DataFormat::mmap)
      .doc("Shard format (SPEC §4), or synthetic: kiln's built-in learnable Markov-chain language (no files).");
  i64(KEY(data.seed)).def(1234).doc("Seed of the sample order (independent of the rank count).");
  nums(KEY(data.split))
      .def({0.969, 0.03, 0.001})
      .min(0)
      .doc("Train/valid/test fractions used when valid_paths is empty.");
  str(KEY(data.tokenizer)).def("").doc("Tokenizer file the shards were made with (tokenizer.json or .tiktoken).");
  opt_i64(KEY(data.eod_token_id)).min(0).derived("unset: the data pipeline asks the tokenizer").doc("End-of-document token id.");
  flag(KEY(data.reset_attention_mask)).def(false).doc("No attention across documents packed in one sequence.");
  flag(KEY(data.reset_position_ids)).def(false).doc("Positions restart at 0 at each document start.");

  // ---- checkpoint ---------------------------------------------------------------------------
  str(KEY(checkpoint.dir)).def("").doc("Checkpoint directory; empty: <run dir>/checkpoints.");
  i64(KEY(checkpoint.interval)).def(1000).min(0).doc("Steps between checkpoints; 0: only at the end and on signals.");
  i64(KEY(checkpoint.keep_last)).def(3).min(1).doc("Checkpoints kept; older ones are deleted.");
  str(KEY(checkpoint.resume)).def("auto").doc("none, auto (newest valid checkpoint if any) or a checkpoint path.");
  str(KEY(checkpoint.init_from))
      .def("")
      .doc("Start a new run (step 0, fresh data, this config's schedule) from this checkpoint's weights; "
           "checkpoint.resume of the run's own checkpoints takes precedence.");
  flag(KEY(checkpoint.init_optimizer)).def(false).doc("With init_from: also take its Adam moments and update count.");
  flag(KEY(checkpoint.save_on_signal)).def(true).doc("Save before exiting on SIGTERM or SIGUSR1.");
  flag(KEY(checkpoint.save_final))
      .def(true)
      .doc("Save at the last step; false for benchmarks, which then end without writing a checkpoint.");

  // ---- logging ------------------------------------------------------------------------------
  choice(LogLevel{}, KEY(logging.level)).def(LogLevel::info).doc("Log level.");
  i64(KEY(logging.interval)).def(10).min(1).doc("Steps between log lines and metrics records.");
  flag(KEY(logging.all_ranks)).def(false).doc("Every rank logs at logging.level (otherwise rank 0; others warn+).");
  str(KEY(logging.metrics_file)).def("metrics.jsonl").doc("JSON-lines metrics, relative to the run directory.");

  // ---- train --------------------------------------------------------------------------------
  opt_str(KEY(train.name)).derived("the config file name without extension").doc("Run name.");
  str(KEY(train.output_dir)).def("runs").doc("Runs are written to <output_dir>/<name>.");
  i64(KEY(train.steps)).required().min(1).doc("Optimizer steps to train.");
  i64(KEY(train.seed)).def(1234).doc("Seed of initialisation and every other random stream.");
  choice(Device{}, KEY(train.device)).def(Device::cpu).doc("Backend: cpu (the reference, fp32 math) or cuda (one GPU per rank, bf16 storage; docs/cuda-backend.md).");
  choice(Precision{}, KEY(train.precision)).def(Precision::bf16).doc("Parameter and activation dtype (fp32 masters either way).");
  choice(Recompute{}, KEY(train.recompute))
      .def(Recompute::none)
      .doc("Activation recomputation: selective recomputes the MLP intermediates, full the whole layer from its input (docs/training.md).");
  opt_i64(KEY(train.recompute_layers))
      .min(0)
      .derived("unset: every layer (model.num_layers)")
      .doc("How many layers, from the first, recompute (the others keep every activation): trades memory for time layer by layer.");
  i64(KEY(train.eval_interval)).def(1000).min(0).doc("Steps between evaluations; 0 disables.");
  i64(KEY(train.eval_steps)).def(10).min(1).doc("Batches per evaluation.");

  // Schema order, not alphabetical: it is the order of the docs and of emitted configs.
  for (const auto& f : fields_)
    if (std::find(sections_.begin(), sections_.end(), f->section()) == sections_.end()) {
      auto top = f->section().substr(0, f->section().find('.'));
      if (std::find(sections_.begin(), sections_.end(), top) == sections_.end()) sections_.push_back(top);
      if (top != f->section()) sections_.push_back(f->section());
    }
}

#undef KEY

const Schema& Schema::instance() {
  static const Schema schema;
  return schema;
}

const Field* Schema::find(std::string_view key) const {
  for (const auto& f : fields_)
    if (f->key() == key) return f.get();
  return nullptr;
}

bool Schema::is_section(std::string_view key) const {
  return std::find(sections_.begin(), sections_.end(), key) != sections_.end();
}

std::vector<std::string> Schema::all_keys() const {
  std::vector<std::string> keys = sections_;
  for (const auto& f : fields_) keys.push_back(f->key());
  return keys;
}

Config Schema::defaults() const {
  Config c{};
  for (const auto& f : fields_) f->set_default(c);
  return c;
}

}  // namespace kiln
