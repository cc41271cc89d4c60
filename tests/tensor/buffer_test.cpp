// Buffer, and TensorView on top of it.
#include "tensor/buffer.h"

#include "tensor/bf16.h"
#include "tensor/tensor_view.h"

#include <gtest/gtest.h>

#include "support/error_text.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace kiln {
namespace {

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % Buffer::kAlignment == 0; }

bool all_zero(const Buffer& b) {
  const auto* bytes = static_cast<const unsigned char*>(b.raw());
  for (size_t i = 0; i < b.bytes(); ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

using testing::contains;
using testing::error_of;

static_assert(!std::is_copy_constructible_v<Buffer> && !std::is_copy_assignable_v<Buffer>);
static_assert(std::is_nothrow_move_constructible_v<Buffer> && std::is_nothrow_move_assignable_v<Buffer>);

TEST(Buffer, SizesAndTags) {
  Buffer f(DType::fp32, 10);
  EXPECT_EQ(f.dtype(), DType::fp32);
  EXPECT_EQ(f.device(), DeviceKind::cpu);
  EXPECT_EQ(f.numel(), 10);
  EXPECT_EQ(f.bytes(), 40u);
  Buffer h(DType::bf16, 10);
  EXPECT_EQ(h.bytes(), 20u);
  EXPECT_EQ(size_of(DType::fp32), 4u);
  EXPECT_EQ(size_of(DType::bf16), 2u);
  EXPECT_EQ(name(DType::bf16), "bf16");
  EXPECT_EQ(name(DeviceKind::cuda), "cuda");
}

TEST(Buffer, HostMemoryIsAligned) {
  // Odd sizes in both dtypes, allocated back to back, so that the allocator's natural 16-byte
  // alignment would show up if 64 were not asked for.
  for (int64_t n : {1, 3, 17, 1000, 4097, 1 << 20}) {
    Buffer a(DType::bf16, n), b(DType::fp32, n), c(DType::bf16, n);
    EXPECT_TRUE(aligned(a.raw())) << n;
    EXPECT_TRUE(aligned(b.raw())) << n;
    EXPECT_TRUE(aligned(c.raw())) << n;
  }
}

TEST(Buffer, IsZeroInitialised) {
  // Dirty some memory and free it, many times over, so that later allocations of the same size
  // are likely to get it back: zeros then come from the Buffer, not from fresh pages.
  for (int round = 0; round < 50; ++round) {
    {
      Buffer dirty(DType::fp32, 257);
      std::memset(dirty.raw(), 0xAB, dirty.bytes());
    }
    Buffer clean(DType::fp32, 257);
    ASSERT_TRUE(all_zero(clean)) << round;
  }
  Buffer big(DType::bf16, 3'000'001);
  EXPECT_TRUE(all_zero(big));
  EXPECT_EQ(to_float(big.data<bf16>()[3'000'000]), 0.0f);
}

TEST(Buffer, TypedAccessIsCheckedAgainstDtype) {
  Buffer f(DType::fp32, 4);
  EXPECT_EQ(f.data<float>(), f.raw());
  const Buffer& cf = f;
  EXPECT_EQ(cf.data<const float>(), cf.raw());
  EXPECT_THROW(f.data<bf16>(), std::logic_error);
  EXPECT_TRUE(contains(error_of([&] { f.data<bf16>(); }), "holds fp32 but was accessed as bf16"));

  Buffer h(DType::bf16, 4);
  h.data<bf16>()[3] = to_bf16(2.5f);
  EXPECT_EQ(to_float(h.data<const bf16>()[3]), 2.5f);
  EXPECT_THROW(h.data<float>(), std::logic_error);
}

TEST(Buffer, EmptyBuffers) {
  Buffer none;
  EXPECT_EQ(none.numel(), 0);
  EXPECT_EQ(none.raw(), nullptr);
  Buffer zero(DType::bf16, 0);
  EXPECT_EQ(zero.numel(), 0);
  EXPECT_EQ(zero.bytes(), 0u);
  EXPECT_EQ(zero.dtype(), DType::bf16);
}

TEST(Buffer, RejectsNegativeSize) {
  EXPECT_THROW(Buffer(DType::fp32, -1), std::invalid_argument);
}

TEST(Buffer, CudaIsUnavailableInTheCpuBuild) {
  EXPECT_THROW(Buffer(DType::bf16, 8, DeviceKind::cuda), std::runtime_error);
  const std::string message = error_of([] { Buffer(DType::bf16, 8, DeviceKind::cuda); });
  EXPECT_TRUE(contains(message, "cuda"));
  EXPECT_TRUE(contains(message, "CPU backend"));
  EXPECT_TRUE(contains(message, "8 bf16 elements"));
}

TEST(Buffer, ImpossibleSizeFailsWithItsSize) {
  const std::string message = error_of([] { Buffer(DType::fp32, int64_t{1} << 61); });
  EXPECT_TRUE(contains(message, std::to_string(int64_t{1} << 61)));
}

TEST(Buffer, MoveHandsOverTheSameMemory) {
  Buffer a(DType::fp32, 16);
  a.data<float>()[5] = 7.0f;
  TensorView view(a);
  void* memory = a.raw();

  Buffer b(std::move(a));
  EXPECT_EQ(b.raw(), memory);
  EXPECT_EQ(b.numel(), 16);
  EXPECT_EQ(a.raw(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.numel(), 0);
  EXPECT_EQ(view.data<float>()[5], 7.0f);  // views made before the move still see the memory

  Buffer c(DType::bf16, 3);
  c = std::move(b);
  EXPECT_EQ(c.raw(), memory);
  EXPECT_EQ(c.dtype(), DType::fp32);
  EXPECT_EQ(b.numel(), 0);  // NOLINT(bugprone-use-after-move)
}

// ---- TensorView ---------------------------------------------------------------------------

TEST(TensorView, WholeBufferAndReshape) {
  Buffer b(DType::fp32, 24);
  for (int i = 0; i < 24; ++i) b.data<float>()[i] = static_cast<float>(i);
  TensorView flat(b);
  EXPECT_EQ(flat.shape(), (Shape{24}));
  EXPECT_EQ(flat.raw(), b.raw());
  EXPECT_EQ(flat.bytes(), b.bytes());

  TensorView t = flat.reshape({2, 3, 4});
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.size(2), 4);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.data<float>()[23], 23.0f);
  EXPECT_EQ(t.flat().shape(), (Shape{24}));
  EXPECT_THROW(t.reshape({5, 5}), std::invalid_argument);
  EXPECT_THROW(t.data<bf16>(), std::logic_error);
}

TEST(TensorView, SliceRowsAddressesTheRows) {
  Buffer b(DType::bf16, 24);
  for (int i = 0; i < 24; ++i) b.data<bf16>()[i] = to_bf16(static_cast<float>(i));
  TensorView t = TensorView(b).reshape({4, 2, 3});

  TensorView rows = t.slice_rows(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(rows.dtype(), DType::bf16);
  EXPECT_EQ(static_cast<char*>(rows.raw()) - static_cast<char*>(b.raw()), 6 * 2);  // 1 row of 6 bf16
  EXPECT_EQ(to_float(rows.data<bf16>()[0]), 6.0f);
  EXPECT_EQ(to_float(rows.data<bf16>()[11]), 17.0f);

  EXPECT_EQ(t.slice_rows(4, 4).numel(), 0);
  EXPECT_THROW(t.slice_rows(3, 5), std::out_of_range);
  EXPECT_THROW(t.slice_rows(2, 1), std::out_of_range);
  EXPECT_THROW(t.slice_rows(-1, 1), std::out_of_range);
  TensorView scalar(b.raw(), DType::bf16, DeviceKind::cpu, Shape{});
  EXPECT_THROW(scalar.slice_rows(0, 0), std::logic_error);
}

TEST(TensorView, FlatSliceIsAContiguousRange) {
  Buffer b(DType::fp32, 10);
  TensorView shard = TensorView(b).reshape({2, 5}).flat().slice_rows(3, 8);  // a ZeRO-style shard
  EXPECT_EQ(shard.shape(), (Shape{5}));
  EXPECT_EQ(shard.data<float>(), b.data<float>() + 3);
}

TEST(TensorView, ShapeBasics) {
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_EQ((Shape{3, 0, 2}).numel(), 0);
  EXPECT_EQ((Shape{768, 2304}).to_string(), "[768, 2304]");
  EXPECT_EQ(Shape{}.to_string(), "[]");
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6}), std::invalid_argument);
  EXPECT_THROW((Shape{2, -1}), std::invalid_argument);
  EXPECT_FALSE((Shape{2, 3}) == (Shape{3, 2}));
  EXPECT_EQ(TensorView().numel(), 0);
}

TEST(TensorView, CarriesItsDevice) {
  float host[4] = {};
  TensorView v(host, DType::fp32, DeviceKind::cuda, Shape{2, 2});  // never dereferenced here
  EXPECT_EQ(v.slice_rows(1, 2).device(), DeviceKind::cuda);
  EXPECT_EQ(v.reshape({4}).device(), DeviceKind::cuda);
}

}  // namespace
}  // namespace kiln
