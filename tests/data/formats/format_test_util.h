// Shared by the shard format tests: the committed fixtures, documents for round trips, and small
// helpers for writing and patching raw bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "data/formats/document_store.h"

namespace kiln::testing {

using Documents = std::vector<std::vector<int32_t>>;

// tests/fixtures/data, written by make_fixtures.py there (see its docstring for how).
inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(KILN_SOURCE_DIR) / "tests" / "fixtures" / "data" / name;
}

// The documents make_fixtures.py writes (UINT16_DOCS, INT32_DOCS, CEREBRAS_DOCS there).
inline const Documents kUint16Docs = {{1, 2, 3}, {}, {50256, 0, 17, 42}, {7}, {65, 66, 67, 68, 69, 70}};
inline constexpr int64_t kUint16Vocab = 50257;
inline const Documents kInt32Docs = {{100000, 5}, {65535, 65536, 99999}, {0}};
inline constexpr int64_t kInt32Vocab = 100352;
inline const Documents kCerebrasDocs = {
    {10, 11, 12, 13, 14}, {20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}, {40, 41}, {50, 51, 52, 53, 54, 55, 56}};
inline constexpr int32_t kCerebrasEod = 50256;
inline constexpr int64_t kCerebrasMsl = 8;

// `count` documents of random lengths in [0, max_len] (some empty) with ids in [0, vocab).
inline Documents random_documents(size_t count, size_t max_len, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab - 1));
  Documents docs(count);
  for (auto& d : docs) {
    d.resize(len(rng));
    for (auto& t : d) t = id(rng);
  }
  return docs;
}

inline void write_documents(const std::filesystem::path& path, ShardFormat format, int64_t vocab,
                            const Documents& docs) {
  auto w = create_document_writer(path, format, vocab, "test-tokenizer", -1);
  for (const auto& d : docs) w->add(d);
  w->finish();
}

// Every document of the store, read back through the DocumentStore interface.
inline Documents read_documents(const DocumentStore& store) {
  Documents docs(store.num_documents());
  for (uint64_t d = 0; d < store.num_documents(); ++d) {
    docs[d].resize(store.doc_offset(d + 1) - store.doc_offset(d));
    store.read_tokens(store.doc_offset(d), docs[d]);
  }
  return docs;
}

inline void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

template <class T>
void poke(std::string& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

template <class T>
T peek(const std::string& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

// Files in `dir` (a leftover temporary would show up here).
inline std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace kiln::testing
