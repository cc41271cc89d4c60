// Test support for the CUDA backend: skip without a GPU, and device arrays that tests fill from
// host vectors and read back.
//
// Every GPU test starts with KILN_SKIP_WITHOUT_GPU(): where cudaGetDeviceCount fails (no driver,
// as on CI) or finds no device, the test is skipped with the runtime's reason, never failed.
//
// DeviceArray<T> is test-only convenience (it allocates per use, which the product must not do in
// its step loop). Device memory is poisoned on creation (every byte 0xFF: a NaN in bf16 and fp32),
// so an element an op should have written but did not shows up as NaN in the comparison.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "support/grad_check.h"
#include "tensor/bf16.h"

namespace kiln::test {

// "" when a GPU can be used; else why not.
inline std::string why_no_gpu() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) return std::string("no usable GPU: ") + cudaGetErrorString(err);
  if (n == 0) return "no CUDA device";
  return "";
}

#define KILN_SKIP_WITHOUT_GPU()                                        \
  do {                                                                 \
    const std::string kiln_why_ = ::kiln::test::why_no_gpu();          \
    if (!kiln_why_.empty()) GTEST_SKIP() << kiln_why_;                 \
  } while (0)

inline void cuda_ok(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// A device array of n elements of T (bf16, float, int32_t…), freed on destruction.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    cuda_ok(cudaMalloc(&p_, bytes() ? bytes() : 1), "cudaMalloc");
    poison();
  }
  // Uploads host values; for T = bf16, `values` are floats rounded to bf16 (kiln::to_bf16).
  template <class U>
  explicit DeviceArray(const std::vector<U>& values) : DeviceArray(values.size()) {
    upload(values);
  }
  ~DeviceArray() { cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() { return static_cast<T*>(p_); }
  const T* get() const { return static_cast<const T*>(p_); }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

  void poison() {
    cuda_ok(cudaMemset(p_, 0xFF, bytes()), "cudaMemset");
    cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

  template <class U>
  void upload(const std::vector<U>& values) {
    if (values.size() != n_) throw std::invalid_argument("DeviceArray::upload: size mismatch");
    std::vector<T> host(n_);
    for (size_t i = 0; i < n_; ++i) host[i] = convert(values[i]);
    cuda_ok(cudaMemcpy(p_, host.data(), bytes(), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    // A pageable cudaMemcpy may return before the data lands, and CudaOps' non-blocking stream
    // does not wait for the legacy stream: make the data visible before any op reads it.
    cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  }

  // The contents as floats (bf16 widened exactly), after waiting for all device work.
  std::vector<float> to_floats() const {
    cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    std::vector<T> host(n_);
    cuda_ok(cudaMemcpy(host.data(), p_, bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
    std::vector<float> out(n_);
    for (size_t i = 0; i < n_; ++i) {
      if constexpr (std::is_same_v<T, bf16>) out[i] = to_float(host[i]);
      else out[i] = static_cast<float>(host[i]);
    }
    return out;
  }

 private:
  template <class U>
  static T convert(U v) {
    if constexpr (std::is_same_v<T, bf16>) return to_bf16(static_cast<float>(v));
    else return static_cast<T>(v);
  }

  void* p_ = nullptr;
  size_t n_;
};

// Host floats rounded through bf16: what the CPU reference should see as its input when the GPU
// gets the bf16 version of the same numbers.
inline std::vector<float> bf16_rounded(std::vector<float> x) {
  for (float& v : x) v = to_float(to_bf16(v));
  return x;
}

// n values uniform in [lo, hi), rounded to bf16: the GPU gets them as bf16, the CPU reference the
// same numbers as floats.
inline std::vector<float> random_bf16(size_t n, uint32_t seed, double lo = -1.0, double hi = 1.0) {
  const std::vector<double> d = kiln::testing::random_vector(n, seed, lo, hi);
  return bf16_rounded(std::vector<float>(d.begin(), d.end()));
}

// Waits for every upload and kernel on the device (DeviceArray::upload already does; for raw
// cudaMemcpy calls in tests).
inline void sync_uploads() { cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// Elements [off, off + n) of v.
inline std::vector<float> slice(const std::vector<float>& v, size_t off, size_t n) {
  return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(off),
                            v.begin() + static_cast<std::ptrdiff_t>(off + n));
}

// max |a − b| / max(|b|, floor) over the elements. Anything that is not a finite number on either
// side gives +inf, so the comparison fails and says so: NaN in a (an unwritten, poisoned element),
// and NaN or ±inf in the reference b too (a broken reference must not pass as agreement; a NaN
// difference would otherwise compare false against the running maximum and vanish).
inline double max_rel_error(const std::vector<float>& a, const std::vector<float>& b, double floor = 1e-2) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    const double d = std::abs(static_cast<double>(a[i]) - b[i]) / std::max(std::abs(static_cast<double>(b[i])), floor);
    if (d > worst) worst = d;
  }
  return a.size() == b.size() ? worst : INFINITY;
}

}  // namespace kiln::test
