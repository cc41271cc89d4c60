// derive() and check_consistency(): the parts of config loading that look at several keys at once.
#include <cmath>
#include <sstream>

#include "config/enum_names.h"
#include "config/loader.h"
#include "config/schema.h"

namespace kiln {

int64_t ModelConfig::rotary_dims() const {
  if (positions != PositionType::rotary) return 0;
  return static_cast<int64_t>(static_cast<double>(head_dim()) * rotary_pct);  // GPT-NeoX: int(d_head·pct)
}

void derive(Config& c, const std::string& default_name) {
  auto& m = c.model;
  if (!m.ffn_hidden_size) {
    if (m.activation == Activation::swiglu) {
      const int64_t k = m.mlp_multiple_of;
      m.ffn_hidden_size = (8 * m.hidden_size + 3 * k - 1) / (3 * k) * k;  // k·ceil(8d/3 / k)
    } else {
      m.ffn_hidden_size = 4 * m.hidden_size;
    }
  }
  if (!m.max_position_embeddings) m.max_position_embeddings = m.seq_length;
  if (!m.final_norm_bias) m.final_norm_bias = m.norm_bias;
  if (!m.init.embedding_std) m.init.embedding_std = m.init.std;
  if (!m.mup.base_ffn_size)
    m.mup.base_ffn_size = m.mup.base_hidden_size * static_cast<double>(m.ffn()) / static_cast<double>(m.hidden_size);

  auto& s = c.schedule;
  if (!s.warmup_steps)
    s.warmup_steps = s.warmup_fraction ? std::llround(*s.warmup_fraction * static_cast<double>(c.train.steps)) : 0;
  if (!s.decay_steps) s.decay_steps = c.train.steps;
  if (!s.hybrid_switch) {
    if (s.style == ScheduleStyle::hyb) s.hybrid_switch = 0.25;
    if (s.style == ScheduleStyle::hyb2) s.hybrid_switch = 0.5;
  }

  auto& b = c.batch;
  const int64_t per_micro_step = b.micro_batch * c.parallel.data;
  if (!b.grad_accum) b.grad_accum = b.global_batch ? std::max<int64_t>(1, *b.global_batch / per_micro_step) : 1;
  if (!b.global_batch) b.global_batch = *b.grad_accum * per_micro_step;

  if (!c.train.name) c.train.name = default_name;
  // train.recompute_layers stays unset when not given (every layer): a derived value would go stale
  // when a later step replaces the model (kiln import-hf keeps a base config's training keys).
}

namespace {

// "model.num_heads = 32 (tiny.yml:5:3)"
class Describer {
 public:
  explicit Describer(const LoadedConfig& l) : loaded_(l) {}
  template <class T>
  std::string operator()(const std::string& key, const T& value) const {
    std::ostringstream os;
    os << key << " = " << value << " (" << loaded_.origin(key) << ")";
    return os.str();
  }

 private:
  const LoadedConfig& loaded_;
};

}  // namespace

std::vector<Diagnostic> check_consistency(const LoadedConfig& loaded) {
  const Config& c = loaded.config;
  const ModelConfig& m = c.model;
  const Describer d(loaded);
  const auto set = [&](const std::string& key) { return loaded.origins.count(key) > 0; };
  std::vector<Diagnostic> errors;
  auto fail = [&](std::string msg) { errors.push_back({"", std::move(msg)}); };

  if (m.hidden_size % m.num_heads != 0)
    fail(d("model.hidden_size", m.hidden_size) + " is not divisible by " + d("model.num_heads", m.num_heads));

  if (m.positions == PositionType::rotary && m.hidden_size % m.num_heads == 0) {
    const int64_t r = m.rotary_dims();
    if (r < 2 || r % 2 != 0)
      fail(d("model.rotary_pct", m.rotary_pct) + " × head dim " + std::to_string(m.head_dim()) + " (" +
           d("model.hidden_size", m.hidden_size) + " / " + d("model.num_heads", m.num_heads) + ") gives " +
           std::to_string(r) + " rotary dimensions; rotate-half needs an even number ≥ 2");
  }
  if (*m.max_position_embeddings < m.seq_length)
    fail(d("model.max_position_embeddings", *m.max_position_embeddings) + " is shorter than " +
         d("model.seq_length", m.seq_length));
  if (m.mup.enabled) {
    const double width = m.mup.base_hidden_size / static_cast<double>(m.hidden_size);
    const double ffn_width = *m.mup.base_ffn_size / static_cast<double>(m.ffn());
    if (std::fabs(ffn_width - width) > 1e-4 * width)
      fail("µP width scales disagree: " + d("model.mup.base_hidden_size", m.mup.base_hidden_size) + " / " +
           d("model.hidden_size", m.hidden_size) + " = " + format_double(width) + " but " +
           d("model.mup.base_ffn_size", *m.mup.base_ffn_size) + " / " + d("model.ffn_hidden_size", m.ffn()) +
           " = " + format_double(ffn_width));
  } else {
    // A µP value given without enabling µP would silently do nothing. Values equal to the default
    // are fine: resolved configs written by kiln list every key.
    const Config defaults = Schema::instance().defaults();
    std::string stray;
    for (const auto& f : Schema::instance().fields())
      if (f->section() == "model.mup" && f->key() != "model.mup.enabled" && f->key() != "model.mup.base_ffn_size" &&
          set(f->key()) && YAML::Dump(f->emit(c)) != YAML::Dump(f->emit(defaults)))
        stray += (stray.empty() ? "" : ", ") + f->key() + " (" + loaded.origin(f->key()) + ")";
    if (!stray.empty()) fail(stray + " set but model.mup.enabled is false; enable µP or remove them");
  }

  // Tensor parallelism splits whole heads, the FFN width and the padded vocabulary.
  const int64_t tp = c.parallel.tensor;
  std::vector<std::string> undivided;
  if (m.num_heads % tp != 0) undivided.push_back(d("model.num_heads", m.num_heads));
  if (m.ffn() % tp != 0) undivided.push_back(d("model.ffn_hidden_size", m.ffn()));
  if (m.padded_vocab() % tp != 0)
    undivided.push_back("the padded vocabulary " + std::to_string(m.padded_vocab()) + " (" +
                        d("model.vocab_size", m.vocab_size) + " padded to a multiple of " +
                        d("model.vocab_pad_multiple", m.vocab_pad_multiple) + ")");
  if (!undivided.empty()) {
    std::string list;
    for (size_t i = 0; i < undivided.size(); ++i)
      list += (i == 0 ? "" : i + 1 == undivided.size() ? " and " : ", ") + undivided[i];
    fail(d("parallel.tensor", tp) + " must divide " + list);
  }

  const auto& b = c.batch;
  if (*b.global_batch != b.micro_batch * *b.grad_accum * c.parallel.data)
    fail(d("batch.global_batch", *b.global_batch) + " ≠ " + d("batch.micro_batch", b.micro_batch) + " × " +
         d("batch.grad_accum", *b.grad_accum) + " × " + d("parallel.data", c.parallel.data) + " = " +
         std::to_string(b.micro_batch * *b.grad_accum * c.parallel.data));

  const auto& s = c.schedule;
  if (s.warmup_fraction &&
      *s.warmup_steps != std::llround(*s.warmup_fraction * static_cast<double>(c.train.steps)))
    fail(d("schedule.warmup_steps", *s.warmup_steps) + " disagrees with " +
         d("schedule.warmup_fraction", *s.warmup_fraction) + " × " + d("train.steps", c.train.steps) +
         "; give one of the two");
  if (s.style != ScheduleStyle::constant && *s.warmup_steps >= *s.decay_steps)
    fail(d("schedule.warmup_steps", *s.warmup_steps) + " must be below " + d("schedule.decay_steps", *s.decay_steps) +
         " for a decaying schedule");
  if (c.train.steps - s.cooldown_steps < *s.warmup_steps)
    fail(d("schedule.cooldown_steps", s.cooldown_steps) + " overlaps the warmup: " +
         d("schedule.warmup_steps", *s.warmup_steps) + " + cooldown exceeds " + d("train.steps", c.train.steps));
  if (s.hybrid_switch && s.style != ScheduleStyle::hyb && s.style != ScheduleStyle::hyb2)
    fail(d("schedule.hybrid_switch", *s.hybrid_switch) + " applies only to hyb and hyb2, not " +
         d("schedule.style", enum_name(s.style)));
  if (s.style == ScheduleStyle::wsd &&
      (s.wsd_decay_steps < 1 || s.wsd_decay_steps > *s.decay_steps - *s.warmup_steps))
    fail(d("schedule.wsd_decay_steps", s.wsd_decay_steps) + " must be between 1 and " +
         d("schedule.decay_steps", *s.decay_steps) + " − " + d("schedule.warmup_steps", *s.warmup_steps) +
         " for " + d("schedule.style", "wsd"));
  if (s.min_lr > c.optimizer.lr)
    fail(d("schedule.min_lr", s.min_lr) + " is above " + d("optimizer.lr", c.optimizer.lr));
  if (s.cooldown_min_lr > c.optimizer.lr)
    fail(d("schedule.cooldown_min_lr", s.cooldown_min_lr) + " is above " + d("optimizer.lr", c.optimizer.lr));

  const auto& data = c.data;
  if (!data.train_weights.empty() && data.train_weights.size() != data.train_paths.size())
    fail("data.train_weights has " + std::to_string(data.train_weights.size()) + " entries (" +
         loaded.origin("data.train_weights") + ") but data.train_paths has " +
         std::to_string(data.train_paths.size()) + " (" + loaded.origin("data.train_paths") + ")");
  if (!data.valid_weights.empty() && data.valid_weights.size() != data.valid_paths.size())
    fail("data.valid_weights has " + std::to_string(data.valid_weights.size()) + " entries (" +
         loaded.origin("data.valid_weights") + ") but data.valid_paths has " +
         std::to_string(data.valid_paths.size()) + " (" + loaded.origin("data.valid_paths") + ")");
  if (data.format == DataFormat::synthetic && (!data.train_paths.empty() || !data.valid_paths.empty()))
    fail(d("data.format", "synthetic") + " generates its data, but data.train_paths (" +
         loaded.origin("data.train_paths") + ") or data.valid_paths (" + loaded.origin("data.valid_paths") +
         ") name files; remove them or choose mmap or hdf5");
  if (data.split.size() != 3 || data.split[0] <= 0)
    fail("data.split (" + loaded.origin("data.split") + ") must be three fractions [train, valid, test] with train > 0");
  if (data.eod_token_id && *data.eod_token_id >= m.vocab_size)
    fail(d("data.eod_token_id", *data.eod_token_id) + " is outside " + d("model.vocab_size", m.vocab_size));
  if (c.checkpoint.init_optimizer && c.checkpoint.init_from.empty())
    fail(d("checkpoint.init_optimizer", "true") + " needs checkpoint.init_from (" + loaded.origin("checkpoint.init_from") +
         "), the checkpoint whose optimizer state to take");
  if (c.train.recompute_layers && *c.train.recompute_layers > m.num_layers)
    fail(d("train.recompute_layers", *c.train.recompute_layers) + " exceeds " + d("model.num_layers", m.num_layers));
  if (c.logging.metrics_file.empty()) fail("logging.metrics_file (" + loaded.origin("logging.metrics_file") + ") is empty");
  if (c.train.name->empty() || c.train.name->find('/') != std::string::npos)
    fail("train.name = '" + *c.train.name + "' (" + loaded.origin("train.name") +
         ") must be a non-empty directory name without '/'");
  return errors;
}

}  // namespace kiln
