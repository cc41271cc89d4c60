// Small shared pieces of the readers and writers: token widths, little-endian loads from mapped
// bytes, the widening copy behind every read_tokens, and the writers' vocabulary check.
//
// Internal to kiln_data_formats (the public interface is document_store.h and the format headers).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

#include "data/formats/document_store.h"

namespace kiln {

// Both file formats are little-endian and are read by mapping them, not by decoding them.
static_assert(std::endian::native == std::endian::little, "kiln's shard readers assume a little-endian host");

inline size_t token_itemsize(TokenDType t) { return t == TokenDType::uint16 ? 2 : 4; }

// Index arrays inside a file need not be aligned (an MMIDIDX index puts its int32 sizes at byte
// 34), so they are read through memcpy, which compiles to a plain unaligned load.
template <class T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void check_token_range(const std::string& path, uint64_t begin, size_t count, uint64_t num_tokens) {
  if (begin > num_tokens || count > num_tokens - begin) {
    throw std::out_of_range(path + ": tokens [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                            ") requested, the store holds " + std::to_string(num_tokens));
  }
}

// Tokens [begin, begin + out.size()) of a token array at `base`, widened to int32. No allocation
// and no branch per token: this is the loader's hot path.
inline void copy_widened(TokenDType dtype, const std::byte* base, uint64_t begin, std::span<int32_t> out) {
  if (out.empty()) return;
  if (dtype == TokenDType::int32) {
    std::memcpy(out.data(), base + begin * 4, out.size() * 4);
    return;
  }
  // memcpy per element: an HDF5 writer may place the array at an odd address, and the compiler
  // turns this into the same vector loads as a plain pointer loop would.
  const std::byte* src = base + begin * 2;
  int32_t* dst = out.data();
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) dst[i] = load_le<uint16_t>(src + 2 * i);
}

// The writers' check: every id in [0, vocab_size). Names the file, the document and the position.
inline void check_document_tokens(const std::string& path, uint64_t document, std::span<const int32_t> tokens,
                                  int64_t vocab_size) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab_size) {
      throw DataFormatError(path + ": document " + std::to_string(document) + ", token " + std::to_string(i) + ": id " +
                            std::to_string(tokens[i]) + " is outside the vocabulary [0, " + std::to_string(vocab_size) +
                            ")");
    }
  }
}

}  // namespace kiln
