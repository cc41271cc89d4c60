// query_cuda() for builds with the CUDA backend.
#include <cuda_runtime.h>

#include "sysinfo/build_info.h"

namespace kiln {

CudaInfo query_cuda() {
  CudaInfo info;
  info.compiled = true;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);  // leaves 0 when there is no driver
  int count = 0;
  // On a machine without a GPU this returns an error (no device / insufficient driver) rather
  // than count = 0, so report it as the reason instead of treating it as fatal.
  if (cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    info.status = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later CUDA calls start clean
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    info.devices.push_back({i, prop.name, prop.major, prop.minor, static_cast<uint64_t>(prop.totalGlobalMem)});
  }
  if (info.devices.empty()) info.status = "no CUDA device visible";
  return info;
}

}  // namespace kiln
