// Internal helpers for the HDF5 formats: one lock for the library, owned handles, and HDF5
// failures turned into DataFormatError messages that name the file and the object.
//
// Debian's libhdf5 is the serial build, which is not thread-safe: two threads inside the library
// at once can corrupt its global state. Every kiln call into HDF5 therefore holds Session (a
// process-wide recursive lock), which also switches off HDF5's automatic printing of its error
// stack to stderr: kiln reports the failure itself, once, with the file's name.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kiln::h5 {

class Session {
 public:
  Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

// The current HDF5 error stack in one line (outermost message, then the innermost cause), and
// clears it. Empty when the stack is empty.
std::string error_detail();

// Throws DataFormatError("<file>: <what>[: <HDF5's reason>]").
[[noreturn]] void fail(const std::string& file, const std::string& what);

// An hid_t closed by its H5?close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset();
  // Closes now and reports a failure (closing a file flushes it: a full disk shows up here).
  void close_checked(const std::string& file, const std::string& what);

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// `id` as an owned handle, or fail(file, what) when it is negative.
Handle check(hid_t id, Handle::Closer close, const std::string& file, const std::string& what);
void check(herr_t rc, const std::string& file, const std::string& what);

bool has_attribute(hid_t obj, const char* name);
// A dataset (or any link) directly under `loc`.
bool has_link(hid_t loc, const char* name);

// Attribute readers; nullopt when the attribute is absent, fail() when it has the wrong kind.
std::optional<std::string> read_string_attribute(hid_t obj, const char* name, const std::string& file);
std::optional<int64_t> read_int_attribute(hid_t obj, const char* name, const std::string& file);
void write_string_attribute(hid_t obj, const char* name, const std::string& value, const std::string& file);
void write_int_attribute(hid_t obj, const char* name, int64_t value, const std::string& file);

// "int32", "uint16", "float32", "string", … for messages about a dataset's type.
std::string describe_type(hid_t type);

// Dataset shape.
std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& file, const std::string& name);

}  // namespace kiln::h5
