// Multi-rank saves under mpirun (tests/CMakeLists.txt: ckpt_mpi_tests_np4): the world saves at
// tp 2 × dp 2, tp 1 × dp 4 and tp 4 × dp 1 (ZeRO-sharded or with dp rank 0 writing alone; fp32
// or bf16), and then every rank of other layouts loads it and must hold exactly the function of
// (tensor, global element) that the saving ranks wrote. The loads are spread over the world's
// ranks (loading is not collective). Also: one rank failing mid-save makes every rank throw and
// leaves the previous checkpoint as it was.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "ckpt/checkpoint.h"
#include "ckpt/save_hooks.h"
#include "ckpt_test_util.h"
#include "dist/mpi_test_env.h"

namespace kiln::ckpt_test {
namespace {

Communicator& world() { return test::world(); }

// One directory for the whole job: rank 0 creates it and tells the others.
class SharedDir {
 public:
  SharedDir() {
    std::array<char, 512> buf{};
    if (world().rank() == 0) {
      dir_ = std::make_unique<TempDir>("mpi");
      std::strncpy(buf.data(), dir_->path.c_str(), buf.size() - 1);
    }
    world().broadcast(buf.data(), buf.size(), CommDType::byte, 0);
    path = buf.data();
  }
  ~SharedDir() { world().barrier(); }  // nobody removes it (rank 0's TempDir) while others read
  std::filesystem::path path;

 private:
  std::unique_ptr<TempDir> dir_;
};

struct Layout {
  int tp, dp;
  bool sharded;
  DType dtype;
  std::string text() const {
    return "tp " + std::to_string(tp) + " × dp " + std::to_string(dp) + (sharded ? " ZeRO-1 " : " ") +
           std::string(name(dtype));
  }
};

void PrintTo(const Layout& l, std::ostream* os) { *os << l.text(); }

class Reshard : public ::testing::TestWithParam<Layout> {};

TEST_P(Reshard, EveryLayoutLoadsWhatTheWorldSaved) {
  const Layout src = GetParam();
  ASSERT_EQ(src.tp * src.dp, world().size()) << "registered for np 4";
  const ModelConfig model = small_model();
  SharedDir dir;
  const int w = world().rank();
  FakeRank mine(model, w % src.tp, src.tp, w / src.tp, src.dp, src.sharded, src.dtype);
  mine.fill(11);
  const auto path = save_checkpoint({dir.path, 2}, trainer_state(20), mine.state, world());
  EXPECT_EQ(path, dir.path / "step-00000020");

  // Every rank file that should exist does, and nothing else was left in the directory.
  if (w == 0) {
    EXPECT_NO_THROW(verify_checkpoint(path));
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) files += e.path().extension() == ".bin";
    EXPECT_EQ(files, src.sharded ? src.tp * src.dp : src.tp);
  }

  const Layout targets[] = {{1, 1, false, DType::fp32}, {1, 1, false, DType::bf16}, {2, 1, false, DType::fp32},
                            {1, 2, true, DType::fp32},  {4, 1, false, DType::bf16}, {2, 2, true, DType::fp32},
                            {1, 3, true, DType::fp32},  {4, 2, true, DType::bf16},  {2, 3, false, DType::fp32}};
  int job = 0;
  for (const Layout& t : targets)
    for (int tr = 0; tr < t.tp; ++tr)
      for (int dr = 0; dr < t.dp; ++dr) {
        if (job++ % world().size() != w) continue;
        FakeRank r(model, tr, t.tp, dr, t.dp, t.sharded, t.dtype);
        load_checkpoint(path, r.state);
        const std::string what = src.text() + " → " + t.text() + " rank (" + std::to_string(tr) + ", " + std::to_string(dr) + ")";
        const int64_t bad = r.mismatches(11, true, [&](const std::string& n, int64_t g, int k, float got, float want) {
          ADD_FAILURE() << what << ": " << n << "[" << g << "] array " << k << " = " << got << ", expected " << want;
        });
        EXPECT_EQ(bad, 0) << what;
      }
}

INSTANTIATE_TEST_SUITE_P(Sources, Reshard,
                         ::testing::Values(Layout{2, 2, true, DType::fp32}, Layout{1, 4, true, DType::fp32},
                                           Layout{4, 1, false, DType::fp32}, Layout{2, 2, false, DType::bf16},
                                           Layout{1, 4, true, DType::bf16}),
                         [](const auto& info) {
                           const Layout& l = info.param;
                           return "tp" + std::to_string(l.tp) + "dp" + std::to_string(l.dp) + (l.sharded ? "zero1" : "") +
                                  std::string(name(l.dtype));
                         });

TEST(SaveFailure, OneRankFailingMakesEveryRankThrowAndPublishesNothing) {
  const ModelConfig model = small_model();
  SharedDir dir;
  const int w = world().rank(), n = world().size();
  FakeRank mine(model, 0, 1, w, n, true, DType::fp32);
  mine.fill(1);
  save_checkpoint({dir.path, 3}, trainer_state(1), mine.state, world());

  ckpt::set_save_hook([&](ckpt::SaveStage s) {
    if (s == ckpt::SaveStage::rank_file_written && w == n - 1) throw CheckpointError("disk full (injected)");
  });
  try {
    save_checkpoint({dir.path, 3}, trainer_state(2), mine.state, world());
    ADD_FAILURE() << "rank " << w << ": no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(n - 1) + ": disk full (injected)"), std::string::npos)
        << e.what();
  }
  ckpt::set_save_hook({});
  world().barrier();
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"latest", "step-00000001"}));
  EXPECT_NO_THROW(verify_checkpoint(dir.path / "step-00000001"));
}

}  // namespace
}  // namespace kiln::ckpt_test
