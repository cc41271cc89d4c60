// Error checking for CUDA runtime, cuBLAS(Lt) and kernel launches, host side.
//
// Every CUDA call kiln makes goes through one of these macros: a failure throws std::runtime_error
// naming the call, the file and line, and the library's own message, so "an illegal memory access
// was encountered" arrives with where it was noticed. Kernel launches are checked with
// KILN_CUDA_CHECK_LAUNCH() right after the <<<>>>, which reports launch-configuration errors;
// faults inside a kernel surface at the next synchronising call.
//
// Plain C++17 so that both nvcc (.cu) and the host compiler (.cpp) include it.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace kiln::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(call)                                                         \
  do {                                                                                \
    const cudaError_t kiln_cuda_err_ = (call);                                        \
    if (kiln_cuda_err_ != cudaSuccess)                                                \
      ::kiln::cuda::throw_cuda_error(kiln_cuda_err_, #call, __FILE__, __LINE__);      \
  } while (0)

#define KILN_CUDA_CHECK_LAUNCH()                                                      \
  do {                                                                                \
    const cudaError_t kiln_cuda_err_ = cudaGetLastError();                            \
    if (kiln_cuda_err_ != cudaSuccess)                                                \
      ::kiln::cuda::throw_cuda_error(kiln_cuda_err_, "kernel launch", __FILE__, __LINE__); \
  } while (0)
