#include "train/train_backend.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace kiln {

bool op_profiling_requested() {
  const char* v = std::getenv("KILN_PROFILE_OPS");
  return v && *v && std::string(v) != "0";
}

std::unique_ptr<TrainBackend> make_train_backend(const Config& config, ProcessGrid& grid) {
  if (config.train.device == Device::cpu) return make_cpu_train_backend(config, grid);
#if KILN_WITH_CUDA
  return make_cuda_train_backend(config, grid);
#else
  throw std::runtime_error("train.device = cuda: this kiln was built without the CUDA backend (no nvcc when it was "
                           "configured, or -DKILN_CUDA=OFF); build it with CUDA (docs/building.md) or use "
                           "train.device=cpu");
#endif
}

}  // namespace kiln
