// Save and load in one process: round trips (fp32 and bf16 parameters), loading a tp 1 checkpoint
// into every rank of other layouts (resharding without MPI: loading is not collective), dtype
// conversion, weights_only, and the trainer state.
#include <gtest/gtest.h>

#include "ckpt/checkpoint.h"
#include "ckpt_test_util.h"

namespace kiln::ckpt_test {
namespace {

std::filesystem::path save_single(const std::filesystem::path& dir, FakeRank& rank, int64_t step, int64_t keep = 3) {
  SelfCommunicator world("world");
  return save_checkpoint({dir, keep}, trainer_state(step), rank.state, world);
}

void expect_all_equal(const FakeRank& r, uint32_t salt, bool moments, const std::string& what) {
  const int64_t bad = r.mismatches(salt, moments, [&](const std::string& name, int64_t g, int k, float got, float want) {
    ADD_FAILURE() << what << ": " << name << "[" << g << "] array " << k << " = " << got << ", expected " << want;
  });
  EXPECT_EQ(bad, 0) << what;
}

class RoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTrip, SingleRankRestoresEveryArrayAndTheTrainerState) {
  TempDir dir("roundtrip");
  const ModelConfig model = small_model();
  FakeRank saved(model, 0, 1, 0, 1, false, GetParam());
  saved.fill(7);
  const auto path = save_single(dir.path, saved, 12);
  EXPECT_EQ(path, dir.path / "step-00000012");
  EXPECT_TRUE(std::filesystem::exists(path / "manifest.json"));
  EXPECT_TRUE(std::filesystem::exists(path / "rank-00000-00000.bin"));

  FakeRank loaded(model, 0, 1, 0, 1, false, GetParam());
  load_checkpoint(path, loaded.state);
  EXPECT_EQ(loaded.params, saved.params);  // bit for bit, padding included (zero)
  EXPECT_EQ(loaded.masters, saved.masters);
  EXPECT_EQ(loaded.m, saved.m);
  EXPECT_EQ(loaded.v, saved.v);

  const TrainerState s = read_trainer_state(path);
  const TrainerState want = trainer_state(12);
  EXPECT_EQ(s.step, want.step);
  EXPECT_EQ(s.optimizer_steps, want.optimizer_steps);
  EXPECT_EQ(s.data_next_sample, want.data_next_sample);
  EXPECT_EQ(s.data_fingerprint, want.data_fingerprint);
  EXPECT_EQ(s.data_blend_counts, want.data_blend_counts);
  EXPECT_EQ(s.config_yaml, want.config_yaml);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RoundTrip, ::testing::Values(DType::fp32, DType::bf16),
                         [](const auto& info) { return std::string(name(info.param)); });

// tp 1 × dp 1 saved, read by every rank of tp ∈ {1, 2, 4} × dp ∈ {1, 2, 3} (3: uneven shards),
// ZeRO-sharded or not, in either dtype.
TEST(Reshard, Tp1CheckpointLoadsIntoEveryLayout) {
  TempDir dir("reshard1");
  const ModelConfig model = small_model();
  FakeRank saved(model, 0, 1, 0, 1, false, DType::fp32);
  saved.fill(3);
  const auto path = save_single(dir.path, saved, 5);
  for (int tp : {1, 2, 4})
    for (int dp : {1, 2, 3})
      for (bool sharded : {true, false})
        for (DType dtype : {DType::fp32, DType::bf16})
          for (int t = 0; t < tp; ++t)
            for (int d = 0; d < dp; ++d) {
              FakeRank r(model, t, tp, d, dp, sharded, dtype);
              load_checkpoint(path, r.state);
              expect_all_equal(r, 3, true,
                               "tp " + std::to_string(t) + "/" + std::to_string(tp) + " dp " + std::to_string(d) + "/" +
                                   std::to_string(dp) + (sharded ? " sharded " : " ") + std::string(name(dtype)));
            }
}

TEST(Reshard, Fp32ParamsNarrowToBf16RoundingToNearestEven) {
  TempDir dir("narrow");
  const ModelConfig model = small_model();
  FakeRank saved(model, 0, 1, 0, 1, false, DType::fp32);
  // Values that bf16 cannot hold, ties included: 1 + 2^-8 rounds to 1, 1 + 3·2^-8 to 1 + 2^-6.
  std::vector<float> want;
  for (size_t i = 0; i < saved.masters.size(); ++i) {
    const float x = 1.0f + static_cast<float>(i % 4) * 0.00390625f + static_cast<float>(i) * 1e-7f;
    saved.set_param(i, x);
    want.push_back(x);
  }
  const auto path = save_single(dir.path, saved, 1);
  FakeRank loaded(model, 0, 1, 0, 1, false, DType::bf16);
  load_checkpoint(path, loaded.state);
  saved.for_each_element([&](size_t i, const std::string& name, int64_t) {
    ASSERT_EQ(loaded.param(i), to_float(to_bf16(want[i]))) << name << " element " << i;
  });
}

TEST(Reshard, Bf16ParamsWidenExactlyToFp32) {
  TempDir dir("widen");
  const ModelConfig model = small_model();
  FakeRank saved(model, 0, 1, 0, 1, false, DType::bf16);
  saved.fill(9);
  const auto path = save_single(dir.path, saved, 1);
  FakeRank loaded(model, 0, 2, 0, 1, false, DType::fp32);
  load_checkpoint(path, loaded.state);
  expect_all_equal(loaded, 9, true, "bf16 → fp32");
}

TEST(Load, WeightsOnlyLeavesTheMomentsAlone) {
  TempDir dir("weights");
  const ModelConfig model = small_model();
  FakeRank saved(model, 0, 1, 0, 1, false, DType::fp32);
  saved.fill(1);
  const auto path = save_single(dir.path, saved, 1);
  FakeRank loaded(model, 0, 1, 0, 1, false, DType::fp32);
  std::fill(loaded.m.begin(), loaded.m.end(), 42.0f);
  std::fill(loaded.v.begin(), loaded.v.end(), 43.0f);
  load_checkpoint(path, loaded.state, /*weights_only=*/true);
  expect_all_equal(loaded, 1, false, "weights only");
  for (float x : loaded.m) ASSERT_EQ(x, 42.0f);
  for (float x : loaded.v) ASSERT_EQ(x, 43.0f);

  // Branching without moments: empty m and v spans are allowed with weights_only, not without.
  loaded.state.m = {};
  loaded.state.v = {};
  EXPECT_NO_THROW(load_checkpoint(path, loaded.state, true));
  EXPECT_THROW(load_checkpoint(path, loaded.state, false), CheckpointError);
}

TEST(Save, RejectsARankStateWhoseSpansDoNotMatchItsShard) {
  TempDir dir("badstate");
  FakeRank r(small_model(), 0, 1, 0, 1, false, DType::fp32);
  r.state.masters = r.state.masters.subspan(1);
  SelfCommunicator world("world");
  try {
    save_checkpoint({dir.path, 3}, trainer_state(1), r.state, world);
    FAIL() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("RankState.masters"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path / "step-00000001"));
}

}  // namespace
}  // namespace kiln::ckpt_test
