#include "tensor/buffer.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace kiln {

namespace {

// "3000 bf16 elements (6000 bytes, 0.00 GiB)": the size in the units a user plans memory in.
std::string describe(DType dtype, int64_t numel, size_t bytes) {
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.2f", static_cast<double>(bytes) / (1ull << 30));
  return std::to_string(numel) + " " + std::string(name(dtype)) + " elements (" + std::to_string(bytes) + " bytes, " +
         gib + " GiB)";
}

}  // namespace

Buffer::Buffer(DType dtype, int64_t numel, DeviceKind device) : dtype_(dtype), device_(device) {
  if (numel < 0) throw std::invalid_argument("Buffer: negative element count " + std::to_string(numel));
  if (static_cast<uint64_t>(numel) > std::numeric_limits<size_t>::max() / size_of(dtype)) {
    throw std::runtime_error("Buffer: " + std::to_string(numel) + " " + std::string(name(dtype)) +
                             " elements do not fit in the address space");
  }
  const size_t n = static_cast<size_t>(numel) * size_of(dtype);
  if (device == DeviceKind::cuda) {
    // Deliberately no CUDA here: the CUDA backend allocates (and zeroes) device memory in a .cu
    // file of its own, the way sysinfo splits cuda_devices.cu from cuda_devices_none.cpp.
    throw std::runtime_error("Buffer: cannot allocate " + describe(dtype, numel, n) +
                             " on device cuda: this build has only the CPU backend");
  }
  if (n == 0) return;
  data_ = ::operator new(n, std::align_val_t{kAlignment}, std::nothrow);
  if (data_ == nullptr) throw std::runtime_error("Buffer: cannot allocate " + describe(dtype, numel, n) + " on the host");
  std::memset(data_, 0, n);
  numel_ = numel;
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      numel_(std::exchange(other.numel_, 0)),
      dtype_(other.dtype_),
      device_(other.device_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    numel_ = std::exchange(other.numel_, 0);
    dtype_ = other.dtype_;
    device_ = other.device_;
  }
  return *this;
}

void Buffer::release() noexcept {
  if (data_ != nullptr) ::operator delete(data_, std::align_val_t{kAlignment});
  data_ = nullptr;
  numel_ = 0;
}

}  // namespace kiln
