// The typed configuration of a kiln run.
//
// Every field here is declared once more in schema.cpp, which is the single source of truth for
// its YAML key, default, allowed range and documentation. Structs carry no defaults of their own:
// a Config is only ever produced by the loader (loader.h), which starts from the schema defaults,
// applies files and overrides, derives the optional fields and validates the whole.
//
// Optional fields (std::optional) are the ones a user may leave out and kiln derives; after
// loading they are engaged, so consumers may call .value(), except three that stay optional:
// schedule.warmup_fraction (an alternative input to warmup_steps), schedule.hybrid_switch (set
// for hyb and hyb2 only) and data.eod_token_id (unset means: ask the tokenizer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

enum class NormType { layernorm, rmsnorm };
enum class PositionType { rotary, alibi, none };
enum class Activation { swiglu, gelu };
enum class InitMethod { normal, truncated_normal };
enum class ScheduleStyle { constant, linear, cosine, rsqrt, wsd, hyb, hyb2 };
enum class WsdShape { linear, cosine, exponential, sqrt };
enum class DataFormat { mmap, hdf5, synthetic };
enum class Device { cpu, cuda };
enum class Precision { bf16, fp32 };
enum class Recompute { none, selective, full };
enum class LogLevel { trace, debug, info, warn, error };

struct InitConfig {
  InitMethod method;
  double std;                 // σ of the hidden weight matrices and (unless set) the embeddings
  std::optional<double> embedding_std;
  bool scale_output_layers;   // attention-out and FFN-out σ × 1/sqrt(2·layers)
  double truncation;          // truncated_normal cuts at ±truncation·σ
};

// µP as BTLM uses it (SPEC.md §3). width_scale = base_hidden_size / hidden_size.
struct MupConfig {
  bool enabled;
  double base_hidden_size;
  std::optional<double> base_ffn_size;
  double embeddings_scale;
  double output_alpha;
  bool scale_qk_dot_by_d;
};

struct ModelConfig {
  int64_t num_layers;
  int64_t hidden_size;
  int64_t num_heads;
  std::optional<int64_t> ffn_hidden_size;   // derived from mlp_multiple_of when absent
  int64_t mlp_multiple_of;
  int64_t vocab_size;                       // the tokenizer's size
  int64_t vocab_pad_multiple;               // embedding rows are padded up to a multiple of this
  int64_t seq_length;
  std::optional<int64_t> max_position_embeddings;  // defaults to seq_length
  NormType norm;
  double norm_eps;
  bool norm_bias;                           // per-layer norms
  std::optional<bool> final_norm_bias;      // defaults to norm_bias
  PositionType positions;
  double rotary_pct;
  double rotary_theta;
  bool qkv_bias;
  bool linear_bias;                         // attention-out and MLP projections
  bool parallel_residual;
  Activation activation;
  bool tied_embeddings;
  InitConfig init;
  MupConfig mup;

  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t ffn() const { return ffn_hidden_size.value(); }
  int64_t padded_vocab() const {
    return (vocab_size + vocab_pad_multiple - 1) / vocab_pad_multiple * vocab_pad_multiple;
  }
  int64_t rotary_dims() const;  // per head, even, 0 unless positions == rotary
  double mup_width_scale() const { return mup.enabled ? mup.base_hidden_size / hidden_size : 1.0; }
};

struct ParallelConfig {
  int64_t tensor;
  int64_t data;
  int64_t zero_stage;           // 0: replicated optimizer state, 1: sharded over data-parallel ranks
  Precision grad_reduce_dtype;  // dtype of the gradient buffer and its reduction
};

struct OptimizerConfig {
  double lr;
  double beta1;
  double beta2;
  double eps;
  double weight_decay;
  double grad_clip;  // global-norm clipping threshold; 0 disables
};

struct ScheduleConfig {
  ScheduleStyle style;
  std::optional<int64_t> warmup_steps;       // or derived from warmup_fraction
  std::optional<double> warmup_fraction;     // of train.steps, as GPT-NeoX's `warmup`
  std::optional<int64_t> decay_steps;        // step at which decay ends; defaults to train.steps
  double min_lr;
  int64_t cooldown_steps;                    // linear cooldown over the last cooldown_steps
  double cooldown_min_lr;
  std::optional<double> hybrid_switch;       // s0 / (decay_steps - warmup); hyb 0.25, hyb2 0.5
  int64_t wsd_decay_steps;                   // wsd: the decay takes the last wsd_decay_steps before decay_steps
  WsdShape wsd_decay_shape;
};

struct BatchConfig {
  int64_t micro_batch;                   // sequences per rank per micro step
  std::optional<int64_t> grad_accum;     // micro steps per optimizer step
  std::optional<int64_t> global_batch;   // sequences per optimizer step over all DP ranks
};

struct DataConfig {
  std::vector<std::string> train_paths;
  std::vector<double> train_weights;
  std::vector<std::string> valid_paths;
  std::vector<double> valid_weights;
  DataFormat format;
  int64_t seed;
  std::vector<double> split;  // train/valid/test fractions when valid_paths is empty
  std::string tokenizer;
  std::optional<int64_t> eod_token_id;
  bool reset_attention_mask;
  bool reset_position_ids;
};

struct CheckpointConfig {
  std::string dir;          // empty: <run dir>/checkpoints
  int64_t interval;         // steps between saves; 0 saves only at the end and on signals
  int64_t keep_last;
  std::string resume;       // "none", "auto" or a checkpoint path
  std::string init_from;    // a checkpoint whose weights start a new run (branching); "" none
  bool init_optimizer;      // with init_from: take its Adam moments too
  bool save_on_signal;
  bool save_final;          // save at the last step (benchmarks turn it off)
};

struct LoggingConfig {
  LogLevel level;
  int64_t interval;
  bool all_ranks;
  std::string metrics_file;  // JSON lines, relative to the run directory
};

struct TrainConfig {
  std::optional<std::string> name;  // defaults to the config file's stem
  std::string output_dir;           // runs go to <output_dir>/<name>
  int64_t steps;
  int64_t seed;
  Device device;
  Precision precision;
  Recompute recompute;
  std::optional<int64_t> recompute_layers;  // layers [0, n) recompute; the rest keep everything
  int64_t eval_interval;
  int64_t eval_steps;
};

struct Config {
  ModelConfig model;
  ParallelConfig parallel;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  BatchConfig batch;
  DataConfig data;
  CheckpointConfig checkpoint;
  LoggingConfig logging;
  TrainConfig train;

  int64_t world_size() const { return parallel.tensor * parallel.data; }
  int64_t tokens_per_step() const { return batch.global_batch.value() * model.seq_length; }
};

}  // namespace kiln
