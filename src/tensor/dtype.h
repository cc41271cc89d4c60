// The element types kiln stores: fp32 and bf16.
//
// Storage only. Arithmetic is always done in fp32 (or wider): a bf16 value is widened on load and
// rounded once on store (bf16.h), so bf16 buffers halve memory and bandwidth without bf16 rounding
// errors compounding inside a reduction.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace kiln {

enum class DType { fp32, bf16 };

// Bytes per element.
constexpr size_t size_of(DType t) { return t == DType::bf16 ? 2 : 4; }

// "fp32" or "bf16", the spelling the config uses for precisions.
constexpr std::string_view name(DType t) { return t == DType::bf16 ? "bf16" : "fp32"; }

struct bf16;  // bf16.h

// The DType of a C++ storage type. Only float and bf16 have one; any other type is a compile error,
// so typed access can only ever be requested for a type that some DType actually describes.
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::fp32;
};
template <>
struct DTypeOf<bf16> {
  static constexpr DType value = DType::bf16;
};
template <class T>
inline constexpr DType dtype_of = DTypeOf<std::remove_const_t<T>>::value;

// Throws std::logic_error when memory holding `actual` is read as T: that is a programming error
// (a kernel handed the wrong buffer), and reinterpreting bf16 bits as float would fail silently.
// `who` names the object in the message ("Buffer", "TensorView").
template <class T>
void expect_dtype(DType actual, std::string_view who) {
  if (actual != dtype_of<T>) {
    throw std::logic_error(std::string(who) + " holds " + std::string(name(actual)) + " but was accessed as " +
                           std::string(name(dtype_of<T>)));
  }
}

}  // namespace kiln
