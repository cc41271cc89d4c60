// build_info/query_cuda: the report names the libraries the binary was linked against, and the
// CUDA query runs on a machine without a GPU (reporting why) and with one (listing it).
#include <gtest/gtest.h>

#include "sysinfo/build_info.h"

namespace kiln {
namespace {

TEST(BuildInfo, NamesLinkedLibraries) {
  const BuildInfo b = build_info();
  const std::string text = format_build_info(b, query_cuda());
  EXPECT_NE(text.find("kiln "), std::string::npos);
  for (const char* lib : {"MPI", "HDF5", "yaml-cpp", "spdlog"}) EXPECT_NE(text.find(lib), std::string::npos) << lib;
  // Versions are real numbers, not placeholders.
  for (const auto& [name, version] : b.libraries) {
    EXPECT_FALSE(version.empty()) << name;
    EXPECT_NE(version, "unknown") << name;
  }
}

TEST(CudaQuery, ReportsDevicesOrWhyNone) {
  const CudaInfo info = query_cuda();
#ifdef KILN_WITH_CUDA
  EXPECT_TRUE(info.compiled);
  EXPECT_GT(info.runtime_version, 0);
#else
  EXPECT_FALSE(info.compiled);
#endif
  if (info.devices.empty()) {
    EXPECT_FALSE(info.status.empty());
    GTEST_SKIP() << "no GPU here: " << info.status;
  }
  for (const auto& d : info.devices) {
    EXPECT_GE(d.major, 7) << d.name;
    EXPECT_GT(d.memory_bytes, uint64_t{1} << 30) << d.name;
  }
}

}  // namespace
}  // namespace kiln
