#include "data/formats/hdf5_tokens.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "data/formats/hdf5_util.h"
#include "data/formats/token_bytes.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using h5::Handle;
using std::to_string;

constexpr hsize_t kCopyBlockTokens = hsize_t{1} << 20;

std::string dataset_name(const char* name) { return std::string("dataset /") + name; }

}  // namespace

// ---- reader -------------------------------------------------------------------------------------

Hdf5TokenStore::Hdf5TokenStore(const fs::path& path) : path_(path.string()) {
  const std::string tokens_name = dataset_name(kiln_h5::kTokens);
  const std::string offsets_name = dataset_name(kiln_h5::kDocumentOffsets);
  uint64_t tokens_bytes = 0;
  {
    h5::Session session;
    if (!fs::exists(path)) throw DataFormatError(path_ + ": no such file");
    Handle file =
        h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path_, "cannot open as an HDF5 file");
    const hid_t root = file.get();

    auto format = h5::read_string_attribute(root, "format", path_);
    if (!format) {
      const bool cerebras = h5::has_link(root, "data") && h5::has_attribute(root, "n_examples");
      throw DataFormatError(path_ + ": root attribute 'format' is missing: not a kiln token shard" +
                            std::string(cerebras ? " (it looks like a Cerebras GptHDF5MapDataProcessor file: "
                                                   "read it with CerebrasSamples or convert it)"
                                                 : ""));
    }
    if (*format != kiln_h5::kFormatName) {
      throw DataFormatError(path_ + ": root attribute 'format' is '" + *format + "', expected '" +
                            kiln_h5::kFormatName + "'");
    }
    auto version = h5::read_int_attribute(root, "version", path_);
    if (!version) throw DataFormatError(path_ + ": root attribute 'version' is missing, expected 1");
    if (*version != kiln_h5::kVersion) {
      throw DataFormatError(path_ + ": root attribute 'version' is " + to_string(*version) + ", expected 1");
    }
    auto vocab = h5::read_int_attribute(root, "vocab_size", path_);
    if (!vocab) throw DataFormatError(path_ + ": root attribute 'vocab_size' is missing");
    vocab_size_ = *vocab;
    eod_token_id_ = h5::read_int_attribute(root, "eod_token_id", path_).value_or(-1);
    tokenizer_ = h5::read_string_attribute(root, "tokenizer", path_).value_or("");

    // /tokens: 1-D uint16 or int32 little-endian, contiguous, allocated.
    if (!h5::has_link(root, kiln_h5::kTokens)) throw DataFormatError(path_ + ": " + tokens_name + " is missing");
    Handle tokens =
        h5::check(H5Dopen2(root, kiln_h5::kTokens, H5P_DEFAULT), H5Dclose, path_, "cannot open " + tokens_name);
    const auto dims = h5::dataset_dims(tokens.get(), path_, tokens_name);
    if (dims.size() != 1) {
      throw DataFormatError(path_ + ": " + tokens_name + " has rank " + to_string(dims.size()) + ", expected 1");
    }
    num_tokens_ = dims[0];
    Handle type = h5::check(H5Dget_type(tokens.get()), H5Tclose, path_, "cannot read the type of " + tokens_name);
    if (H5Tequal(type.get(), H5T_STD_U16LE) > 0) {
      dtype_ = TokenDType::uint16;
    } else if (H5Tequal(type.get(), H5T_STD_I32LE) > 0) {
      dtype_ = TokenDType::int32;
    } else {
      throw DataFormatError(path_ + ": " + tokens_name + " has type " + h5::describe_type(type.get()) +
                            ", expected uint16 or int32 (little-endian)");
    }
    Handle dcpl =
        h5::check(H5Dget_create_plist(tokens.get()), H5Pclose, path_, "cannot read the layout of " + tokens_name);
    const H5D_layout_t layout = H5Pget_layout(dcpl.get());
    if (layout != H5D_CONTIGUOUS) {
      throw DataFormatError(path_ + ": " + tokens_name + " has " +
                            (layout == H5D_CHUNKED ? std::string("chunked") : std::string("compact or virtual")) +
                            " layout, expected contiguous (kiln maps the tokens from the file; `h5repack -l "
                            "tokens:CONTI` rewrites it)");
    }
    if (H5Pget_external_count(dcpl.get()) > 0) {
      throw DataFormatError(path_ + ": " + tokens_name + " is stored in external files, expected inside the file");
    }
    tokens_bytes = num_tokens_ * token_itemsize(dtype_);
    if (num_tokens_ > 0) {
      const haddr_t offset = H5Dget_offset(tokens.get());
      if (offset == HADDR_UNDEF) {
        throw DataFormatError(path_ + ": " + tokens_name + " has " + to_string(num_tokens_) +
                              " tokens but no storage allocated in the file (it was never written)");
      }
      tokens_offset_ = offset;
    }

    // /document_offsets: int64[D + 1], 0 … num_tokens, non-decreasing.
    if (!h5::has_link(root, kiln_h5::kDocumentOffsets)) {
      throw DataFormatError(path_ + ": " + offsets_name + " is missing");
    }
    Handle offsets = h5::check(H5Dopen2(root, kiln_h5::kDocumentOffsets, H5P_DEFAULT), H5Dclose, path_,
                               "cannot open " + offsets_name);
    const auto odims = h5::dataset_dims(offsets.get(), path_, offsets_name);
    if (odims.size() != 1) {
      throw DataFormatError(path_ + ": " + offsets_name + " has rank " + to_string(odims.size()) + ", expected 1");
    }
    Handle otype = h5::check(H5Dget_type(offsets.get()), H5Tclose, path_, "cannot read the type of " + offsets_name);
    if (H5Tget_class(otype.get()) != H5T_INTEGER) {
      throw DataFormatError(path_ + ": " + offsets_name + " has type " + h5::describe_type(otype.get()) +
                            ", expected int64");
    }
    if (odims[0] == 0) {
      throw DataFormatError(path_ + ": " + offsets_name + " is empty, expected D + 1 entries starting with 0");
    }
    std::vector<int64_t> raw(odims[0]);
    h5::check(H5Dread(offsets.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), path_,
              "cannot read " + offsets_name);
    offsets_.resize(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      const std::string at = offsets_name + "[" + to_string(i) + "] is " + to_string(raw[i]);
      if (i == 0 && raw[i] != 0) throw DataFormatError(path_ + ": " + at + ", expected 0");
      if (i > 0 && raw[i] < raw[i - 1]) {
        throw DataFormatError(path_ + ": " + at + ", less than entry " + to_string(i - 1) + " = " +
                              to_string(raw[i - 1]) + ": expected non-decreasing");
      }
      offsets_[i] = static_cast<uint64_t>(raw[i]);
    }
    if (offsets_.back() != num_tokens_) {
      throw DataFormatError(path_ + ": " + offsets_name + "[" + to_string(offsets_.size() - 1) + "] is " +
                            to_string(offsets_.back()) + ", expected " + to_string(num_tokens_) + " (the length of " +
                            tokens_name + ")");
    }
    file.close_checked(path_, "cannot close");
  }

  file_ = MappedFile(path);
  if (tokens_offset_ > file_.size() || tokens_bytes > file_.size() - tokens_offset_) {
    throw DataFormatError(path_ + ": " + tokens_name + " occupies bytes [" + to_string(tokens_offset_) + ", " +
                          to_string(tokens_offset_ + tokens_bytes) + ") but the file is " + to_string(file_.size()) +
                          " bytes: truncated");
  }
  tokens_ = file_.data() + tokens_offset_;
}

uint64_t Hdf5TokenStore::doc_offset(uint64_t d) const {
  if (d >= offsets_.size()) {
    throw std::out_of_range(path_ + ": document " + to_string(d) + " requested, the store holds " +
                            to_string(offsets_.size() - 1));
  }
  return offsets_[d];
}

void Hdf5TokenStore::read_tokens(uint64_t begin, std::span<int32_t> out) const {
  check_token_range(path_, begin, out.size(), num_tokens_);
  copy_widened(dtype_, tokens_, begin, out);
}

// ---- writer -------------------------------------------------------------------------------------

Hdf5TokenWriter::Hdf5TokenWriter(const fs::path& path, int64_t vocab_size, std::string tokenizer, int64_t eod_token_id)
    : path_(path),
      vocab_size_(vocab_size),
      tokenizer_(std::move(tokenizer)),
      eod_token_id_(eod_token_id),
      dtype_(token_dtype_for_vocab(vocab_size)),
      raw_(path) {}

void Hdf5TokenWriter::add(std::span<const int32_t> tokens) {
  if (finished_) throw DataFormatError(path_.string() + ": add() after finish()");
  check_document_tokens(path_.string(), offsets_.size() - 1, tokens, vocab_size_);
  if (dtype_ == TokenDType::int32) {
    raw_.write(tokens.data(), tokens.size_bytes());
  } else {
    narrow_.resize(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) narrow_[i] = static_cast<uint16_t>(tokens[i]);
    raw_.write(narrow_.data(), narrow_.size() * 2);
  }
  offsets_.push_back(offsets_.back() + static_cast<int64_t>(tokens.size()));
}

void Hdf5TokenWriter::finish() {
  if (finished_) throw DataFormatError(path_.string() + ": finish() called twice");
  const std::string name = path_.string();
  const hsize_t n = static_cast<hsize_t>(offsets_.back());
  const size_t itemsize = token_itemsize(dtype_);
  raw_.flush();
  MappedFile raw(raw_.temporary());
  if (raw.size() != n * itemsize) {
    throw DataFormatError(name + ": the token temporary " + raw_.temporary().string() + " holds " +
                          to_string(raw.size()) + " bytes, expected " + to_string(n * itemsize));
  }

  TempPath tmp(path_);
  {
    h5::Session session;
    // Large objects (the token array) start on a 4 KiB boundary: page-aligned for the reader's map.
    Handle fapl = h5::check(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, name, "cannot create file access properties");
    h5::check(H5Pset_alignment(fapl.get(), 4096, 4096), name, "cannot set the file alignment");
    Handle file = h5::check(H5Fcreate(tmp.path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, name,
                            "cannot create temporary " + tmp.path().string());
    const hid_t root = file.get();
    h5::write_string_attribute(root, "format", kiln_h5::kFormatName, name);
    h5::write_int_attribute(root, "version", kiln_h5::kVersion, name);
    h5::write_int_attribute(root, "vocab_size", vocab_size_, name);
    h5::write_int_attribute(root, "eod_token_id", eod_token_id_, name);
    h5::write_string_attribute(root, "tokenizer", tokenizer_, name);

    {
      const std::string what = "cannot write " + dataset_name(kiln_h5::kTokens);
      const hid_t type = dtype_ == TokenDType::uint16 ? H5T_STD_U16LE : H5T_STD_I32LE;
      Handle space = h5::check(H5Screate_simple(1, &n, nullptr), H5Sclose, name, what);
      Handle dcpl = h5::check(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, name, what);
      h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), name, what);
      // Every byte is about to be written; filling the space first would write the tokens twice.
      h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), name, what);
      h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), name, what);
      Handle ds = h5::check(H5Dcreate2(root, kiln_h5::kTokens, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                            H5Dclose, name, what);
      for (hsize_t start = 0; start < n; start += kCopyBlockTokens) {
        const hsize_t count = std::min(kCopyBlockTokens, n - start);
        Handle mem = h5::check(H5Screate_simple(1, &count, nullptr), H5Sclose, name, what);
        h5::check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), name, what);
        h5::check(H5Dwrite(ds.get(), type, mem.get(), space.get(), H5P_DEFAULT, raw.data() + start * itemsize), name,
                  what + " (tokens " + to_string(start) + "…" + to_string(start + count) + ")");
      }
      ds.close_checked(name, what);
    }
    {
      const std::string what = "cannot write " + dataset_name(kiln_h5::kDocumentOffsets);
      const hsize_t d1 = offsets_.size();
      Handle space = h5::check(H5Screate_simple(1, &d1, nullptr), H5Sclose, name, what);
      Handle ds = h5::check(H5Dcreate2(root, kiln_h5::kDocumentOffsets, H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                       H5P_DEFAULT, H5P_DEFAULT),
                            H5Dclose, name, what);
      h5::check(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, offsets_.data()), name, what);
      ds.close_checked(name, what);
    }
    // Closing flushes the metadata; a full disk can surface here.
    file.close_checked(name, "cannot finish writing temporary " + tmp.path().string());
  }
  sync_file(tmp.path(), path_);
  if (std::rename(tmp.path().c_str(), path_.c_str()) != 0) {
    throw DataFormatError(name + ": cannot rename " + tmp.path().string() + " over it: " + std::strerror(errno));
  }
  tmp.release();
  finished_ = true;
  sync_parent_directory(path_);
}

}  // namespace kiln
