// query_cuda() for CPU-only builds.
#include "sysinfo/build_info.h"

namespace kiln {

CudaInfo query_cuda() {
  CudaInfo info;
  info.status = "kiln was built without CUDA";
  return info;
}

}  // namespace kiln
