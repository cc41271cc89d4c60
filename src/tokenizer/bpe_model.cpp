#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <climits>

namespace kiln::tokenizer {

// ---- PairTable --------------------------------------------------------------------------------

void PairTable::reserve(size_t pairs) {
  size_t cap = 16;
  while (cap < pairs * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty) insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xffffffffu), s.rule);
}

void PairTable::grow() { reserve(std::max<size_t>(16, size_ * 2)); }

bool PairTable::insert(int32_t left, int32_t right, MergeRule rule) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) return false;
    if (s.key == kEmpty) {
      s.key = key;
      s.rule = rule;
      ++size_;
      return true;
    }
  }
}

void PairTable::assign(int32_t left, int32_t right, MergeRule rule) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key || s.key == kEmpty) {
      if (s.key == kEmpty) ++size_;
      s.key = key;
      s.rule = rule;
      return;
    }
  }
}

// ---- BytesTable -------------------------------------------------------------------------------

void BytesTable::grow() {
  const size_t cap = std::max<size_t>(16, slots_.size() * 2);
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

bool BytesTable::insert(std::string_view key, int32_t id) {
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_bytes(key);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.id < 0) {
      s = Slot{h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), id};
      arena_.append(key);
      ++size_;
      return true;
    }
    if (s.hash == h && std::string_view(arena_).substr(s.offset, s.length) == key) return false;
  }
}

int32_t BytesTable::find(std::string_view key, uint64_t h) const {
  if (slots_.empty()) return -1;
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (s.hash == h && s.length == key.size() && std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0)
      return s.id;
  }
}

// ---- WordCache --------------------------------------------------------------------------------

WordCache::WordCache() : slots_(kSlots) {}

void WordCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  keys_.clear();
  ids_.clear();
  entries_ = 0;
}

bool WordCache::find(std::string_view word, uint64_t hash, std::span<const int32_t>& ids) const {
  hash |= 1;
  for (size_t i = (hash >> 1) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    const Slot& s = slots_[i];
    if (s.hash == 0) return false;
    if (s.hash == hash && s.key_length == word.size() &&
        std::memcmp(keys_.data() + s.key_offset, word.data(), word.size()) == 0) {
      ids = std::span<const int32_t>(ids_.data() + s.ids_offset, s.ids_length);
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, uint64_t hash, std::span<const int32_t> ids) {
  if (word.size() > kMaxWordBytes) return;
  if (entries_ >= kMaxEntries) clear();
  hash |= 1;
  size_t i = (hash >> 1) & (kSlots - 1);
  while (slots_[i].hash != 0) i = (i + 1) & (kSlots - 1);
  slots_[i] = Slot{hash, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
                   static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(ids.size())};
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++entries_;
}

// ---- merging ----------------------------------------------------------------------------------

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out, BpeScratch& scratch) const {
  if (word.size() == 1) {
    out.push_back(byte_ids[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (whole_word_first) {
    const int32_t id = tokens.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Rescanning for the minimum is O(n²) but beats a heap on the short words that make up
  // almost all text; long words (runs of one symbol, base64 blobs) take the O(n log n) path.
  if (word.size() <= 128)
    merge_small(word, out, scratch);
  else
    merge_large(word, out, scratch);
}

void BpeModel::merge_small(std::string_view word, std::vector<int32_t>& out, BpeScratch& s) const {
  auto& parts = s.parts;
  auto& ranks = s.ranks;
  parts.clear();
  ranks.clear();
  for (char c : word) parts.push_back(byte_ids[static_cast<uint8_t>(c)]);
  auto rank_of = [&](size_t i) {
    const MergeRule* r = pairs.find(parts[i], parts[i + 1]);
    return r ? r->rank : INT32_MAX;
  };
  for (size_t i = 0; i + 1 < parts.size(); ++i) ranks.push_back(rank_of(i));
  while (!ranks.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i)
      if (ranks[i] < ranks[best]) best = i;  // strict: the leftmost of equal ranks wins
    if (ranks[best] == INT32_MAX) break;
    parts[best] = pairs.find(parts[best], parts[best + 1])->merged;
    parts.erase(parts.begin() + static_cast<ptrdiff_t>(best) + 1);
    ranks.erase(ranks.begin() + static_cast<ptrdiff_t>(best));
    if (best > 0) ranks[best - 1] = rank_of(best - 1);
    if (best < ranks.size()) ranks[best] = rank_of(best);
  }
  out.insert(out.end(), parts.begin(), parts.end());
}

void BpeModel::merge_large(std::string_view word, std::vector<int32_t>& out, BpeScratch& s) const {
  using Candidate = BpeScratch::Candidate;
  auto& sym = s.symbols;
  auto& heap = s.heap;
  const int32_t n = static_cast<int32_t>(word.size());
  sym.resize(word.size());
  for (int32_t i = 0; i < n; ++i) sym[i] = {byte_ids[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1};
  // A min-heap on (rank, position): the position of a pair is where its left token starts, which
  // never changes while the token grows rightwards, so it orders pairs left to right.
  auto later = [](const Candidate& a, const Candidate& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
  heap.clear();
  auto push = [&](int32_t pos) {
    const int32_t next = sym[pos].next;
    if (next < 0) return;
    if (const MergeRule* r = pairs.find(sym[pos].id, sym[next].id)) {
      heap.push_back({r->rank, pos, sym[pos].id, sym[next].id});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    // Entries go stale when a neighbour merged first; they are skipped, not removed.
    BpeScratch::Symbol& left = sym[c.pos];
    if (left.id != c.left || left.next < 0 || sym[left.next].id != c.right) continue;
    const int32_t right = left.next;
    left.id = pairs.find(c.left, c.right)->merged;
    left.next = sym[right].next;
    if (left.next >= 0) sym[left.next].prev = c.pos;
    sym[right].id = -1;  // dead
    if (left.prev >= 0) push(left.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace kiln::tokenizer
