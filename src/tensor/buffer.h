// Buffer: one owned, typed, device-tagged allocation.
//
// kiln allocates a handful of large buffers at start-up (all parameters, all gradients, optimizer
// state, the activation arena) and never allocates inside the step loop; everything else is a
// TensorView into one of them (tensor_view.h). So a Buffer is deliberately plain: a dtype, an
// element count, a device and the memory, fixed for its lifetime. No resizing, no reference
// counting, no copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tensor/dtype.h"

namespace kiln {

enum class DeviceKind { cpu, cuda };

constexpr std::string_view name(DeviceKind d) { return d == DeviceKind::cuda ? "cuda" : "cpu"; }

class Buffer {
 public:
  // Host buffers are aligned to this many bytes: a cache line, and the widest vector register
  // (AVX-512), so kernels may use aligned vector loads from the start of any buffer.
  static constexpr size_t kAlignment = 64;

  Buffer() = default;  // empty: no memory, numel() == 0

  // Allocates numel elements of dtype on `device`, zero-filled (zero is 0.0 in fp32 and bf16), so
  // padding between tensors and unused tails read as zeros without anyone writing them.
  // Throws std::invalid_argument for numel < 0, std::runtime_error naming the size when the
  // memory cannot be had, and std::runtime_error for DeviceKind::cuda: this build has only the
  // CPU backend, and device allocation arrives with the CUDA backend.
  Buffer(DType dtype, int64_t numel, DeviceKind device = DeviceKind::cpu);
  ~Buffer();

  // Moving hands the memory over without relocating it, so views into a moved Buffer stay valid;
  // the moved-from Buffer is left empty.
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  DType dtype() const { return dtype_; }
  DeviceKind device() const { return device_; }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return static_cast<size_t>(numel_) * size_of(dtype_); }

  // The memory, untyped; nullptr for an empty Buffer. A device address when device() is cuda.
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  // The memory as T (float for fp32, bf16 for bf16). Throws std::logic_error when T does not
  // match dtype(). Like raw(), a device address when device() is cuda: the check is about what
  // the bits mean, not where they live.
  template <class T>
  T* data() {
    expect_dtype<T>(dtype_, "Buffer");
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    expect_dtype<T>(dtype_, "Buffer");
    return static_cast<const T*>(data_);
  }

 private:
  void release() noexcept;

  void* data_ = nullptr;
  int64_t numel_ = 0;
  DType dtype_ = DType::fp32;
  DeviceKind device_ = DeviceKind::cpu;
};

}  // namespace kiln
