// check_same_everywhere: equal text passes; a different text on some ranks makes every rank
// throw, naming what differs and which ranks.
#include <gtest/gtest.h>

#include <string>

#include "dist/startup_check.h"
#include "mpi_test_env.h"

namespace kiln {
namespace {

using test::world;

TEST(Fingerprint, IsSixtyFourBitFnv1a) {
  EXPECT_EQ(fingerprint(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fingerprint("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_NE(fingerprint("model:\n  hidden: 2048\n"), fingerprint("model:\n  hidden: 2560\n"));
}

TEST(CheckSameEverywhere, PassesWhenEveryRankHasTheSameText) {
  EXPECT_NO_THROW(check_same_everywhere(world(), "resolved config", "model:\n  hidden: 2048\n"));
  EXPECT_NO_THROW(check_same_everywhere(world(), "binary", executable_fingerprint()));
}

TEST(CheckSameEverywhere, EveryRankThrowsWhenOneRankDiffers) {
  const int n = world().size(), r = world().rank();
  if (n < 2) GTEST_SKIP() << "needs two ranks";
  const std::string text = r == n - 1 ? "optimizer:\n  lr: 3e-4\n" : "optimizer:\n  lr: 1e-4\n";
  try {
    check_same_everywhere(world(), "resolved config", text);
    ADD_FAILURE() << "no DistError on rank " << r;
  } catch (const DistError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("resolved config differs across ranks: rank " + std::to_string(n - 1) + " (of " +
                        std::to_string(n) + ") differs from rank 0"),
              std::string::npos)
        << what;
  }
}

TEST(CheckSameEverywhere, ListsEveryDifferingRank) {
  const int n = world().size(), r = world().rank();
  if (n < 4) GTEST_SKIP() << "needs four ranks";
  const std::string text = (r == 1 || r == 3) ? "stale build" : "build 42";
  try {
    check_same_everywhere(world(), "binary", text);
    ADD_FAILURE() << "no DistError on rank " << r;
  } catch (const DistError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("binary differs across ranks: ranks 1, 3 (of " + std::to_string(n) + ") differ from rank 0"),
              std::string::npos)
        << what;
  }
}

TEST(ExecutableFingerprint, NamesSizeAndHash) {
  const std::string f = executable_fingerprint();
  EXPECT_NE(f.find("executable "), std::string::npos) << f;
  EXPECT_NE(f.find(" bytes, fingerprint "), std::string::npos) << f;
  EXPECT_EQ(f, executable_fingerprint());
}

}  // namespace
}  // namespace kiln
