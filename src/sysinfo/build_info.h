// What this kiln binary is and what it runs on: version, build, linked library versions and the
// visible CUDA devices. Shown by `kiln version` and written at the top of every run's log.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct CudaDevice {
  int index;
  std::string name;
  int major, minor;  // compute capability
  uint64_t memory_bytes;
};

struct CudaInfo {
  bool compiled = false;      // built with the CUDA backend
  int runtime_version = 0;    // e.g. 13000
  int driver_version = 0;     // 0 when no driver
  std::vector<CudaDevice> devices;
  std::string status;         // why there are no devices, when there are none
};

CudaInfo query_cuda();  // never throws: no driver or no GPU is reported in `status`

struct BuildInfo {
  std::string version, git, build_type, compiler;
  std::vector<std::pair<std::string, std::string>> libraries;  // name → version
};

BuildInfo build_info();

std::string format_build_info(const BuildInfo&, const CudaInfo&);

}  // namespace kiln
