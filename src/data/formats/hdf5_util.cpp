#include "data/formats/hdf5_util.h"

#include "data/formats/document_store.h"

namespace kiln::h5 {
namespace {

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex m;
  return m;
}

struct Messages {
  std::vector<std::string> descs;
};

herr_t collect(unsigned, const H5E_error2_t* err, void* data) {
  auto* m = static_cast<Messages*>(data);
  if (err->desc != nullptr && err->desc[0] != '\0') m->descs.emplace_back(err->desc);
  return 0;
}

}  // namespace

Session::Session() : lock_(library_mutex()) {
  // Per thread in thread-safe builds, global otherwise; cheap either way.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string error_detail() {
  Messages m;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &m);
  H5Eclear2(H5E_DEFAULT);
  if (m.descs.empty()) return "";
  if (m.descs.size() == 1 || m.descs.front() == m.descs.back()) return m.descs.front();
  return m.descs.front() + " (" + m.descs.back() + ")";
}

void fail(const std::string& file, const std::string& what) {
  const std::string detail = error_detail();
  throw DataFormatError(file + ": " + what + (detail.empty() ? "" : ": " + detail));
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_ != nullptr) close_(id_);
  id_ = H5I_INVALID_HID;
}

void Handle::close_checked(const std::string& file, const std::string& what) {
  if (id_ < 0) return;
  herr_t rc = close_(id_);
  id_ = H5I_INVALID_HID;
  if (rc < 0) fail(file, what);
}

Handle check(hid_t id, Handle::Closer close, const std::string& file, const std::string& what) {
  if (id < 0) fail(file, what);
  return Handle(id, close);
}

void check(herr_t rc, const std::string& file, const std::string& what) {
  if (rc < 0) fail(file, what);
}

bool has_attribute(hid_t obj, const char* name) {
  htri_t r = H5Aexists(obj, name);
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

bool has_link(hid_t loc, const char* name) {
  htri_t r = H5Lexists(loc, name, H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

std::optional<std::string> read_string_attribute(hid_t obj, const char* name, const std::string& file) {
  if (!has_attribute(obj, name)) return std::nullopt;
  const std::string what = std::string("root attribute '") + name + "'";
  Handle attr = check(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, file, "cannot open " + what);
  Handle type = check(H5Aget_type(attr.get()), H5Tclose, file, "cannot read the type of " + what);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw DataFormatError(file + ": " + what + " is " + describe_type(type.get()) + ", expected a string");
  }
  Handle space = check(H5Aget_space(attr.get()), H5Sclose, file, "cannot read the shape of " + what);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    throw DataFormatError(file + ": " + what + " holds several values, expected one string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem = check(H5Tcopy(H5T_C_S1), H5Tclose, file, "cannot make a string type");
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* value = nullptr;
    check(H5Aread(attr.get(), mem.get(), &value), file, "cannot read " + what);
    std::string s = value != nullptr ? value : "";
    H5free_memory(value);
    return s;
  }
  const size_t size = H5Tget_size(type.get());
  std::string s(size, '\0');
  check(H5Aread(attr.get(), type.get(), s.data()), file, "cannot read " + what);
  // Fixed-length strings are padded with NULs (or spaces, for H5T_STR_SPACEPAD).
  const auto end = s.find('\0');
  if (end != std::string::npos) s.resize(end);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::optional<int64_t> read_int_attribute(hid_t obj, const char* name, const std::string& file) {
  if (!has_attribute(obj, name)) return std::nullopt;
  const std::string what = std::string("root attribute '") + name + "'";
  Handle attr = check(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, file, "cannot open " + what);
  Handle type = check(H5Aget_type(attr.get()), H5Tclose, file, "cannot read the type of " + what);
  if (H5Tget_class(type.get()) != H5T_INTEGER) {
    throw DataFormatError(file + ": " + what + " is " + describe_type(type.get()) + ", expected an integer");
  }
  Handle space = check(H5Aget_space(attr.get()), H5Sclose, file, "cannot read the shape of " + what);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) {
    throw DataFormatError(file + ": " + what + " holds several values, expected one integer");
  }
  int64_t v = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), file, "cannot read " + what);
  return v;
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value, const std::string& file) {
  const std::string what = std::string("cannot write root attribute '") + name + "'";
  // Variable-length UTF-8: h5py reads it back as a Python str, not bytes.
  Handle type = check(H5Tcopy(H5T_C_S1), H5Tclose, file, what);
  check(H5Tset_size(type.get(), H5T_VARIABLE), file, what);
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), file, what);
  Handle space = check(H5Screate(H5S_SCALAR), H5Sclose, file, what);
  Handle attr = check(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file, what);
  const char* p = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &p), file, what);
}

void write_int_attribute(hid_t obj, const char* name, int64_t value, const std::string& file) {
  const std::string what = std::string("cannot write root attribute '") + name + "'";
  Handle space = check(H5Screate(H5S_SCALAR), H5Sclose, file, what);
  Handle attr =
      check(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose, file, what);
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), file, what);
}

std::string describe_type(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits) +
             (H5Tget_order(type) == H5T_ORDER_BE ? " (big-endian)" : "");
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_STRING:
      return "a string";
    case H5T_COMPOUND:
      return "a compound type";
    case H5T_ENUM:
      return "an enum";
    case H5T_ARRAY:
      return "an array type";
    case H5T_VLEN:
      return "a variable-length type";
    default:
      return "a non-numeric type";
  }
}

std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& file, const std::string& name) {
  Handle space = check(H5Dget_space(dataset), H5Sclose, file, "cannot read the shape of dataset " + name);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(file, "cannot read the shape of dataset " + name);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) {
    fail(file, "cannot read the shape of dataset " + name);
  }
  return dims;
}

}  // namespace kiln::h5
