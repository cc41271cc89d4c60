// CudaOps: construction, memory, copies and the start-up tables (rotary, ALiBi). The ops
// themselves are defined beside their kernels' families (cuda_ops_*.cpp).
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/alibi.h"
#include "cpu/rotary.h"
#include "cuda/cuda_check.h"
#include "cuda/reduce.h"
#include "ops/cuda_ops.h"

namespace kiln {
namespace {

// cuBLASLt's workspace: 32 MiB is what NVIDIA recommends for Hopper's larger split-K kernels.
constexpr size_t kLtWorkspaceBytes = size_t{32} << 20;
// Column-reduction and loss partials: 64 MiB covers kReduceRows × 256k-wide fp32 partials.
constexpr size_t kScratchBytes = size_t{64} << 20;

void check_lt(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLASLt: ") + what + " failed with status " + std::to_string(static_cast<int>(s)));
}

}  // namespace

CudaOps::CudaOps() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("train.device = cuda, but no GPU can be used: ") + cudaGetErrorString(err));
  if (count == 0) throw std::runtime_error("train.device = cuda, but this machine has no CUDA device");
  KILN_CUDA_CHECK(cudaGetDevice(&device_));
  KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  check_lt(cublasLtCreate(&lt_), "cublasLtCreate");
  lt_workspace_bytes_ = kLtWorkspaceBytes;
  lt_workspace_ = device_alloc(lt_workspace_bytes_);
  scratch_bytes_ = kScratchBytes;
  scratch_ = static_cast<float*>(device_alloc(scratch_bytes_));
  sum_device_ = static_cast<double*>(device_alloc(sizeof(double)));
  KILN_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&sum_host_), sizeof(double)));
}

CudaOps::~CudaOps() {
  // Errors are not thrown from a destructor; a sticky error has already been reported by the op
  // that hit it.
  if (stream_) cudaStreamSynchronize(stream_);
  for (void* p : allocations_) cudaFree(p);
  if (sum_host_) cudaFreeHost(sum_host_);
  if (lt_) cublasLtDestroy(lt_);
  if (stream_) cudaStreamDestroy(stream_);
}

void* CudaOps::device_alloc(size_t bytes) {
  void* p = nullptr;
  const size_t n = bytes == 0 ? 256 : bytes;
  const cudaError_t err = cudaMalloc(&p, n);
  if (err != cudaSuccess) {
    size_t free_bytes = 0, total = 0;
    cudaGetLastError();  // clear the allocation error so later calls are not blamed for it
    cudaMemGetInfo(&free_bytes, &total);
    throw std::runtime_error("cannot allocate " + std::to_string(n) + " bytes on GPU " + std::to_string(device_) +
                             " (" + std::to_string(free_bytes >> 20) + " MiB free of " +
                             std::to_string(total >> 20) + " MiB): " + cudaGetErrorString(err) +
                             "; lower batch.micro_batch or use tensor parallelism");
  }
  allocations_.push_back(p);
  KILN_CUDA_CHECK(cudaMemsetAsync(p, 0, n, stream_));
  return p;
}

void* CudaOps::allocate(size_t bytes) {
  void* p = device_alloc(bytes);  // cudaMalloc aligns to 256 bytes
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return p;
}

void CudaOps::copy_from_host(void* dst, const void* host_src, size_t bytes) {
  if (!bytes) return;
  KILN_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_));
  // The caller may reuse host_src as soon as this returns (pageable memory is staged by the
  // driver, but pinned memory is read asynchronously), so wait for the copy.
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaOps::copy_to_host(void* host_dst, const void* src, size_t bytes) {
  if (!bytes) return;
  KILN_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaOps::synchronize() { KILN_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

double CudaOps::sum_to_host(const float* values, int n) {
  cuda::sum_floats_to_double(sum_device_, values, n, stream_);
  KILN_CUDA_CHECK(cudaMemcpyAsync(sum_host_, sum_device_, sizeof(double), cudaMemcpyDeviceToHost, stream_));
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return *sum_host_;
}

float* CudaOps::scratch(size_t bytes, const char* op) {
  if (bytes > scratch_bytes_)
    throw std::runtime_error(std::string("CudaOps::") + op + " needs " + std::to_string(bytes) +
                             " bytes of reduction scratch, more than the " + std::to_string(scratch_bytes_) +
                             " reserved at construction");
  return scratch_;
}

void CudaOps::prepare_rotary(int rotary_dims, int max_positions, double theta) {
  // The CPU reference's tables (angles in double, rounded to fp32 once), uploaded: both backends
  // rotate by the same numbers.
  const cpu::RotaryTable<float> table(rotary_dims, max_positions, theta);  // validates
  const size_t bytes = table.cos.size() * sizeof(float);
  rotary_cos_ = static_cast<float*>(device_alloc(bytes));
  rotary_sin_ = static_cast<float*>(device_alloc(bytes));
  copy_from_host(rotary_cos_, table.cos.data(), bytes);
  copy_from_host(rotary_sin_, table.sin.data(), bytes);
  rotary_dims_ = rotary_dims;
  rotary_positions_ = max_positions;
}

const float* CudaOps::prepare_alibi(int n_heads, int head_begin, int head_count) {
  std::vector<float> slopes(static_cast<size_t>(head_count > 0 ? head_count : 0));
  cpu::alibi_slopes(slopes.data(), n_heads, head_begin, head_count);  // validates
  alibi_ = static_cast<float*>(device_alloc(slopes.size() * sizeof(float)));
  copy_from_host(alibi_, slopes.data(), slopes.size() * sizeof(float));
  return alibi_;
}

}  // namespace kiln
