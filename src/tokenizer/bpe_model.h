// The byte-pair merge step shared by both file formats: a word's bytes in, token ids out.
//
// Contract. Each byte starts as its own token; then, repeatedly, the adjacent pair with the lowest
// rank is merged, the leftmost one when several share that rank, until no adjacent pair has a
// rank. This is both Hugging Face's BPE (rank = position in "merges") and tiktoken's (rank of the
// concatenated bytes, every split of a token into two tokens being one pair), as long as the pair
// table is built accordingly. With whole_word_first, a word that is itself a token is emitted as
// that token before any merging (tiktoken always; Hugging Face with "ignore_merges").
//
// The model is immutable after building; the scratch buffers and the word cache belong to one
// thread each, so encoding allocates only when a buffer or the cache grows.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  uint64_t w = 0;
  std::memcpy(&w, p + i, n - i);
  h = (h ^ w) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h;
}

struct MergeRule {
  int32_t rank = -1;
  int32_t merged = -1;
};

// (left id, right id) → MergeRule, open addressing: the lookup in the inner loop of merging.
class PairTable {
 public:
  void reserve(size_t pairs);
  // False when the pair is already present (the table keeps the first rule).
  bool insert(int32_t left, int32_t right, MergeRule rule);
  // Sets the pair's rule, replacing any earlier one.
  void assign(int32_t left, int32_t right, MergeRule rule);
  const MergeRule* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.rule;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    MergeRule rule;
  };
  static uint64_t pack(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
  static size_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Byte string → id, for whole-word lookups and token_id(); keys live in one arena.
class BytesTable {
 public:
  // False when the key is already present (the table keeps the first id).
  bool insert(std::string_view key, int32_t id);
  // The id of `key`, or -1.
  int32_t find(std::string_view key) const { return find(key, hash_bytes(key)); }
  int32_t find(std::string_view key, uint64_t hash) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    int32_t id = -1;
  };
  void grow();
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// A bounded word → ids memo for one thread: words repeat (Zipf), merging them again is the cost.
// Entries are never evicted one by one; when full the cache starts over, which keeps it simple
// and allocation-free once the arenas have grown.
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;  // longer words are rare and not worth keeping

  WordCache();
  // The cached ids of `word` (hash = hash_bytes(word)); false when absent.
  bool find(std::string_view word, uint64_t hash, std::span<const int32_t>& ids) const;
  void insert(std::string_view word, uint64_t hash, std::span<const int32_t> ids);

 private:
  static constexpr size_t kSlots = size_t{1} << 17;
  static constexpr size_t kMaxEntries = kSlots / 2;
  struct Slot {
    uint64_t hash = 0;  // 0: empty (stored hashes have the low bit set)
    uint32_t key_offset = 0;
    uint32_t key_length = 0;
    uint32_t ids_offset = 0;
    uint32_t ids_length = 0;
  };
  void clear();
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t entries_ = 0;
};

struct BpeScratch {
  std::vector<int32_t> parts;  // the current tokens of the word
  std::vector<int32_t> ranks;  // ranks[i]: rank of (parts[i], parts[i+1]), or INT32_MAX
  struct Symbol {
    int32_t id, prev, next;
  };
  struct Candidate {
    int32_t rank, pos, left, right;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

class BpeModel {
 public:
  std::array<int32_t, 256> byte_ids{};  // the token of each single byte
  PairTable pairs;
  BytesTable tokens;  // token bytes → id, for whole_word_first and lookups
  bool whole_word_first = false;

  // Appends the ids of `word` (non-empty) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out, BpeScratch& scratch) const;

 private:
  void merge_small(std::string_view word, std::vector<int32_t>& out, BpeScratch& s) const;
  void merge_large(std::string_view word, std::vector<int32_t>& out, BpeScratch& s) const;
};

}  // namespace kiln::tokenizer
