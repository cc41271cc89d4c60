// The CPU reference backend of the trainer: Decoder<float> over CpuOps, fp32 gradients, and
// ZeroOptimizer (fp32 masters and moments of this rank's ZeRO-1 shard, MPI collectives).
#include <cstring>
#include <optional>

#include "model/decoder.h"
#include "model/init.h"
#include "ops/cpu_ops.h"
#include "ops/profiled_ops.h"
#include "tensor/bf16.h"
#include "tensor/buffer.h"
#include "train/train_backend.h"
#include "train/zero_optimizer.h"

namespace kiln {
namespace {

class CpuTrainBackend final : public TrainBackend {
 public:
  CpuTrainBackend(const Config& c, ProcessGrid& g)
      : grid_(g),
        documents_(c.data.reset_attention_mask),
        model_(c.model, static_cast<int>(c.batch.micro_batch), static_cast<int>(c.model.seq_length), make_ops(),
               TensorParallel::of(*g.tp), recomputation_of(c)),
        params_(DType::fp32, ZeroOptimizer::padded_numel(model_.registry(), g.dp_size)),
        grads_(DType::fp32, ZeroOptimizer::padded_numel(model_.registry(), g.dp_size)) {
    // Each tensor-parallel rank gets its slice of the global draw, so any layout starts from the
    // same model.
    init_parameters(params_, model_.layout(), c.model, static_cast<uint64_t>(c.train.seed));
    // The masters start from the fp32 draws; the model sees them as stored in its precision.
    optimizer_.emplace(model_.registry(), c, params_.data<float>(), *grid_.dp, *grid_.tp, norm_ranges_of(model_.layout(), g));
    if (c.train.precision == Precision::bf16) round_to_bf16_in_place(params_.data<float>(), static_cast<size_t>(params_.numel()));
  }

  std::string describe() const override { return "cpu"; }
  const TpLayout& layout() const override { return model_.layout(); }

  void zero_grads() override { std::memset(grads_.raw(), 0, grads_.bytes()); }

  double forward_backward(const BatchStorage& batch, double dloss_scale) override {
    const double loss = model_.forward(params_.data<float>(), batch.view(documents_), static_cast<float>(dloss_scale));
    model_.backward(params_.data<float>(), grads_.data<float>());
    return loss;
  }

  double evaluate(const BatchStorage& batch) override { return model_.evaluate(params_.data<float>(), batch.view(documents_)); }

  StepResult step(double lr) override { return optimizer_->step(grads_.data<float>(), lr, params_.data<float>()); }

  int64_t optimizer_steps() const override { return optimizer_->optimizer().step_count(); }
  void set_optimizer_steps(int64_t steps) override { optimizer_->optimizer().set_step_count(steps); }

  RankState rank_state(bool for_save) override {
    AdamWOptimizer& opt = optimizer_->optimizer();
    RankState r;
    r.layout = &model_.layout();
    r.tp_rank = grid_.tp_rank, r.tp_size = grid_.tp_size, r.dp_rank = grid_.dp_rank, r.dp_size = grid_.dp_size;
    r.shard_begin = optimizer_->shard_begin();
    const bool writes = !for_save || optimizer_->shards_over_dp() || grid_.dp_rank == 0;
    const int64_t n = writes ? optimizer_->shard_size() : 0;
    r.shard_end = r.shard_begin + n;
    r.param_dtype = DType::fp32;  // the model's fp32 copy (bf16-rounded values when training in bf16)
    r.params = std::as_writable_bytes(std::span<float>(params_.data<float>() + r.shard_begin, static_cast<size_t>(n)));
    r.masters = opt.masters().first(static_cast<size_t>(n));
    r.m = opt.m().first(static_cast<size_t>(n));
    r.v = opt.v().first(static_cast<size_t>(n));
    return r;
  }

  void loaded() override {
    if (optimizer_->shards_over_dp() && grid_.dp_size > 1)  // every rank loaded only its shard of params
      grid_.dp->all_gather(params_.data<float>() + optimizer_->shard_begin(), params_.data<float>(),
                           static_cast<size_t>(optimizer_->shard_size()), CommDType::fp32);
  }

  std::vector<OpTime> op_profile() override { return profiled_ ? profiled_->profile() : std::vector<OpTime>{}; }

  std::span<const float> host_params() override {
    return {params_.data<float>(), static_cast<size_t>(model_.registry().total_numel())};
  }

 private:
  // The CPU reference ops, timed per op when KILN_PROFILE_OPS asks.
  std::unique_ptr<Ops<float>> make_ops() {
    auto ops = std::make_unique<CpuOps<float>>();
    if (!op_profiling_requested()) return ops;
    auto profiled = std::make_unique<ProfiledOps<float>>(std::move(ops), std::make_unique<HostOpTimer>());
    profiled_ = profiled.get();
    return profiled;
  }

  static void round_to_bf16_in_place(float* x, size_t n) {
    Buffer rounded(DType::bf16, static_cast<int64_t>(n));  // start-up only
    to_bf16(x, rounded.data<bf16>(), n);
    to_float(rounded.data<bf16>(), x, n);
  }

  ProcessGrid& grid_;
  bool documents_;  // data.reset_attention_mask: doc_ids reach attention
  ProfiledOps<float>* profiled_ = nullptr;  // owned by model_, when profiling
  Decoder<float> model_;
  Buffer params_, grads_;  // the whole (TP-local) flat layout, padded for the DP shards
  std::optional<ZeroOptimizer> optimizer_;
};

}  // namespace

std::unique_ptr<TrainBackend> make_cpu_train_backend(const Config& config, ProcessGrid& grid) {
  return std::make_unique<CpuTrainBackend>(config, grid);
}

}  // namespace kiln
