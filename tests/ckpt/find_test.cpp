// Choosing the checkpoint to resume from, `latest`, keep_last, and saves that fail or crash
// midway leaving the previous checkpoint whole and `latest` naming it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt/checkpoint.h"
#include "ckpt/save_hooks.h"
#include "ckpt_test_util.h"

namespace kiln::ckpt_test {
namespace {

using ckpt::SaveStage;

std::string read_latest(const std::filesystem::path& dir) {
  std::ifstream in(dir / "latest");
  std::string s;
  std::getline(in, s);
  return s;
}

std::vector<std::string> entries(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class Find : public ::testing::Test {
 protected:
  std::filesystem::path save(int64_t step, uint32_t salt, int64_t keep = 10) {
    FakeRank r(model_, 0, 1, 0, 1, false, DType::fp32);
    r.fill(salt);
    SelfCommunicator world("world");
    return save_checkpoint({dir_.path, keep}, trainer_state(step), r.state, world);
  }
  void corrupt(const std::filesystem::path& checkpoint) {
    std::filesystem::resize_file(checkpoint / "rank-00000-00000.bin", 10);
  }
  std::optional<std::filesystem::path> find_auto(std::vector<std::string>& warnings) {
    return find_checkpoint(dir_.path, "auto", [&](const std::string& w) { warnings.push_back(w); });
  }
  void expect_holds(const std::filesystem::path& checkpoint, uint32_t salt) {
    FakeRank r(model_, 0, 1, 0, 1, false, DType::fp32);
    load_checkpoint(checkpoint, r.state);
    EXPECT_EQ(r.mismatches(salt, true, [](auto&&...) {}), 0) << checkpoint;
  }

  ModelConfig model_ = small_model();
  TempDir dir_{"find"};
};

TEST_F(Find, NoneAndEmptyDirectoryGiveNothing) {
  std::vector<std::string> w;
  EXPECT_FALSE(find_checkpoint(dir_.path, "none", [&](const std::string& s) { w.push_back(s); }));
  EXPECT_FALSE(find_auto(w));
  EXPECT_FALSE(find_checkpoint(dir_.path / "does-not-exist", "auto", [&](const std::string& s) { w.push_back(s); }));
  EXPECT_TRUE(w.empty());
}

TEST_F(Find, LatestNamesTheNewestAndAutoTakesIt) {
  save(1, 1);
  save(2, 2);
  const auto third = save(3, 3);
  EXPECT_EQ(read_latest(dir_.path), "step-00000003");
  std::vector<std::string> w;
  EXPECT_EQ(find_auto(w), third);
  EXPECT_TRUE(w.empty());
}

TEST_F(Find, CorruptNewestFallsBackToThePreviousWithAWarning) {
  save(1, 1);
  const auto second = save(2, 2);
  corrupt(save(3, 3));
  std::vector<std::string> w;
  EXPECT_EQ(find_auto(w), second);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("step-00000003"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("size mismatch"), std::string::npos) << w[0];
  expect_holds(second, 2);
}

TEST_F(Find, LatestMissingOrGarbledFallsBackToNewestValid) {
  save(1, 1);
  const auto second = save(2, 2);
  std::filesystem::remove(dir_.path / "latest");
  std::vector<std::string> w;
  EXPECT_EQ(find_auto(w), second);
  EXPECT_TRUE(w.empty());
  std::ofstream(dir_.path / "latest") << "../../etc\n";
  EXPECT_EQ(find_auto(w), second);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("not a checkpoint name"), std::string::npos) << w[0];
}

TEST_F(Find, NothingValidGivesNothingWithAWarningEach) {
  corrupt(save(1, 1));
  corrupt(save(2, 2));
  std::vector<std::string> w;
  EXPECT_FALSE(find_auto(w));
  EXPECT_EQ(w.size(), 2u);
}

TEST_F(Find, AnExplicitPathMustBeValid) {
  const auto first = save(1, 1);
  const auto second = save(2, 2);
  corrupt(second);
  auto no_warn = [](const std::string& s) { ADD_FAILURE() << "unexpected warning " << s; };
  EXPECT_EQ(find_checkpoint(dir_.path, first.string(), no_warn), first);
  try {
    find_checkpoint(dir_.path, second.string(), no_warn);
    FAIL() << "accepted a corrupt checkpoint named explicitly";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("rank-00000-00000.bin"), std::string::npos) << e.what();
  }
  EXPECT_THROW(find_checkpoint(dir_.path, (dir_.path / "step-00000077").string(), no_warn), CheckpointError);
}

TEST_F(Find, KeepLastDeletesTheOldestAndNeverTheOneJustWritten) {
  for (int64_t s = 1; s <= 5; ++s) save(s * 10, static_cast<uint32_t>(s), 2);
  EXPECT_EQ(entries(dir_.path), (std::vector<std::string>{"latest", "step-00000040", "step-00000050"}));
  // A save at a lower step (a branch written into the same directory) is kept with the newest other.
  save(5, 9, 2);
  EXPECT_EQ(entries(dir_.path), (std::vector<std::string>{"latest", "step-00000005", "step-00000050"}));
  EXPECT_EQ(read_latest(dir_.path), "step-00000005");
}

TEST_F(Find, ResavingAStepReplacesIt) {
  save(4, 1);
  const auto again = save(4, 2);
  expect_holds(again, 2);
  EXPECT_EQ(entries(dir_.path), (std::vector<std::string>{"latest", "step-00000004"}));
}

// An I/O error (here: the hook throws) at any stage before the rename leaves no trace.
TEST_F(Find, AFailedSaveLeavesThePreviousCheckpointAndNoTemporary) {
  const auto first = save(1, 1);
  for (SaveStage stage : {SaveStage::rank_file_written, SaveStage::manifest_written}) {
    ckpt::set_save_hook([stage](SaveStage s) {
      if (s == stage) throw CheckpointError("injected failure");
    });
    EXPECT_THROW(save(2, 2), CheckpointError);
    ckpt::set_save_hook({});
    EXPECT_EQ(entries(dir_.path), (std::vector<std::string>{"latest", "step-00000001"}));
    EXPECT_EQ(read_latest(dir_.path), "step-00000001");
    expect_holds(first, 1);
  }
}

// A crash (the process dies at the stage, no cleanup) in a forked child.
TEST_F(Find, ACrashMidSaveLeavesThePreviousCheckpointUsable) {
  const auto first = save(1, 1);
  for (SaveStage stage : {SaveStage::rank_file_written, SaveStage::manifest_written, SaveStage::directory_renamed}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ckpt::set_save_hook([stage](SaveStage s) {
        if (s == stage) ::_exit(3);
      });
      try {
        save(2, 2);
      } catch (...) {
      }
      ::_exit(0);  // the hook did not fire: the parent reports it
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "child did not die at the stage";

    EXPECT_EQ(read_latest(dir_.path), "step-00000001");
    std::vector<std::string> w;
    const auto found = find_auto(w);
    EXPECT_EQ(found, first);  // `latest` still names step 1, which validates
    expect_holds(first, 1);
    if (stage == SaveStage::directory_renamed) {
      // The new checkpoint is complete, only `latest` was not updated: it validates too.
      EXPECT_NO_THROW(verify_checkpoint(dir_.path / "step-00000002"));
      std::filesystem::remove_all(dir_.path / "step-00000002");
    } else {
      // A temporary is left behind; the next save removes it.
      bool tmp_left = false;
      for (const std::string& e : entries(dir_.path)) tmp_left |= e.find(".tmp-") != std::string::npos;
      EXPECT_TRUE(tmp_left);
      EXPECT_FALSE(std::filesystem::exists(dir_.path / "step-00000002"));
    }
  }
  save(3, 3);
  EXPECT_EQ(entries(dir_.path), (std::vector<std::string>{"latest", "step-00000001", "step-00000003"}));
}

}  // namespace
}  // namespace kiln::ckpt_test
