// A DocumentStore held in memory, so the loader's logic is tested apart from the file formats
// (those have their own tests in tests/data/formats).
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/formats/document_store.h"

namespace kiln::testing {

class MemoryDocumentStore final : public DocumentStore {
 public:
  MemoryDocumentStore(std::string name, const std::vector<std::vector<int32_t>>& docs) : name_(std::move(name)) {
    offsets_.push_back(0);
    for (const auto& d : docs) {
      tokens_.insert(tokens_.end(), d.begin(), d.end());
      offsets_.push_back(tokens_.size());
    }
  }
  const std::string& path() const override { return name_; }
  ShardFormat format() const override { return ShardFormat::mmap; }
  TokenDType dtype() const override { return TokenDType::int32; }
  uint64_t num_documents() const override { return offsets_.size() - 1; }
  uint64_t num_tokens() const override { return tokens_.size(); }
  uint64_t doc_offset(uint64_t d) const override { return offsets_.at(d); }
  void read_tokens(uint64_t begin, std::span<int32_t> out) const override {
    if (begin + out.size() > tokens_.size()) throw std::out_of_range("read past the end");
    std::copy_n(tokens_.begin() + static_cast<std::ptrdiff_t>(begin), out.size(), out.begin());
  }
  const std::vector<int32_t>& all_tokens() const { return tokens_; }

 private:
  std::string name_;
  std::vector<int32_t> tokens_;
  std::vector<uint64_t> offsets_;
};

// Documents whose tokens spell out where they are: document d, position p holds
// (d * 1000 + p) % vocab, lengths cycling through `lengths`.
inline std::vector<std::vector<int32_t>> numbered_documents(int count, const std::vector<int>& lengths,
                                                            int32_t vocab = 1 << 30) {
  std::vector<std::vector<int32_t>> docs;
  for (int d = 0; d < count; ++d) {
    std::vector<int32_t> doc;
    const int len = lengths[static_cast<size_t>(d) % lengths.size()];
    for (int p = 0; p < len; ++p) doc.push_back((d * 1000 + p) % vocab);
    docs.push_back(doc);
  }
  return docs;
}

}  // namespace kiln::testing
