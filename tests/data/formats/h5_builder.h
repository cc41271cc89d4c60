// Builds small HDF5 files object by object, for tests that need files kiln's writers would never
// produce (wrong rank, wrong type, chunked tokens, missing objects). Plain HDF5 C API.
#pragma once

#include <hdf5.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::testing {

class H5Builder {
 public:
  explicit H5Builder(const std::filesystem::path& path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("H5Builder: cannot create " + path.string());
  }
  ~H5Builder() { H5Fclose(file_); }
  H5Builder(const H5Builder&) = delete;
  H5Builder& operator=(const H5Builder&) = delete;

  H5Builder& attr(const char* name, int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file_, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &value);
    H5Aclose(a);
    H5Sclose(space);
    return *this;
  }
  // A fixed-length string (kiln writes variable-length ones; the reader takes both).
  H5Builder& attr(const char* name, const std::string& value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size() + 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file_, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, value.c_str());
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return *this;
  }
  // `values` in memory type `mem`, stored as `file_type` with shape `dims`; chunked (with gzip)
  // when `chunk` is non-empty.
  template <class T>
  H5Builder& dataset(const char* name, hid_t file_type, hid_t mem, const std::vector<hsize_t>& dims,
                     const std::vector<T>& values, const std::vector<hsize_t>& chunk = {}) {
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!chunk.empty()) {
      H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
      H5Pset_deflate(dcpl, 4);
    }
    hid_t ds = H5Dcreate2(file_, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0) throw std::runtime_error(std::string("H5Builder: cannot create dataset ") + name);
    if (!values.empty()) H5Dwrite(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    return *this;
  }

 private:
  hid_t file_ = -1;
};

}  // namespace kiln::testing
