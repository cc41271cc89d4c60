#include "data/formats/cerebras_hdf5.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace kiln {
namespace {

namespace fs = std::filesystem;
using h5::Handle;
using std::to_string;

constexpr const char* kData = "data";
constexpr const char* kDataName = "dataset /data";
constexpr uint64_t kTargetChunkBytes = 256 * 1024;

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + to_string(dims[i]);
  return s + "]";
}

}  // namespace

// ---- reader -------------------------------------------------------------------------------------

CerebrasSamples::CerebrasSamples(const fs::path& path, Options options) : path_(path.string()) {
  h5::Session session;
  // A constructor that throws skips the destructor: close the handles here, under the lock.
  try {
    open(path, options);
  } catch (...) {
    data_.reset();
    file_.reset();
    throw;
  }
}

void CerebrasSamples::open(const fs::path& path, Options options) {
  if (!fs::exists(path)) throw DataFormatError(path_ + ": no such file");
  file_ = h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path_, "cannot open as an HDF5 file");
  const hid_t root = file_.get();
  if (!h5::has_link(root, kData)) {
    throw DataFormatError(path_ + ": " + kDataName +
                          " is missing (expected a Cerebras GptHDF5MapDataProcessor file with data [N, 3, MSL])");
  }
  // kiln caches whole blocks itself; HDF5's chunk cache would hold the same data a second time.
  Handle dapl = h5::check(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose, path_, "cannot create dataset access properties");
  h5::check(H5Pset_chunk_cache(dapl.get(), H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0, H5D_CHUNK_CACHE_W0_DEFAULT), path_,
            "cannot configure the chunk cache");
  data_ = h5::check(H5Dopen2(root, kData, dapl.get()), H5Dclose, path_, std::string("cannot open ") + kDataName);

  const auto dims = h5::dataset_dims(data_.get(), path_, kDataName);
  if (dims.size() != 3) {
    throw DataFormatError(path_ + ": " + kDataName + " has rank " + to_string(dims.size()) + " (shape " +
                          shape_text(dims) + "), expected 3: [N, 3, MSL]");
  }
  if (dims[1] != 3 || dims[2] == 0) {
    throw DataFormatError(path_ + ": " + kDataName + " has shape " + shape_text(dims) +
                          ", expected [N, 3, MSL] with MSL > 0 (input_ids, loss mask, labels)");
  }
  Handle type =
      h5::check(H5Dget_type(data_.get()), H5Tclose, path_, std::string("cannot read the type of ") + kDataName);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 4 || H5Tget_sign(type.get()) != H5T_SGN_2) {
    throw DataFormatError(path_ + ": " + kDataName + " has type " + h5::describe_type(type.get()) + ", expected int32");
  }
  n_ = dims[0];
  msl_ = dims[2];

  const auto n_examples = h5::read_int_attribute(root, "n_examples", path_);
  if (!n_examples) throw DataFormatError(path_ + ": root attribute 'n_examples' is missing");
  if (*n_examples != static_cast<int64_t>(n_)) {
    throw DataFormatError(path_ + ": root attribute 'n_examples' is " + to_string(*n_examples) + " but " + kDataName +
                          " has " + to_string(n_) + " rows");
  }

  uint64_t chunk_rows = 1;
  Handle dcpl = h5::check(H5Dget_create_plist(data_.get()), H5Pclose, path_,
                          std::string("cannot read the layout of ") + kDataName);
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    hsize_t cdims[3] = {1, 3, msl_};
    if (H5Pget_chunk(dcpl.get(), 3, cdims) != 3)
      h5::fail(path_, std::string("cannot read the chunk shape of ") + kDataName);
    chunk_rows = std::max<uint64_t>(1, cdims[0]);
  }
  const uint64_t want = std::max<uint64_t>(1, options.min_rows_per_read);
  rows_per_read_ = (want + chunk_rows - 1) / chunk_rows * chunk_rows;
  if (n_ > 0) rows_per_read_ = std::min(rows_per_read_, n_);
}

CerebrasSamples::~CerebrasSamples() {
  h5::Session session;
  data_.reset();
  file_.reset();
}

void CerebrasSamples::load_block(uint64_t block) {
  const hsize_t first = block * rows_per_read_;
  const hsize_t count = std::min<hsize_t>(rows_per_read_, n_ - first);
  cache_.resize(rows_per_read_ * 3 * msl_);
  cached_block_ = UINT64_MAX;  // stays invalid if the read fails half-way
  h5::Session session;
  const std::string what =
      std::string("cannot read rows ") + to_string(first) + "…" + to_string(first + count - 1) + " of " + kDataName;
  Handle fspace = h5::check(H5Dget_space(data_.get()), H5Sclose, path_, what);
  const hsize_t start[3] = {first, 0, 0};
  const hsize_t counts[3] = {count, 3, msl_};
  h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, counts, nullptr), path_, what);
  Handle mspace = h5::check(H5Screate_simple(3, counts, nullptr), H5Sclose, path_, what);
  h5::check(H5Dread(data_.get(), H5T_NATIVE_INT32, mspace.get(), fspace.get(), H5P_DEFAULT, cache_.data()), path_,
            what);
  cached_block_ = block;
}

void CerebrasSamples::read_sample(uint64_t k, std::span<int32_t> input_ids, std::span<int32_t> labels,
                                  std::span<int32_t> loss_mask) {
  if (k >= n_) {
    throw std::out_of_range(path_ + ": sample " + to_string(k) + " requested, the file holds " + to_string(n_));
  }
  if (input_ids.size() != msl_ || labels.size() != msl_ || loss_mask.size() != msl_) {
    throw std::invalid_argument(path_ + ": read_sample needs spans of max_seq_length = " + to_string(msl_) +
                                " values, got " + to_string(input_ids.size()) + ", " + to_string(labels.size()) + ", " +
                                to_string(loss_mask.size()));
  }
  const uint64_t block = k / rows_per_read_;
  if (block != cached_block_) load_block(block);
  const int32_t* row = cache_.data() + (k - block * rows_per_read_) * 3 * msl_;
  std::copy_n(row, msl_, input_ids.begin());
  std::copy_n(row + msl_, msl_, loss_mask.begin());
  std::copy_n(row + 2 * msl_, msl_, labels.begin());
}

// ---- writer -------------------------------------------------------------------------------------

CerebrasWriter::CerebrasWriter(const fs::path& path, uint64_t max_seq_length, uint64_t rows_per_chunk, int gzip_level)
    : path_(path),
      name_(path.string()),
      msl_(max_seq_length),
      rows_per_chunk_(rows_per_chunk != 0
                          ? rows_per_chunk
                          : std::max<uint64_t>(1, kTargetChunkBytes / (12 * std::max<uint64_t>(1, max_seq_length)))),
      tmp_(path) {
  if (msl_ == 0) throw DataFormatError(name_ + ": max_seq_length must be positive");
  if (gzip_level < 0 || gzip_level > 9) throw DataFormatError(name_ + ": gzip level must be 0…9");
  h5::Session session;
  // A constructor that throws skips the destructor: close the handles here, under the lock.
  try {
    create(gzip_level);
  } catch (...) {
    data_.reset();
    file_.reset();
    throw;
  }
}

void CerebrasWriter::create(int gzip_level) {
  const std::string what = std::string("cannot create ") + kDataName;
  file_ = h5::check(H5Fcreate(tmp_.path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, name_,
                    "cannot create temporary " + tmp_.path().string());
  const hsize_t dims[3] = {0, 3, msl_};
  const hsize_t maxdims[3] = {H5S_UNLIMITED, 3, msl_};
  const hsize_t chunk[3] = {rows_per_chunk_, 3, msl_};
  Handle space = h5::check(H5Screate_simple(3, dims, maxdims), H5Sclose, name_, what);
  Handle dcpl = h5::check(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, name_, what);
  h5::check(H5Pset_chunk(dcpl.get(), 3, chunk), name_, what);
  h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(gzip_level)), name_, what);
  data_ = h5::check(H5Dcreate2(file_.get(), kData, H5T_STD_I32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                    H5Dclose, name_, what);
  pending_.resize(rows_per_chunk_ * 3 * msl_);
}

CerebrasWriter::~CerebrasWriter() {
  h5::Session session;
  data_.reset();
  file_.reset();
}

void CerebrasWriter::add(std::span<const int32_t> input_ids, std::span<const int32_t> loss_mask,
                         std::span<const int32_t> labels) {
  if (finished_) throw DataFormatError(name_ + ": add() after finish()");
  if (input_ids.size() != msl_ || loss_mask.size() != msl_ || labels.size() != msl_) {
    throw DataFormatError(name_ + ": row " + to_string(num_samples()) + " needs " + to_string(msl_) +
                          " values per field, got " + to_string(input_ids.size()) + ", " + to_string(loss_mask.size()) +
                          ", " + to_string(labels.size()));
  }
  int32_t* row = pending_.data() + pending_rows_ * 3 * msl_;
  std::copy(input_ids.begin(), input_ids.end(), row);
  std::copy(loss_mask.begin(), loss_mask.end(), row + msl_);
  std::copy(labels.begin(), labels.end(), row + 2 * msl_);
  if (++pending_rows_ == rows_per_chunk_) flush_rows();
}

void CerebrasWriter::add_piece(std::span<const int32_t> piece, int32_t pad_id) {
  if (piece.size() < 2 || piece.size() > msl_ + 1) {
    throw DataFormatError(name_ + ": row " + to_string(num_samples()) + ": a piece of " + to_string(piece.size()) +
                          " tokens, expected 2 … " + to_string(msl_ + 1));
  }
  const size_t len = piece.size() - 1;
  std::vector<int32_t> in(msl_, pad_id), mask(msl_, 0), lab(msl_, pad_id);
  std::copy_n(piece.begin(), len, in.begin());
  std::copy_n(piece.begin() + 1, len, lab.begin());
  std::fill_n(mask.begin(), len, 1);
  add(in, mask, lab);
}

void CerebrasWriter::flush_rows() {
  if (pending_rows_ == 0) return;
  h5::Session session;
  const std::string what = "cannot write rows " + to_string(rows_written_) + "…" +
                           to_string(rows_written_ + pending_rows_ - 1) + " of " + kDataName;
  const hsize_t new_dims[3] = {rows_written_ + pending_rows_, 3, msl_};
  h5::check(H5Dset_extent(data_.get(), new_dims), name_, what);
  Handle fspace = h5::check(H5Dget_space(data_.get()), H5Sclose, name_, what);
  const hsize_t start[3] = {rows_written_, 0, 0};
  const hsize_t count[3] = {pending_rows_, 3, msl_};
  h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), name_, what);
  Handle mspace = h5::check(H5Screate_simple(3, count, nullptr), H5Sclose, name_, what);
  h5::check(H5Dwrite(data_.get(), H5T_NATIVE_INT32, mspace.get(), fspace.get(), H5P_DEFAULT, pending_.data()), name_,
            what);
  rows_written_ += pending_rows_;
  pending_rows_ = 0;
}

void CerebrasWriter::finish() {
  if (finished_) throw DataFormatError(name_ + ": finish() called twice");
  flush_rows();
  {
    h5::Session session;
    h5::write_int_attribute(file_.get(), "n_examples", static_cast<int64_t>(rows_written_), name_);
    data_.close_checked(name_, std::string("cannot finish ") + kDataName);
    file_.close_checked(name_, "cannot finish writing temporary " + tmp_.path().string());
  }
  sync_file(tmp_.path(), path_);
  if (std::rename(tmp_.path().c_str(), path_.c_str()) != 0) {
    throw DataFormatError(name_ + ": cannot rename " + tmp_.path().string() + " over it: " + std::strerror(errno));
  }
  tmp_.release();
  finished_ = true;
  sync_parent_directory(path_);
}

// ---- conversion to documents ------------------------------------------------------------------------

uint64_t cerebras_documents(CerebrasSamples& samples, int64_t eod_token_id,
                            const std::function<void(std::span<const int32_t>)>& emit) {
  const size_t msl = samples.max_seq_length();
  std::vector<int32_t> in(msl), lab(msl), mask(msl), piece, doc;
  piece.reserve(msl + 1);
  uint64_t count = 0;
  for (uint64_t k = 0; k < samples.num_samples(); ++k) {
    samples.read_sample(k, in, lab, mask);
    size_t len = msl;
    while (len > 0 && mask[len - 1] != 1) --len;
    if (len == 0) continue;
    piece.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(len));
    piece.push_back(lab[len - 1]);
    if (eod_token_id < 0) {
      emit(piece);
      ++count;
      continue;
    }
    for (int32_t t : piece) {
      doc.push_back(t);
      if (t == eod_token_id) {
        emit(doc);
        ++count;
        doc.clear();
      }
    }
  }
  if (!doc.empty()) {
    emit(doc);
    ++count;
  }
  return count;
}

uint64_t cerebras_documents(CerebrasSamples& samples, int64_t eod_token_id, DocumentWriter& out) {
  return cerebras_documents(samples, eod_token_id, [&](std::span<const int32_t> doc) { out.add(doc); });
}

}  // namespace kiln
