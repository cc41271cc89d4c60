// String names of the config enums, shared by the loader, the emitter and the reference docs.
// The YAML spelling of each value is exactly its C++ enumerator name.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace kiln {

template <class E>
struct EnumNames;  // specialised below: static constexpr std::array<std::pair<E, std::string_view>, N> table

#define KILN_ENUM_NAMES(E, ...)                                         \
  template <>                                                           \
  struct EnumNames<E> {                                                 \
    static constexpr auto table = std::to_array<std::pair<E, std::string_view>>({__VA_ARGS__}); \
  }

KILN_ENUM_NAMES(NormType, {NormType::layernorm, "layernorm"}, {NormType::rmsnorm, "rmsnorm"});
KILN_ENUM_NAMES(PositionType, {PositionType::rotary, "rotary"}, {PositionType::alibi, "alibi"},
                {PositionType::none, "none"});
KILN_ENUM_NAMES(Activation, {Activation::swiglu, "swiglu"}, {Activation::gelu, "gelu"});
KILN_ENUM_NAMES(InitMethod, {InitMethod::normal, "normal"},
                {InitMethod::truncated_normal, "truncated_normal"});
KILN_ENUM_NAMES(ScheduleStyle, {ScheduleStyle::constant, "constant"}, {ScheduleStyle::linear, "linear"},
                {ScheduleStyle::cosine, "cosine"}, {ScheduleStyle::rsqrt, "rsqrt"}, {ScheduleStyle::wsd, "wsd"},
                {ScheduleStyle::hyb, "hyb"}, {ScheduleStyle::hyb2, "hyb2"});
KILN_ENUM_NAMES(WsdShape, {WsdShape::linear, "linear"}, {WsdShape::cosine, "cosine"},
                {WsdShape::exponential, "exponential"}, {WsdShape::sqrt, "sqrt"});
KILN_ENUM_NAMES(DataFormat, {DataFormat::mmap, "mmap"}, {DataFormat::hdf5, "hdf5"},
                {DataFormat::synthetic, "synthetic"});
KILN_ENUM_NAMES(Device, {Device::cpu, "cpu"}, {Device::cuda, "cuda"});
KILN_ENUM_NAMES(Precision, {Precision::bf16, "bf16"}, {Precision::fp32, "fp32"});
KILN_ENUM_NAMES(Recompute, {Recompute::none, "none"}, {Recompute::selective, "selective"},
                {Recompute::full, "full"});
KILN_ENUM_NAMES(LogLevel, {LogLevel::trace, "trace"}, {LogLevel::debug, "debug"},
                {LogLevel::info, "info"}, {LogLevel::warn, "warn"}, {LogLevel::error, "error"});

#undef KILN_ENUM_NAMES

template <class E>
std::string_view enum_name(E value) {
  for (const auto& [v, name] : EnumNames<E>::table)
    if (v == value) return name;
  return "?";
}

template <class E>
std::optional<E> enum_from_name(std::string_view name) {
  for (const auto& [v, n] : EnumNames<E>::table)
    if (n == name) return v;
  return std::nullopt;
}

// "a | b | c", for messages and docs.
template <class E>
std::string enum_choices() {
  std::string out;
  for (const auto& [v, name] : EnumNames<E>::table) {
    if (!out.empty()) out += " | ";
    out += name;
  }
  return out;
}

}  // namespace kiln
