#include "util/atomic_file.h"

#include "support/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::testing::read_file;

class AtomicFileTest : public ::testing::Test {
 protected:
  static void spit(const fs::path& p, const std::string& s) {
    std::ofstream(p, std::ios::binary) << s;
  }
  // Everything in dir_ other than the named files; a leftover temporary would show up here.
  size_t entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  kiln::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(AtomicFileTest, CreatesNewFile) {
  fs::path target = dir_ / "new.txt";
  write_file_atomic(target, "hello\n");
  EXPECT_EQ(read_file(target), "hello\n");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, ReplacesExistingContentAndLeavesNoTemporary) {
  fs::path target = dir_ / "latest";
  spit(target, "a much longer old content that must not survive in any part");
  write_file_atomic(target, "short");
  EXPECT_EQ(read_file(target), "short");
  EXPECT_EQ(entries(), 1u);
  EXPECT_FALSE(fs::exists(target.string() + ".tmp." + std::to_string(::getpid())));
}

TEST_F(AtomicFileTest, WritesEmptyAndBinaryContents) {
  fs::path target = dir_ / "bin";
  write_file_atomic(target, "");
  EXPECT_EQ(fs::file_size(target), 0u);
  std::string binary("a\0b\xff\n", 5);
  write_file_atomic(target, binary);
  EXPECT_EQ(read_file(target), binary);
}

TEST_F(AtomicFileTest, RelativePathInCurrentDirectory) {
  fs::path old_cwd = fs::current_path();
  fs::current_path(dir_);
  try {
    write_file_atomic("rel.txt", "x");
  } catch (...) {
    fs::current_path(old_cwd);
    throw;
  }
  fs::current_path(old_cwd);
  EXPECT_EQ(read_file(dir_ / "rel.txt"), "x");
}

TEST_F(AtomicFileTest, MissingDirectoryThrowsNamingPath) {
  fs::path target = dir_ / "no" / "such" / "dir" / "file.txt";
  try {
    write_file_atomic(target, "x");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "no"));
}

// Tests run as root, where permission bits do not stop a write; a parent that is a regular file
// fails for everyone.
TEST_F(AtomicFileTest, ParentIsRegularFileThrows) {
  spit(dir_ / "plain", "keep");
  EXPECT_THROW(write_file_atomic(dir_ / "plain" / "file.txt", "x"), std::runtime_error);
  EXPECT_EQ(read_file(dir_ / "plain"), "keep");
  EXPECT_EQ(entries(), 1u);
}

// The rename fails after the temporary was fully written: the temporary must be cleaned up and
// the target left as it was.
TEST_F(AtomicFileTest, SpecialFileTargetIsRefusedNotReplaced) {
  // Renaming over a FIFO or device would replace it with a regular file.
  fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(write_file_atomic(fifo, "x"), std::runtime_error);
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(entries(), 1u) << "temporary left behind";
}

TEST_F(AtomicFileTest, DirectoryTargetIsRefusedAndKeptIntact) {
  fs::path target = dir_ / "occupied";
  fs::create_directory(target);
  spit(target / "inside", "original");
  try {
    write_file_atomic(target, "new contents");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(target));
  EXPECT_EQ(read_file(target / "inside"), "original");
  EXPECT_EQ(entries(), 1u) << "temporary left behind";
}

}  // namespace
}  // namespace kiln
