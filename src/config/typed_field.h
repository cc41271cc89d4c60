// TypedField<T>: a schema Field bound to one member of Config, with its parsing, range check and
// YAML form chosen by ValueTraits<T>. Internal to the config module (schema.cpp builds them).
#pragma once

#include <functional>
#include <type_traits>

#include "config/enum_names.h"
#include "config/scalar.h"
#include "config/schema.h"

namespace kiln {

// Numeric bounds; inclusive unless marked open.
struct Bounds {
  std::optional<double> lo, hi;
  bool lo_open = false, hi_open = false;

  bool contains(double v) const {
    if (lo && (lo_open ? !(v > *lo) : !(v >= *lo))) return false;
    if (hi && (hi_open ? !(v < *hi) : !(v <= *hi))) return false;
    return true;
  }
  std::string text() const;
};

template <class T, class = void>
struct ValueTraits;

template <class T>
using Parsed = std::pair<std::optional<T>, std::string>;  // value, or error text

template <>
struct ValueTraits<int64_t> {
  static std::string name() { return "integer"; }
  static Parsed<int64_t> parse(const YAML::Node& n) {
    if (n.IsScalar())
      if (auto v = parse_int(n.Scalar())) return {*v, ""};
    return {std::nullopt, "expected an integer"};
  }
  static YAML::Node emit(int64_t v) { return YAML::Node(v); }
  static std::string text(int64_t v) { return std::to_string(v); }
  static bool in(const Bounds& b, int64_t v) { return b.contains(static_cast<double>(v)); }
};

template <>
struct ValueTraits<double> {
  static std::string name() { return "number"; }
  static Parsed<double> parse(const YAML::Node& n) {
    if (n.IsScalar())
      if (auto v = parse_float(n.Scalar())) return {*v, ""};
    return {std::nullopt, "expected a number"};
  }
  static YAML::Node emit(double v) { return YAML::Node(format_double(v)); }
  static std::string text(double v) { return format_double(v); }
  static bool in(const Bounds& b, double v) { return b.contains(v); }
};

template <>
struct ValueTraits<bool> {
  static std::string name() { return "boolean"; }
  static Parsed<bool> parse(const YAML::Node& n) {
    if (n.IsScalar())
      if (auto v = parse_bool(n.Scalar())) return {*v, ""};
    return {std::nullopt, "expected true or false"};
  }
  static YAML::Node emit(bool v) { return YAML::Node(v); }
  static std::string text(bool v) { return v ? "true" : "false"; }
  static bool in(const Bounds&, bool) { return true; }
};

template <>
struct ValueTraits<std::string> {
  static std::string name() { return "string"; }
  static Parsed<std::string> parse(const YAML::Node& n) {
    if (n.IsNull()) return {std::string(), ""};
    if (n.IsScalar()) return {n.Scalar(), ""};
    return {std::nullopt, "expected a string"};
  }
  // A string that a YAML 1.1 reader (PyYAML) would take for a number, boolean or null is tagged
  // so that the emitter quotes it: `name: "001"`, not `name: 001`.
  static YAML::Node emit(const std::string& v) {
    YAML::Node n(v);
    if (parse_int(v) || parse_float(v) || parse_bool(v) || v == "null" || v == "Null" || v == "NULL" || v == "~")
      n.SetTag(kQuotedTag);
    return n;
  }
  static constexpr const char* kQuotedTag = "!";
  static std::string text(const std::string& v) { return v.empty() ? "\"\"" : v; }
  static bool in(const Bounds&, const std::string&) { return true; }
};

template <class E>
struct ValueTraits<E, std::enable_if_t<std::is_enum_v<E>>> {
  static std::string name() { return "one of"; }
  static Parsed<E> parse(const YAML::Node& n) {
    if (n.IsScalar())
      if (auto v = enum_from_name<E>(n.Scalar())) return {*v, ""};
    return {std::nullopt, "expected one of " + enum_choices<E>()};
  }
  static YAML::Node emit(E v) { return YAML::Node(std::string(enum_name(v))); }
  static std::string text(E v) { return std::string(enum_name(v)); }
  static bool in(const Bounds&, E) { return true; }
};

template <class X>
struct ValueTraits<std::vector<X>> {
  static std::string name() { return "list of " + ValueTraits<X>::name() + "s"; }
  static Parsed<std::vector<X>> parse(const YAML::Node& n) {
    std::vector<X> out;
    if (n.IsNull()) return {out, ""};
    if (!n.IsSequence()) return {std::nullopt, "expected a list ([a, b, …])"};
    for (size_t i = 0; i < n.size(); ++i) {
      auto [v, err] = ValueTraits<X>::parse(n[i]);
      if (!v) return {std::nullopt, "item " + std::to_string(i) + ": " + err};
      out.push_back(*v);
    }
    return {out, ""};
  }
  static YAML::Node emit(const std::vector<X>& v) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& x : v) n.push_back(ValueTraits<X>::emit(x));
    n.SetStyle(YAML::EmitterStyle::Flow);
    return n;
  }
  static std::string text(const std::vector<X>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + ValueTraits<X>::text(v[i]);
    return s + "]";
  }
  static bool in(const Bounds& b, const std::vector<X>& v) {
    for (const auto& x : v)
      if (!ValueTraits<X>::in(b, x)) return false;
    return true;
  }
};

template <class T>
class TypedField final : public Field {
 public:
  using Ref = std::function<T&(Config&)>;
  TypedField(std::string key, Ref ref) : Field(std::move(key)), ref_(std::move(ref)) {}

  TypedField& def(T v) { default_ = std::move(v); return *this; }
  TypedField& required() { required_ = true; return *this; }
  TypedField& doc(std::string d) { doc_ = std::move(d); return *this; }
  TypedField& min(double v) { bounds_.lo = v; return *this; }
  TypedField& gt(double v) { bounds_.lo = v; bounds_.lo_open = true; return *this; }
  TypedField& max(double v) { bounds_.hi = v; return *this; }
  TypedField& lt(double v) { bounds_.hi = v; bounds_.hi_open = true; return *this; }

  std::string type_name() const override {
    if constexpr (std::is_enum_v<T>) return "enum";
    return ValueTraits<T>::name();
  }
  std::string allowed() const override {
    if constexpr (std::is_enum_v<T>) return enum_choices<T>();
    return bounds_.text();
  }
  std::string default_text() const override {
    if (required_) return "required";
    return ValueTraits<T>::text(default_);
  }
  bool required() const override { return required_; }
  void set_default(Config& c) const override { ref_(c) = default_; }
  std::optional<std::string> parse(Config& c, const YAML::Node& n) const override {
    auto [v, err] = ValueTraits<T>::parse(n);
    if (!v) return err + got(n);
    if (!ValueTraits<T>::in(bounds_, *v)) return "must be " + bounds_.text() + got(n);
    ref_(c) = std::move(*v);
    return std::nullopt;
  }
  YAML::Node emit(const Config& c) const override {
    return ValueTraits<T>::emit(ref_(const_cast<Config&>(c)));
  }

 private:
  static std::string got(const YAML::Node& n) {
    if (n.IsScalar()) return ", got '" + n.Scalar() + "'";
    if (n.IsMap()) return ", got a mapping";
    if (n.IsSequence()) return ", got a list";
    return ", got nothing";
  }
  Ref ref_;
  T default_{};
  bool required_ = false;
  Bounds bounds_;
};

// An optional field: absent or null means "derive it" (the derivation is described in `derived`).
template <class X>
class OptionalField final : public Field {
 public:
  using Ref = std::function<std::optional<X>&(Config&)>;
  OptionalField(std::string key, Ref ref) : Field(std::move(key)), ref_(std::move(ref)) {}

  OptionalField& derived(std::string how) { derived_ = std::move(how); return *this; }
  OptionalField& doc(std::string d) { doc_ = std::move(d); return *this; }
  OptionalField& min(double v) { bounds_.lo = v; return *this; }
  OptionalField& gt(double v) { bounds_.lo = v; bounds_.lo_open = true; return *this; }
  OptionalField& max(double v) { bounds_.hi = v; return *this; }
  OptionalField& lt(double v) { bounds_.hi = v; bounds_.hi_open = true; return *this; }

  std::string type_name() const override { return ValueTraits<X>::name(); }
  std::string allowed() const override { return bounds_.text(); }
  std::string default_text() const override { return "derived: " + derived_; }
  bool required() const override { return false; }
  void set_default(Config& c) const override { ref_(c).reset(); }
  std::optional<std::string> parse(Config& c, const YAML::Node& n) const override {
    if (n.IsNull()) {
      ref_(c).reset();
      return std::nullopt;
    }
    auto [v, err] = ValueTraits<X>::parse(n);
    if (!v) return err + (n.IsScalar() ? ", got '" + n.Scalar() + "'" : "");
    if (!ValueTraits<X>::in(bounds_, *v)) return "must be " + bounds_.text() + ", got '" + n.Scalar() + "'";
    ref_(c) = std::move(*v);
    return std::nullopt;
  }
  YAML::Node emit(const Config& c) const override {
    const auto& v = ref_(const_cast<Config&>(c));
    return v ? ValueTraits<X>::emit(*v) : YAML::Node(YAML::NodeType::Null);
  }

 private:
  Ref ref_;
  std::string derived_;
  Bounds bounds_;
};

}  // namespace kiln
