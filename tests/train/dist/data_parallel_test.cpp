// Tensor × data parallelism with ZeRO-1 under mpirun: W ranks training together give the losses
// and the final parameters of one process training the same global batches.
//
// Registered for 2, 3 and 4 ranks (tests/CMakeLists.txt), which cover tp ∈ {1, 2, 4} ×
// dp ∈ {1, 2} (and dp 3, 4); 3 ranks do not divide the tiny model's flat buffer, so the last ZeRO
// shard ends in padding (uneven shards). Every rank also
// runs the single-process reference itself, in the same process, so the comparison needs no
// files. fp32 training for the tight comparisons: with bf16 weights a last-bit difference in a
// reduction can round a weight the other way, which is legitimate but not what these tests are
// about (the bf16 run is compared with a looser bound).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "config/loader.h"
#include "dist/mpi_communicator.h"
#include "dist/process_grid.h"
#include "train/trainer.h"
#include "dist/mpi_test_env.h"

namespace kiln {
namespace {

int world_size() { return test::world().size(); }

Config tiny(std::vector<Override> overrides) {
  overrides.insert(overrides.begin(), {{"train.steps", "6"},
                                       {"train.eval_interval", "3"},
                                       {"train.eval_steps", "4"},
                                       {"schedule.warmup_steps", "2"},
                                       {"schedule.cooldown_steps", "0"},
                                       {"batch.micro_batch", "1"},
                                       {"batch.grad_accum", "null"},
                                       {"batch.global_batch", "12"}});
  return load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml", overrides).config;
}

struct RunResult {
  TrainSummary summary;
  std::vector<float> params;
};

RunResult train(const Config& c, ProcessGrid* grid) {
  Trainer t(c, grid);
  RunResult r{t.run(), {}};
  r.params = t.global_params();
  return r;
}

RunResult single(std::vector<Override> o) { return train(tiny(std::move(o)), nullptr); }

// All W ranks as tp × (W / tp).
RunResult distributed(std::vector<Override> o, int tp = 1) {
  const int dp = world_size() / tp;
  o.push_back({"parallel.tensor", std::to_string(tp)});
  o.push_back({"parallel.data", std::to_string(dp)});
  ProcessGrid grid = make_process_grid(tp, dp);
  return train(tiny(std::move(o)), &grid);
}

// The tensor-parallel sizes this world can run tiny with (tp divides its 4 heads and W).
std::vector<int> tp_sizes() {
  std::vector<int> out;
  for (int tp : {1, 2, 4})
    if (world_size() % tp == 0) out.push_back(tp);
  return out;
}

void expect_close(const RunResult& a, const RunResult& b, double loss_tol, double param_tol, const std::string& what) {
  ASSERT_EQ(a.summary.losses.size(), b.summary.losses.size()) << what;
  for (size_t i = 0; i < a.summary.losses.size(); ++i)
    EXPECT_NEAR(a.summary.losses[i], b.summary.losses[i], loss_tol * std::abs(b.summary.losses[i]))
        << what << ": step " << i + 1;
  ASSERT_TRUE(a.summary.final_eval_loss && b.summary.final_eval_loss) << what;
  EXPECT_NEAR(*a.summary.final_eval_loss, *b.summary.final_eval_loss, loss_tol * *b.summary.final_eval_loss) << what;
  ASSERT_EQ(a.params.size(), b.params.size()) << what;
  double worst = 0;
  size_t where = 0;
  for (size_t i = 0; i < a.params.size(); ++i) {
    const double d = std::abs(static_cast<double>(a.params[i]) - b.params[i]);
    if (d > worst) worst = d, where = i;
  }
  EXPECT_LE(worst, param_tol) << what << ": largest parameter difference at flat index " << where;
  EXPECT_EQ(a.summary.data_state, b.summary.data_state) << what << ": the same samples were consumed";
}

TEST(Parallel, ZeroOneMatchesOneProcess) {
  const std::vector<Override> fp32{{"train.precision", "fp32"}};
  const RunResult reference = single(fp32);
  // Parameters: the sums of the gradients run in another order, and Adam divides by √v, so a
  // last-bit difference in a small gradient moves its weight by far more than a last bit. 2e-5
  // after six steps at lr 3e-3 is still a thousand times below one wrong update.
  for (int tp : tp_sizes()) {
    const std::string what = "tp " + std::to_string(tp) + " × dp " + std::to_string(world_size() / tp) + " fp32";
    expect_close(distributed(fp32, tp), reference, 1e-5, 2e-5, what);
  }
}

TEST(Parallel, ZeroOneMatchesUnshardedDataParallel) {
  std::vector<Override> zero0{{"train.precision", "fp32"}, {"parallel.zero_stage", "0"}};
  std::vector<Override> zero1{{"train.precision", "fp32"}, {"parallel.zero_stage", "1"}};
  expect_close(distributed(zero1), distributed(zero0), 1e-6, 2e-5, "ZeRO-1 vs replicated optimizer");
}

TEST(Parallel, Bf16TrainingAndBf16ReductionStayClose) {
  const RunResult ref = single({});
  for (int tp : tp_sizes()) expect_close(distributed({}, tp), ref, 1e-3, 2e-2, "bf16 weights, tp " + std::to_string(tp));
  expect_close(distributed({{"parallel.grad_reduce_dtype", "bf16"}}), ref, 5e-3, 5e-2, "bf16 gradient reduction");
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// A directory every rank sees: rank 0 makes it and tells the others.
std::filesystem::path shared_temp_dir() {
  std::string path;
  if (test::world().rank() == 0) {
    char tmpl[] = "/tmp/kiln-dist-resume-XXXXXX";
    path = mkdtemp(tmpl);
  }
  uint64_t n = path.size();
  test::world().broadcast(&n, 1, CommDType::uint64, 0);
  path.resize(n);
  test::world().broadcast(path.data(), n, CommDType::byte, 0);
  return path;
}

// Resharding on resume: a checkpoint written by one layout continues in another (DP 1 → W,
// W → 1, TP 2 → 1 and 1 → 2) and the run goes on as the uninterrupted single process does.
TEST(Parallel, ResumeAcrossLayouts) {
  const std::filesystem::path shared = shared_temp_dir();
  const std::filesystem::path own = shared / ("rank" + std::to_string(test::world().rank()));
  const std::vector<Override> o{{"train.precision", "fp32"}, {"checkpoint.interval", "3"}};
  auto run = [&](const Config& c, ProcessGrid* grid, const std::filesystem::path& ckpts,
                 const std::filesystem::path& resume) {
    Trainer t(c, grid);
    RunOptions opts;
    opts.checkpoint_dir = ckpts;
    opts.resume_from = resume;
    RunResult r{t.run(opts), {}};
    r.params = t.global_params();
    return r;
  };
  // The reference, on every rank alone, with its own checkpoints.
  const RunResult single_run = run(tiny(o), nullptr, own / "single", {});

  for (int tp : tp_sizes()) {
    const int dp = world_size() / tp;
    std::vector<Override> layout = o;
    layout.push_back({"parallel.tensor", std::to_string(tp)});
    layout.push_back({"parallel.data", std::to_string(dp)});
    ProcessGrid grid = make_process_grid(tp, dp);
    const std::string what = "tp " + std::to_string(tp) + " × dp " + std::to_string(dp);

    // one process → this layout
    const RunResult grown = run(tiny(layout), &grid, shared / ("grown-" + what), own / "single" / "step-00000003");
    EXPECT_EQ(grown.summary.first_step, 3) << what;
    ASSERT_EQ(grown.summary.losses.size(), 3u) << what;
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(grown.summary.losses[i], single_run.summary.losses[i + 3], 1e-5 * single_run.summary.losses[i + 3])
          << "1 → " << what << ", step " << i + 4;
    double worst = 0;
    for (size_t i = 0; i < grown.params.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(grown.params[i]) - single_run.params[i]));
    EXPECT_LE(worst, 2e-5) << "1 → " << what;

    // this layout → one process (every rank reads the layout's checkpoint on its own)
    const RunResult full = run(tiny(layout), &grid, shared / ("layout-" + what), {});
    const RunResult shrunk = run(tiny(o), nullptr, own / ("shrunk-" + what), shared / ("layout-" + what) / "step-00000003");
    ASSERT_EQ(shrunk.summary.losses.size(), 3u) << what;
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(shrunk.summary.losses[i], full.summary.losses[i + 3], 1e-5 * full.summary.losses[i + 3])
          << what << " → 1, step " << i + 4;
  }
  test::world().barrier();
  if (test::world().rank() == 0) std::filesystem::remove_all(shared);
}

}  // namespace
}  // namespace kiln
