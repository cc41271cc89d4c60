#include "sysinfo/build_info.h"

#include <hdf5.h>
#include <mpi.h>
#include <spdlog/version.h>

#include <sstream>

#include "kiln_version.h"

namespace kiln {

namespace {
std::string mpi_library_version() {
  // MPI_Get_library_version may be called before MPI_Init (MPI-3 §8.1.1).
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  std::string s(text, static_cast<size_t>(length));
  if (auto nl = s.find_first_of(",\n"); nl != std::string::npos) s.resize(nl);
  return s;
}
}  // namespace

BuildInfo build_info() {
  BuildInfo b;
  b.version = KILN_VERSION;
  b.git = KILN_GIT_DESCRIBE;
  b.build_type = KILN_BUILD_TYPE;
#if defined(__clang__)
  b.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  b.compiler = "gcc " __VERSION__;
#else
  b.compiler = "unknown";
#endif
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
  b.libraries = {
      {"MPI", mpi_library_version()},
      {"HDF5", std::to_string(h5_major) + "." + std::to_string(h5_minor) + "." + std::to_string(h5_release)},
      {"yaml-cpp", KILN_YAML_CPP_VERSION},
      {"spdlog", std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "." +
                     std::to_string(SPDLOG_VER_PATCH)},
  };
  return b;
}

std::string format_build_info(const BuildInfo& b, const CudaInfo& cuda) {
  std::ostringstream os;
  os << "kiln " << b.version << " (" << b.git << ", " << b.build_type << ", " << b.compiler << ")\n";
  for (const auto& [name, version] : b.libraries) os << "  " << name << ": " << version << "\n";
  if (!cuda.compiled) {
    os << "  CUDA: not compiled in (CPU-only build)\n";
    return os.str();
  }
  auto v = [](int x) { return std::to_string(x / 1000) + "." + std::to_string(x % 1000 / 10); };
  os << "  CUDA: runtime " << v(cuda.runtime_version) << ", architectures " << KILN_CUDA_ARCHITECTURES;
  if (cuda.driver_version) os << ", driver " << v(cuda.driver_version);
  os << "\n";
  if (cuda.devices.empty()) os << "  GPUs: none (" << cuda.status << ")\n";
  for (const auto& d : cuda.devices)
    os << "  GPU " << d.index << ": " << d.name << ", sm_" << d.major << d.minor << ", "
       << d.memory_bytes / (1024 * 1024) << " MiB\n";
  return os.str();
}

}  // namespace kiln
