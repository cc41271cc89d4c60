#include "train/trainer.h"

#include <fmt/core.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <stdexcept>
#include <vector>

#include "data/prefetcher.h"
#include "data/shard_streams.h"
#include "data/synthetic_source.h"
#include "dist/process_grid.h"
#include "log/metrics_writer.h"
#include "log/tensorboard_writer.h"
#include "model/decoder.h"
#include "model/init.h"
#include "optim/lr_schedule.h"
#include "optim/param_groups.h"
#include "plan/planner.h"
#include "tensor/bf16.h"
#include "tensor/buffer.h"
#include "train/stop_signal.h"
#include "train/train_backend.h"
#include "ckpt/checkpoint.h"
#include "config/emit.h"
#include "dist/fail_fast.h"
#include "tokenizer/tokenizer.h"

namespace kiln {

namespace {

// What this build can train, checked before anything is allocated.
void check_supported(const Config& c, const ProcessGrid& grid) {
  if (c.train.device == Device::cuda) {
    if (c.train.precision != Precision::bf16)
      throw std::runtime_error("train.precision = fp32 with train.device = cuda: the CUDA backend stores parameters, "
                               "activations and gradients in bf16 (fp32 master weights); set train.precision=bf16 or "
                               "train on the CPU");
    if (c.parallel.data > 1 && c.parallel.grad_reduce_dtype != Precision::bf16)
      throw std::runtime_error("parallel.grad_reduce_dtype = fp32 with train.device = cuda and parallel.data = " +
                               std::to_string(c.parallel.data) + ": the CUDA backend accumulates gradients in bf16 and "
                               "reduces them over data-parallel ranks in bf16; set parallel.grad_reduce_dtype=bf16");
  }
  if (c.parallel.tensor != grid.tp_size || c.parallel.data != grid.dp_size)
    throw std::runtime_error("parallel.tensor = " + std::to_string(c.parallel.tensor) + " and parallel.data = " +
                             std::to_string(c.parallel.data) + " need " + std::to_string(c.world_size()) +
                             " ranks, but this process runs in a grid of tp " + std::to_string(grid.tp_size) +
                             " × dp " + std::to_string(grid.dp_size) +
                             "; launch with mpirun -n " + std::to_string(c.world_size()) + " (launch/mpirun.sh)");
}

struct DataStreams {
  std::unique_ptr<DataSource> train, valid;  // valid may be null: no evaluation
};

DataStreams open_data(const Config& c) {
  if (c.data.format == DataFormat::synthetic) {
    const auto options = SyntheticOptions::from_config(c.model, c.data);
    return {std::make_unique<SyntheticSource>(options, Split::train),
            std::make_unique<SyntheticSource>(options, Split::valid)};
  }
  DataConfig data = c.data;
  if (!data.tokenizer.empty()) {
    // The tokenizer the shards were made with: its ids must fit the model, and it supplies the
    // end-of-document id when the config leaves it unset.
    const auto tok = Tokenizer::load(data.tokenizer);
    if (tok->vocab_size() > c.model.vocab_size)
      throw std::invalid_argument("data.tokenizer " + data.tokenizer + " has " + std::to_string(tok->vocab_size()) +
                                  " ids but model.vocab_size is " + std::to_string(c.model.vocab_size) +
                                  "; the embedding would not cover every token");
    if (!data.eod_token_id && tok->eod_token()) data.eod_token_id = *tok->eod_token();
    spdlog::info("tokenizer: {}", tok->describe());
  }
  ShardStreams shards = open_shard_streams(data, c.model.vocab_size, c.model.seq_length);
  return {std::move(shards.train), std::move(shards.valid)};
}

StepSlicing slicing_of(const Config& c, const ProcessGrid& grid) {
  return {c.batch.micro_batch, *c.batch.grad_accum, c.parallel.data, grid.dp_rank};
}

// The process's peak resident set size so far (getrusage: ru_maxrss is in KiB on Linux).
int64_t peak_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// KILN_PEAK_FLOPS: the peak FLOP/s of one rank, for MFU. There is no meaningful peak for the CPU
// backend, so without it (or with a value that is not a positive number) no mfu is reported.
std::optional<double> peak_flops_per_rank() {
  const char* env = std::getenv("KILN_PEAK_FLOPS");
  if (!env || !*env) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  if (end == env || *end != '\0' || !std::isfinite(v) || v <= 0) {
    spdlog::warn("KILN_PEAK_FLOPS='{}' is not a positive number; no mfu is reported", env);
    return std::nullopt;
  }
  return v;
}

// Every numeric metric of a record, as TensorBoard scalars "<prefix>/<key>".
std::vector<std::pair<std::string, double>> scalars_of(const Metrics& m, const std::string& prefix) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [key, value] : m.items())
    if (value.is_number()) out.emplace_back(prefix + "/" + key, value.get<double>());
  return out;
}

// 12s, 4m05s, 1h02m03s: what a person reads at a glance.
std::string format_duration(double seconds) {
  const auto t = static_cast<long long>(std::llround(std::max(seconds, 0.0)));
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m{:02}s", t / 3600, (t / 60) % 60, t % 60);
}

double unmasked_targets(const BatchStorage& b) {
  double n = 0;
  for (float m : b.loss_mask) n += m;
  return n;
}

}  // namespace

struct Trainer::State {
  const Config config;
  ProcessGrid& grid;
  std::unique_ptr<TrainBackend> backend;
  LrSchedule schedule;
  DataStreams data;
  std::optional<Prefetcher> prefetcher;
  BatchStorage eval_batch;
  std::optional<MetricsWriter> metrics;
  std::optional<TensorBoardWriter> tensorboard;

  State(const Config& c, ProcessGrid& g)
      : config(c),
        grid(g),
        backend(make_train_backend(c, g)),
        schedule(c.schedule, c.optimizer.lr, c.train.steps),
        data(open_data(c)),
        eval_batch(static_cast<int>(c.batch.micro_batch), static_cast<int>(c.model.seq_length)) {}

  TrainerState trainer_state(int64_t step, const StepSlicing& slicing) const {
    const DataState d = data.train->state_at(static_cast<uint64_t>(step) * slicing.global_batch());
    return {step, backend->optimizer_steps(), d.next_sample, d.fingerprint, d.blend_counts,
            resolved_config_text(config, "config of the run that wrote this checkpoint")};
  }

  std::filesystem::path save(const std::filesystem::path& dir, int64_t step, const StepSlicing& slicing) {
    const auto path = save_checkpoint({dir, config.checkpoint.keep_last}, trainer_state(step, slicing),
                                      backend->rank_state(/*for_save=*/true), *grid.world);
    spdlog::info("step {:>6}: checkpoint {}", step, path.string());
    return path;
  }

  // Restores `checkpoint` and returns its step. The data stream must be the one the checkpoint
  // was taken from: continuing on other data is a branch (a new run from the weights), not a
  // resume.
  int64_t restore(const std::filesystem::path& checkpoint, const StepSlicing& slicing) {
    const TrainerState st = read_trainer_state(checkpoint);
    const DataState expected = data.train->state_at(static_cast<uint64_t>(st.step) * slicing.global_batch());
    if (st.data_fingerprint != expected.fingerprint || st.data_next_sample != expected.next_sample)
      throw std::runtime_error("checkpoint " + checkpoint.string() + " was taken on other training data (paths, "
                               "weights, seed, sequence length or global batch changed); resuming needs the same "
                               "data stream — start a new run from its weights to change the data");
    data.train->restore({st.data_next_sample, st.data_fingerprint, st.data_blend_counts});
    RankState r = backend->rank_state(/*for_save=*/false);
    load_checkpoint(checkpoint, r);
    backend->set_optimizer_steps(st.optimizer_steps);
    backend->loaded();
    spdlog::info("resumed from {} at step {}", checkpoint.string(), st.step);
    return st.step;
  }

  // Branching: this run starts at step 0 on its own data and schedule from another run's weights
  // (and, asked for, its Adam state), whatever layout wrote them.
  void initialise_from(const std::filesystem::path& checkpoint, bool with_optimizer) {
    const TrainerState st = read_trainer_state(checkpoint);
    RankState r = backend->rank_state(/*for_save=*/false);
    load_checkpoint(checkpoint, r, /*weights_only=*/!with_optimizer);
    if (with_optimizer) backend->set_optimizer_steps(st.optimizer_steps);
    backend->loaded();
    spdlog::info("initialised from {} (its step {}{}); this run starts at step 0", checkpoint.string(), st.step,
                 with_optimizer ? ", with its optimizer state" : ", weights only");
  }

  // Mean loss over the unmasked targets of eval_steps validation batches (always the same ones),
  // the batches dealt round-robin over the data-parallel ranks and the sums added.
  double evaluate() {
    double sums[2] = {0, 0};  // loss, targets
    for (int64_t i = grid.dp_rank; i < config.train.eval_steps; i += grid.dp_size) {
      data.valid->fill(eval_batch, static_cast<uint64_t>(i * eval_batch.batch));
      sums[0] += backend->evaluate(eval_batch);
      sums[1] += unmasked_targets(eval_batch);
    }
    grid.dp->all_reduce(sums, 2, CommDType::fp64, ReduceOp::sum);
    return sums[0] / sums[1];
  }
};

Trainer::Trainer(const Config& config, ProcessGrid* grid) {
  if (!grid) {
    own_grid_ = std::make_unique<ProcessGrid>(ProcessGrid::single());
    grid = own_grid_.get();
  }
  check_supported(config, *grid);
  s_ = std::make_unique<State>(config, *grid);
}

std::span<const float> Trainer::params() const { return s_->backend->host_params(); }

const ParamRegistry& Trainer::registry() const { return s_->backend->registry(); }

std::vector<float> Trainer::global_params() const {
  const TpLayout& layout = s_->backend->layout();
  std::vector<float> out(static_cast<size_t>(layout.global_registry().total_numel()), 0.0f);
  // Host copies gathered over the TP group's MPI communicator (grid.tp is MPI on every backend).
  layout.gather_all(*s_->grid.tp, s_->backend->host_params().data(), out.data());
  return out;
}

Trainer::~Trainer() = default;

TrainSummary Trainer::run(const RunOptions& options) {
  State& s = *s_;
  if (!options.metrics_file.empty() && s.grid.world_rank == 0)
    s.metrics.emplace(options.metrics_file, /*rank=*/0, /*flush_every=*/1);
  if (!options.tensorboard_dir.empty() && s.grid.world_rank == 0) {
    s.tensorboard.emplace(options.tensorboard_dir);
    spdlog::info("TensorBoard events: {}", s.tensorboard->path().string());
  }
  const Config& c = s.config;
  using clock = std::chrono::steady_clock;
  spdlog::info("training {} steps on {}: {} parameters, micro batch {} × accumulation {} × {} tokens, "
               "{} tensor-parallel × {} data-parallel rank{}{}",
               c.train.steps, s.backend->describe(), s.backend->registry().param_count(), c.batch.micro_batch, *c.batch.grad_accum,
               c.model.seq_length, s.grid.tp_size, s.grid.dp_size, s.grid.world_size == 1 ? "" : "s",
               s.grid.dp_size > 1 && c.parallel.zero_stage == 1 ? " (ZeRO-1: optimizer state sharded)" : "");
  {
    const char* n = std::getenv("OMP_NUM_THREADS");
    const char* w = std::getenv("OMP_WAIT_POLICY");
    spdlog::info("host threads: {} OpenMP (OMP_NUM_THREADS {}), wait policy {}", omp_get_max_threads(),
                 n ? n : "unset: one per core", w ? w : "the runtime's default (active)");
  }
  spdlog::info("data: {}", s.data.train->describe());
  if (s.data.valid) spdlog::info("validation: {}", s.data.valid->describe());
  else spdlog::info("validation: none (data.split[1] is 0 and data.valid_paths is empty); no evaluation");
  const StepSlicing slicing = slicing_of(c, s.grid);
  TrainSummary summary;
  if (!options.resume_from.empty()) summary.first_step = s.restore(options.resume_from, slicing);
  else if (!options.init_from.empty()) s.initialise_from(options.init_from, options.init_optimizer);
  if (summary.first_step >= c.train.steps) {
    spdlog::info("the run is complete: its checkpoint is at step {} of train.steps = {}; nothing to train "
                 "(raise train.steps to go on)", summary.first_step, c.train.steps);
    summary.steps = summary.first_step;
    summary.data_state = s.data.train->state_at(static_cast<uint64_t>(summary.steps) * slicing.global_batch());
    return summary;
  }
  s.prefetcher.emplace(*s.data.train, slicing, static_cast<int>(c.model.seq_length), summary.first_step);
  // SIGTERM/SIGUSR1 always stop the run at a step boundary, so that what ends the run (the op
  // profile, the summary) is still written; the checkpoint is saved only with save_on_signal.
  StopSignal stop;
  const bool save_on_stop = !options.checkpoint_dir.empty() && c.checkpoint.save_on_signal;
  const std::vector<ParamGroupSummary> groups = summarize_param_groups(s.backend->registry(), c.optimizer);
  for (const auto& line : format_param_groups(groups)) spdlog::info("{}", line);
  // MFU: the planner's training FLOPs per token (PaLM: 6N + 12·L·d·T) × tokens/s over the peak of
  // every rank of the job; only with KILN_PEAK_FLOPS (docs/logging.md).
  const std::optional<double> peak_flops = peak_flops_per_rank();
  const double model_flops_per_token = static_cast<double>(flops_per_token(c.model, /*causal_halved=*/false));
  const double causal_flops_per_token = static_cast<double>(flops_per_token(c.model, /*causal_halved=*/true));
  // Rank 0 writes every record to the metrics file and to TensorBoard, whose events are flushed
  // (and fsynced) per record, so that a crash loses at most one logging interval.
  auto record = [&](int64_t step, const Metrics& m, const std::string& prefix) {
    if (s.metrics) s.metrics->write(step, m);
    if (s.tensorboard) {
      s.tensorboard->write_scalars(step, scalars_of(m, prefix));
      s.tensorboard->flush();
    }
  };

  const int64_t tokens_per_step = c.tokens_per_step();
  auto window_start = clock::now();
  const auto run_start = window_start;
  int64_t window_steps = 0;

  for (int64_t step = summary.first_step; step < c.train.steps; ++step) {
    const std::vector<BatchStorage>& micro_batches = s.prefetcher->next();
    // The loss is the mean over every unmasked target of the global step, on all DP ranks.
    double targets = 0;
    for (const auto& mb : micro_batches) targets += unmasked_targets(mb);
    s.grid.dp->all_reduce(&targets, 1, CommDType::fp64, ReduceOp::sum);
    s.backend->zero_grads();
    double loss_sum = 0;
    for (const auto& mb : micro_batches) loss_sum += s.backend->forward_backward(mb, 1.0 / targets);
    s.grid.dp->all_reduce(&loss_sum, 1, CommDType::fp64, ReduceOp::sum);
    const double loss = loss_sum / targets;
    const double lr = s.schedule.at(step);
    const StepResult r = s.backend->step(lr);
    summary.losses.push_back(loss);

    const int64_t done = step + 1;
    if (done == summary.first_step + 1) summary.first_loss = loss;
    summary.final_loss = loss;
    summary.steps = done;
    if (r.skipped) {
      ++summary.skipped_steps;
      spdlog::warn("step {}: gradient norm {} is not finite; update skipped", done, r.grad_norm);
    }
    ++window_steps;

    const bool last = done == c.train.steps;
    if (done % c.logging.interval == 0 || last || done == 1) {
      const double seconds = std::chrono::duration<double>(clock::now() - window_start).count();
      const double tokens_per_s = static_cast<double>(window_steps * tokens_per_step) / seconds;
      // Progress for a person watching: time per step, MFU when the peak is known, and the
      // elapsed time since this segment started with the remaining time at the average pace so
      // far (evaluations and checkpoints included, as they will be again).
      const double elapsed = std::chrono::duration<double>(clock::now() - run_start).count();
      const double eta = elapsed / static_cast<double>(done - summary.first_step) *
                         static_cast<double>(c.train.steps - done);
      const std::string mfu =
          peak_flops ? fmt::format("  MFU {:.1f}%", 100.0 * model_flops_per_token * tokens_per_s /
                                                        (*peak_flops * static_cast<double>(s.grid.world_size)))
                     : "";
      spdlog::info("step {:>6}/{}  loss {:.4f}  lr {:.3e}  grad norm {:.3f}{}  {:.0f} tokens/s  {:.1f} ms/step{}  "
                   "elapsed {}  ETA {}",
                   done, c.train.steps, loss, lr, r.grad_norm, r.clip_coef < 1 ? " (clipped)" : "", tokens_per_s,
                   1e3 * seconds / static_cast<double>(window_steps), mfu, format_duration(elapsed),
                   format_duration(eta));
      if (s.metrics || s.tensorboard) {
        Metrics m = {{"tokens", done * tokens_per_step},
                     {"loss", loss},
                     {"lr", lr},
                     {"grad_norm", r.grad_norm},
                     {"clip_coef", r.clip_coef},
                     {"tokens_per_s", tokens_per_s},
                     {"skipped_steps", summary.skipped_steps},
                     {"data_wait_s", s.prefetcher->wait_seconds()}};
        for (size_t g = 0; g < groups.size(); ++g) m["lr_group_" + std::to_string(g)] = lr * groups[g].lr_scale;
        if (peak_flops) {
          const double peak = *peak_flops * static_cast<double>(s.grid.world_size);
          m["mfu"] = model_flops_per_token * tokens_per_s / peak;
          m["mfu_causal"] = causal_flops_per_token * tokens_per_s / peak;
        }
        m["peak_rss_bytes"] = peak_rss_bytes();
        if (const auto dev = s.backend->device_memory_bytes()) m["device_memory_bytes"] = *dev;
        record(done, m, "train");
      }
      window_start = clock::now();
      window_steps = 0;
    }
    if (s.data.valid && ((c.train.eval_interval > 0 && done % c.train.eval_interval == 0) || last)) {
      const double eval_loss = s.evaluate();
      summary.final_eval_loss = eval_loss;
      spdlog::info("step {:>6}/{}  eval loss {:.4f} over {} batches", done, c.train.steps, eval_loss,
                   c.train.eval_steps);
      if (s.metrics) s.metrics->write(done, {{"tokens", done * tokens_per_step}, {"eval_loss", eval_loss}});
      if (s.tensorboard) {
        s.tensorboard->write_scalars(done, {{"eval/loss", eval_loss}});
        s.tensorboard->flush();
      }
      window_start = clock::now();  // evaluation time is not training throughput
    }
    // Every rank must agree to stop at the same step: a signal may reach them at different times.
    const bool stopping = any_rank(*s.grid.world, stop.requested());
    if (!options.checkpoint_dir.empty()) {
      const bool due = (last && c.checkpoint.save_final) || (stopping && save_on_stop) ||
                       (c.checkpoint.interval > 0 && done % c.checkpoint.interval == 0);
      if (due) {
        summary.last_checkpoint = s.save(options.checkpoint_dir, done, slicing);
        window_start = clock::now();
      }
    }
    if (stopping && !last) {
      const std::string why = StopSignal::name(stop.signal_number());
      if (save_on_stop)
        spdlog::warn("step {}: {} {}; checkpoint saved, stopping — run the same command to resume", done,
                     stop.signal_number() == SIGINT ? "interrupted by" : "stop requested by", why);
      else
        spdlog::warn("step {}: {} {}; stopping without a checkpoint (checkpoint.save_on_signal is false)", done,
                     stop.signal_number() == SIGINT ? "interrupted by" : "stop requested by", why);
      summary.stopped_by_signal = true;
      summary.stop_signal = stop.signal_number();
      break;
    }
  }
  const double total = std::chrono::duration<double>(clock::now() - run_start).count();
  if (const std::vector<OpTime> profile = s.backend->op_profile(); !profile.empty() && s.grid.world_rank == 0) {
    // KILN_PROFILE_OPS: the per-op breakdown of every step and evaluation of this run, in the log
    // and beside the metrics file.
    const std::string table = format_op_profile(profile);
    spdlog::info("time per op (KILN_PROFILE_OPS, {} steps):\n{}", summary.steps - summary.first_step, table);
    if (!options.metrics_file.empty()) {
      const auto path = options.metrics_file.parent_path() / "op_profile.txt";
      std::ofstream(path) << table;
      spdlog::info("op profile written to {}", path.string());
    }
  }
  summary.data_state = s.data.train->state_at(static_cast<uint64_t>(summary.steps) * slicing.global_batch());
  summary.data_wait_seconds = s.prefetcher->wait_seconds();
  s.prefetcher.reset();
  summary.tokens_per_second = static_cast<double>((summary.steps - summary.first_step) * tokens_per_step) / total;
  spdlog::info("done: {} steps, loss {:.4f} → {:.4f}, {:.0f} tokens/s overall (evaluation included), "
               "{:.3f} s waiting for data", summary.steps, summary.first_loss, summary.final_loss,
               summary.tokens_per_second, summary.data_wait_seconds);
  return summary;
}

void check_training_data(const Config& config) { open_data(config); }

}  // namespace kiln
