// The GPT-NeoX importer's mapping of training: optimizer, schedule, batch, data, run settings
// (seed, logging, evaluation, checkpoints) and precision.
#include "config/neox_importer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "config/scalar.h"

namespace kiln::neox {

void Importer::optimizer() {
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

void Importer::optimizer_params(const Entry& params) {
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

void Importer::schedule() {
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

  // Not among GPT-NeoX's arguments (megatron/neox_arguments), so GPT-NeoX itself would not read
  // them; each would change the schedule if a fork did.
  if (const Entry* e = take("warmup_iters"))
    refuse(e, "not a GPT-NeoX argument (its warmup is the fraction `warmup`); set schedule.warmup_steps in kiln");
  if (const Entry* e = take("decay_lr_to"))
    refuse(e, "not a GPT-NeoX argument (its floor is the absolute `min_lr`); set schedule.min_lr in kiln");

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

void Importer::batch_and_data() {
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
std::optional<std::vector<double>> Importer::split_of(const Entry* e) {
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

void Importer::run_settings() {
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

void Importer::precision() {
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

  // DeepSpeed's data_types block: grad_accum_dtype fp32 is what kiln's CPU backend does.
  if (const Entry* dt = take("data_types"); is_map(dt)) {
    for (auto& [name, e] : children(dt->value, dt->written + ".")) {
      if (name == "grad_accum_dtype" && str_of(&e) == std::optional<std::string>("fp32"))
        ignore(e);
      else
        refuse(&e, "kiln accumulates gradients in its own precision (fp32 on the CPU); only grad_accum_dtype fp32 "
                   "is accepted");
    }
  }
}

// DeepSpeed's {"enabled": true, ...} blocks; the other keys tune loss scaling or communication.
bool Importer::enabled(const Entry* block) {
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

}  // namespace kiln::neox
