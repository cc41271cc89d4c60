// TensorView: a typed, shaped window onto memory that someone else owns.
//
// Kernels, layers and the optimizer work on views into the few large Buffers allocated at
// start-up (DESIGN.md: flat buffers, plan memory once). A view is a pointer to its first element
// plus dtype, device and a row-major contiguous shape; it never owns, frees or allocates memory.
// The shape has a fixed maximum rank and lives inline, so making views in the step loop (a
// micro-batch's rows, a ZeRO shard) never touches the heap.
//
// Lifetime: a view is valid while the memory it points into is; destroying the Buffer invalidates
// it (moving the Buffer does not). A view does not carry constness, like the raw pointers kernels
// take: a function that only reads says so in its signature and contract.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>

#include "tensor/buffer.h"
#include "tensor/dtype.h"

namespace kiln {

// A row-major shape of up to kMaxRank non-negative dimensions. Rank 0 is a scalar (one element).
class Shape {
 public:
  // 4 covers [batch, heads, seq, head_dim]; 5 leaves room for a fused [batch, seq, 3, heads,
  // head_dim] QKV layout. Raising it costs 8 bytes per view.
  static constexpr int kMaxRank = 5;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}
  // Throws std::invalid_argument for more than kMaxRank dimensions or a negative one.
  explicit Shape(std::span<const int64_t> dims) {
    if (dims.size() > static_cast<size_t>(kMaxRank)) {
      throw std::invalid_argument("Shape: rank " + std::to_string(dims.size()) + " exceeds the maximum of " +
                                  std::to_string(kMaxRank));
    }
    for (int64_t d : dims) {
      if (d < 0) throw std::invalid_argument("Shape: negative dimension " + std::to_string(d));
    }
    std::copy(dims.begin(), dims.end(), dims_.begin());
    rank_ = static_cast<int>(dims.size());
  }

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }

  // This shape with dimension `dim` set to n >= 0.
  Shape with_dim(int dim, int64_t n) const {
    Shape s = *this;
    s.dims_[static_cast<size_t>(dim)] = n;
    return s;
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
    return n;
  }

  // "[768, 2304]"; "[]" for a scalar.
  std::string to_string() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[static_cast<size_t>(i)]);
    return s + "]";
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.dims_.begin(), a.dims_.begin() + a.rank_, b.dims_.begin());
  }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class TensorView {
 public:
  TensorView() = default;  // empty: no memory, shape [0]

  // `data` is the address of the first element (already offset), on `device`.
  TensorView(void* data, DType dtype, DeviceKind device, Shape shape)
      : data_(data), dtype_(dtype), device_(device), shape_(shape) {}

  // The whole buffer as one dimension; reshape() gives it another shape.
  explicit TensorView(Buffer& buffer)
      : TensorView(buffer.raw(), buffer.dtype(), buffer.device(), Shape{buffer.numel()}) {}

  DType dtype() const { return dtype_; }
  DeviceKind device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t size(int dim) const { return shape_[dim]; }
  int64_t numel() const { return shape_.numel(); }
  size_t bytes() const { return static_cast<size_t>(numel()) * size_of(dtype_); }

  void* raw() const { return data_; }

  // The first element as T (float for fp32, bf16 for bf16); throws std::logic_error when T does
  // not match dtype(). A device address when device() is cuda.
  template <class T>
  T* data() const {
    expect_dtype<T>(dtype_, "TensorView");
    return static_cast<T*>(data_);
  }

  // Rows [begin, end) of dimension 0, e.g. one micro-batch of a [batch, seq, hidden] activation,
  // or on a flat() view a contiguous element range such as a ZeRO shard. Rows of a row-major
  // tensor are contiguous, so the result is a view like any other.
  // Throws std::out_of_range unless 0 <= begin <= end <= size(0), std::logic_error for rank 0.
  TensorView slice_rows(int64_t begin, int64_t end) const {
    if (rank() == 0) throw std::logic_error("TensorView::slice_rows on a scalar");
    if (begin < 0 || begin > end || end > shape_[0]) {
      throw std::out_of_range("TensorView::slice_rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                              ") of shape " + shape_.to_string());
    }
    const int64_t row = shape_[0] == 0 ? 0 : numel() / shape_[0];
    char* first = static_cast<char*>(data_) + static_cast<size_t>(begin * row) * size_of(dtype_);
    return TensorView(first, dtype_, device_, shape_.with_dim(0, end - begin));
  }

  // The same elements under another shape of equal numel. Throws std::invalid_argument otherwise.
  TensorView reshape(Shape shape) const {
    if (shape.numel() != numel()) {
      throw std::invalid_argument("TensorView::reshape from " + shape_.to_string() + " to " + shape.to_string() +
                                  ": element counts differ");
    }
    return TensorView(data_, dtype_, device_, shape);
  }

  TensorView flat() const { return TensorView(data_, dtype_, device_, Shape{numel()}); }

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::fp32;
  DeviceKind device_ = DeviceKind::cpu;
  Shape shape_{0};
};

}  // namespace kiln
