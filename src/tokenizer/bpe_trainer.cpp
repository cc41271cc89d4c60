#include "tokenizer/bpe_trainer.h"

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/split_regex.h"
#include "tokenizer/utf8.h"

namespace kiln {

using tokenizer::AddedToken;
using tokenizer::AddedTokenMatcher;
using tokenizer::SplitRegex;

namespace {

uint64_t pack(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
int32_t left_of(uint64_t k) { return static_cast<int32_t>(k >> 32); }
int32_t right_of(uint64_t k) { return static_cast<int32_t>(k & 0xffffffffu); }

std::vector<AddedToken> special_list(const std::vector<std::string>& specials) {
  std::vector<AddedToken> out;
  for (const auto& s : specials) out.push_back(AddedToken{s, 0, true, false, false});
  return out;
}

}  // namespace

struct BpeTrainer::Impl {
  explicit Impl(BpeTrainerOptions o)
      : options(std::move(o)),
        split(std::string(tokenizer::kGpt2Pattern), tokenizer::Anchors::kLine),
        specials(special_list(options.special_tokens)) {}

  BpeTrainerOptions options;
  SplitRegex split;
  AddedTokenMatcher specials;
  std::mutex mutex;
  std::unordered_map<std::string, int64_t> words;  // pre-tokenized word → occurrences
};

BpeTrainer::BpeTrainer(BpeTrainerOptions options) {
  std::unordered_set<std::string> seen;
  for (const auto& s : options.special_tokens) {
    if (s.empty()) throw std::invalid_argument("BpeTrainerOptions::special_tokens: a special token is empty");
    if (!seen.insert(s).second)
      throw std::invalid_argument("BpeTrainerOptions::special_tokens: \"" + s + "\" is listed twice");
    tokenizer::check_utf8(s);
  }
  const auto least = 256 + static_cast<int64_t>(options.special_tokens.size());
  if (options.vocab_size < least || options.vocab_size > INT32_MAX)
    throw std::invalid_argument("BpeTrainerOptions::vocab_size: " + std::to_string(options.vocab_size) +
                                " is out of range (at least 256 byte tokens + " +
                                std::to_string(options.special_tokens.size()) + " special tokens = " +
                                std::to_string(least) + ")");
  if (options.min_frequency < 1)
    throw std::invalid_argument("BpeTrainerOptions::min_frequency: " + std::to_string(options.min_frequency) +
                                " is out of range (at least 1)");
  impl_ = std::make_unique<Impl>(std::move(options));
}

BpeTrainer::~BpeTrainer() = default;

void BpeTrainer::add_text(std::string_view text) {
  tokenizer::check_utf8(text);
  // Count locally, then merge under the lock: the splitting is the slow part and runs in parallel.
  std::unordered_map<std::string_view, int64_t> local;
  auto matcher = impl_->split.new_matcher();
  auto count = [&](std::string_view segment) {
    impl_->split.split(*matcher, segment, true, [&](size_t b, size_t e) { ++local[segment.substr(b, e - b)]; });
  };
  // Special tokens are cut out as encoding would cut them, so they never take part in merges.
  size_t done = 0, pos = 0, begin = 0, index = 0;
  while (impl_->specials.find(text, pos, begin, index)) {
    if (begin > done) count(text.substr(done, begin - done));
    done = pos = begin + impl_->specials.tokens()[index].content.size();
  }
  if (done < text.size()) count(text.substr(done));
  std::lock_guard lock(impl_->mutex);
  for (const auto& [word, n] : local) impl_->words[std::string(word)] += n;
}

// Training. Words are sequences of token ids (first the 256 byte tokens, id = byte value). The
// pair counts are kept up to date incrementally: merging (a, b) → x in a word only changes the
// counts of the pairs touching that occurrence, and an index pair → words says which words to
// visit. The most frequent pair comes from a max-heap with lazy deletion (an entry whose count is
// out of date is re-pushed with the current count). Ties between equally frequent pairs go to the
// pair with the smaller left id, then the smaller right id, so the result never depends on hash
// order or on the order of add_text() calls (words are also sorted before ids are assigned).
std::string BpeTrainer::to_json() {
  const BpeTrainerOptions& opt = impl_->options;
  std::vector<std::pair<std::string, int64_t>> sorted;
  {
    std::lock_guard lock(impl_->mutex);
    sorted.assign(impl_->words.begin(), impl_->words.end());
  }
  std::sort(sorted.begin(), sorted.end());

  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> freq(sorted.size());
  std::unordered_map<uint64_t, int64_t> counts;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;
  for (size_t w = 0; w < sorted.size(); ++w) {
    freq[w] = sorted[w].second;
    for (char c : sorted[w].first) words[w].push_back(static_cast<uint8_t>(c));
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t k = pack(words[w][i], words[w][i + 1]);
      counts[k] += freq[w];
      auto& list = where[k];
      if (list.empty() || list.back() != static_cast<int32_t>(w)) list.push_back(static_cast<int32_t>(w));
    }
  }

  struct Entry {
    int64_t count;
    uint64_t pair;
    bool operator<(const Entry& o) const {  // "lower priority than"
      if (count != o.count) return count < o.count;
      return pair > o.pair;  // smaller (left, right) first: pack() orders by left, then right
    }
  };
  std::priority_queue<Entry> heap;
  for (const auto& [k, c] : counts) heap.push({c, k});

  std::vector<std::string> token_bytes;
  for (int b = 0; b < 256; ++b) token_bytes.emplace_back(1, static_cast<char>(b));
  std::unordered_map<std::string, int32_t> token_of;
  for (int b = 0; b < 256; ++b) token_of[token_bytes[static_cast<size_t>(b)]] = b;
  std::vector<std::pair<int32_t, int32_t>> merges;

  const auto target = static_cast<size_t>(opt.vocab_size) - opt.special_tokens.size();
  std::vector<int64_t> visited(words.size(), -1);
  std::vector<uint64_t> touched;
  while (token_bytes.size() < target && !heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    auto it = counts.find(top.pair);
    const int64_t now = it == counts.end() ? 0 : it->second;
    if (now != top.count) {
      if (now > 0) heap.push({now, top.pair});
      continue;
    }
    if (now < opt.min_frequency) break;
    const int32_t a = left_of(top.pair), b = right_of(top.pair);
    // The same bytes can come from two different pairs; the token keeps its first id.
    std::string joined = token_bytes[static_cast<size_t>(a)] + token_bytes[static_cast<size_t>(b)];
    int32_t x;
    if (auto found = token_of.find(joined); found != token_of.end()) {
      x = found->second;
    } else {
      x = static_cast<int32_t>(token_bytes.size());
      token_of.emplace(joined, x);
      token_bytes.push_back(std::move(joined));
    }
    merges.emplace_back(a, b);

    touched.clear();
    const std::vector<int32_t> list = std::move(where[top.pair]);
    where.erase(top.pair);
    const auto merge_no = static_cast<int64_t>(merges.size());
    for (const int32_t w : list) {
      if (visited[static_cast<size_t>(w)] == merge_no) continue;
      visited[static_cast<size_t>(w)] = merge_no;
      auto& s = words[static_cast<size_t>(w)];
      const int64_t f = freq[static_cast<size_t>(w)];
      auto add = [&](int32_t l, int32_t r, int64_t delta) {
        const uint64_t k = pack(l, r);
        counts[k] += delta;
        if (delta > 0) {
          touched.push_back(k);
          auto& wl = where[k];
          if (wl.empty() || wl.back() != w) wl.push_back(w);
        }
      };
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != a || s[i + 1] != b) continue;
        if (i > 0) {
          add(s[i - 1], a, -f);
          add(s[i - 1], x, f);
        }
        if (i + 2 < s.size()) {
          add(b, s[i + 2], -f);
          add(x, s[i + 2], f);
        }
        counts[top.pair] -= f;
        s[i] = x;
        s.erase(s.begin() + static_cast<ptrdiff_t>(i) + 1);
      }
    }
    counts.erase(top.pair);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t k : touched)
      if (const int64_t c = counts[k]; c > 0) heap.push({c, k});
  }

  using ojson = nlohmann::ordered_json;
  ojson vocab = ojson::object();
  std::vector<std::string> names;
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    names.push_back(tokenizer::byte_level_encode(token_bytes[id]));
    vocab[names.back()] = id;
  }
  ojson merge_list = ojson::array();
  for (const auto& [l, r] : merges) merge_list.push_back(names[static_cast<size_t>(l)] + " " + names[static_cast<size_t>(r)]);
  ojson added = ojson::array();
  for (size_t i = 0; i < opt.special_tokens.size(); ++i) {
    added.push_back({{"id", token_bytes.size() + i},
                     {"content", opt.special_tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const ojson byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  ojson doc = {{"version", "1.0"},
               {"truncation", nullptr},
               {"padding", nullptr},
               {"added_tokens", added},
               {"normalizer", nullptr},
               {"pre_tokenizer", byte_level},
               {"post_processor", nullptr},
               {"decoder", byte_level},
               {"model",
                {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", nullptr},
                 {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr},
                 {"fuse_unk", false},
                 {"byte_fallback", false},
                 {"ignore_merges", false},
                 {"vocab", vocab},
                 {"merges", merge_list}}}};
  return doc.dump(2) + "\n";
}

}  // namespace kiln
