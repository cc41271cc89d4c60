// A damaged or incompatible checkpoint is refused with an error that names the file, the array or
// the tensors, and the caller's buffers are left as they were.
#include <gtest/gtest.h>

#include "ckpt/checkpoint.h"
#include "ckpt_test_util.h"

namespace kiln::ckpt_test {
namespace {

class Damaged : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeRank saved(model_, 0, 1, 0, 1, false, DType::fp32);
    saved.fill(5);
    SelfCommunicator world("world");
    path_ = save_checkpoint({dir_.path, 3}, trainer_state(4), saved.state, world);
    file_ = path_ / "rank-00000-00000.bin";
    n_ = saved.masters.size();
  }

  // Loads into a rank pre-filled with 99 and expects an error containing every `needle`; the
  // buffers must still hold 99.
  void expect_refused(const std::vector<std::string>& needles) {
    FakeRank r(model_, 0, 1, 0, 1, false, DType::fp32);
    std::fill(r.masters.begin(), r.masters.end(), 99.0f);
    std::fill(r.m.begin(), r.m.end(), 99.0f);
    try {
      load_checkpoint(path_, r.state);
      ADD_FAILURE() << "load_checkpoint accepted the checkpoint";
    } catch (const CheckpointError& e) {
      for (const std::string& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
    for (float x : r.masters) ASSERT_EQ(x, 99.0f) << "a failed load wrote into the caller's buffers";
    for (float x : r.m) ASSERT_EQ(x, 99.0f) << "a failed load wrote into the caller's buffers";
    EXPECT_THROW(verify_checkpoint(path_), CheckpointError);
  }

  void flip_byte(uint64_t at) {
    std::fstream f(file_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&c, 1);
  }

  ModelConfig model_ = small_model();
  TempDir dir_{"damaged"};
  std::filesystem::path path_, file_;
  size_t n_ = 0;
};

TEST_F(Damaged, IntactCheckpointVerifies) { EXPECT_NO_THROW(verify_checkpoint(path_)); }

TEST_F(Damaged, FlippedByteIsAChecksumMismatchNamingFileAndArray) {
  flip_byte(n_ * 4 * 2 + 40);  // inside m (params, masters, m, v: n elements of 4 bytes each)
  expect_refused({"rank-00000-00000.bin", "checksum mismatch", "array m"});
}

TEST_F(Damaged, TruncatedFileIsASizeMismatch) {
  std::filesystem::resize_file(file_, std::filesystem::file_size(file_) - 100);
  expect_refused({"rank-00000-00000.bin", "size mismatch"});
}

TEST_F(Damaged, MissingFileIsNamed) {
  std::filesystem::remove(file_);
  expect_refused({"rank-00000-00000.bin", "missing file"});
}

TEST_F(Damaged, UnparsableManifest) {
  std::ofstream(path_ / "manifest.json") << "{\"format\": \"kiln-checkpoint\", \"version\": ";
  expect_refused({"manifest.json", "bad manifest"});
}

TEST_F(Damaged, ManifestOfAnotherVersion) {
  std::string text;
  {
    std::ifstream in(path_ / "manifest.json");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = text.find("\"version\": 1");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"version\": 7");
  std::ofstream(path_ / "manifest.json") << text;
  expect_refused({"manifest.json", "version 7 is not supported"});
}

TEST_F(Damaged, ModelWithOtherShapesIsRefusedListingEveryTensor) {
  FakeRank wider(small_model(64), 0, 1, 0, 1, false, DType::fp32);
  std::fill(wider.masters.begin(), wider.masters.end(), 99.0f);
  try {
    load_checkpoint(path_, wider.state);
    FAIL() << "accepted a checkpoint of hidden size 32 for hidden size 64";
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("differs from this one in"), std::string::npos) << msg;
    for (const char* t : {"model.embed_tokens.weight: expected [16, 64], the checkpoint has [16, 32]",
                          "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight",
                          "model.norm.weight", "lm_head.weight"})
      EXPECT_NE(msg.find(t), std::string::npos) << t << " not in: " << msg;
  }
  for (float x : wider.masters) ASSERT_EQ(x, 99.0f);
}

}  // namespace
}  // namespace kiln::ckpt_test
