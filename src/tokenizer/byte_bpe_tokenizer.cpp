#include "tokenizer/byte_bpe_tokenizer.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "tokenizer/utf8.h"

namespace kiln::tokenizer {
namespace {

std::atomic<uint64_t> next_serial{1};

// Hugging Face's lstrip/rstrip take whitespace as Rust's char::is_whitespace (White_Space).
size_t whitespace_start_before(std::string_view text, size_t end) {
  size_t i = end;
  while (i > 0) {
    size_t j = i;
    if (!is_white_space(previous_code_point(text, j))) break;
    i = j;
  }
  return i;
}

size_t whitespace_end_after(std::string_view text, size_t begin) {
  size_t i = begin;
  while (i < text.size()) {
    size_t j = i;
    if (!is_white_space(next_code_point(text, j))) break;
    i = j;
  }
  return i;
}

}  // namespace

struct ByteBpeTokenizer::ThreadState {
  std::vector<SplitRegex::MatcherPtr> matchers;
  BpeScratch scratch;
  WordCache cache;
  std::vector<int32_t> word_ids;
  std::string prefixed;
};

ByteBpeTokenizer::ByteBpeTokenizer(ByteBpeSpec spec) : spec_(std::move(spec)), serial_(next_serial++) {}
ByteBpeTokenizer::~ByteBpeTokenizer() = default;

// Each thread keeps the state of the few tokenizers it used last. The state of a destroyed
// tokenizer lingers until pushed out; it is only memory, never looked at again (serials are
// never reused).
ByteBpeTokenizer::ThreadState& ByteBpeTokenizer::state() const {
  struct Entry {
    uint64_t serial;
    std::unique_ptr<ThreadState> state;
  };
  constexpr size_t kKept = 4;
  thread_local std::vector<Entry> entries;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].serial != serial_) continue;
    if (i != 0) std::rotate(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(i), entries.begin() + static_cast<ptrdiff_t>(i) + 1);
    return *entries.front().state;
  }
  auto st = std::make_unique<ThreadState>();
  for (const auto& re : spec_.splits) st->matchers.push_back(re->new_matcher());
  if (entries.size() == kKept) entries.pop_back();
  entries.insert(entries.begin(), Entry{serial_, std::move(st)});
  return *entries.front().state;
}

void ByteBpeTokenizer::encode(std::string_view text, std::vector<int32_t>& out, bool allow_special) const {
  check_utf8(text);
  ThreadState& ts = state();
  if (!allow_special && !spec_.match_non_special_always)
    encode_phase(text, spec_.added_phases.size(), allow_special, ts, out);
  else
    encode_phase(text, 0, allow_special, ts, out);
}

void ByteBpeTokenizer::encode_phase(std::string_view text, size_t phase, bool allow_special, ThreadState& ts,
                                    std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (phase == spec_.added_phases.size()) {
    encode_split(text, 0, ts, out);
    return;
  }
  const AddedTokenMatcher& m = spec_.added_phases[phase];
  size_t done = 0;  // text before this is encoded
  size_t pos = 0, begin = 0, index = 0;
  while (m.find(text, pos, begin, index)) {
    const AddedToken& tok = m.tokens()[index];
    size_t end = begin + tok.content.size();
    pos = end;
    if (!allow_special && tok.special) continue;
    if (tok.lstrip) begin = std::max(whitespace_start_before(text, begin), done);
    if (tok.rstrip) end = whitespace_end_after(text, end);
    if (done < begin) encode_phase(text.substr(done, begin - done), phase + 1, allow_special, ts, out);
    out.push_back(tok.id);
    done = end;
    // Hugging Face resumes after the match itself even when rstrip swallowed more, and a token
    // found inside that whitespace then overlaps; kiln resumes after the swallowed whitespace.
    pos = std::max(pos, end);
  }
  if (done < text.size()) encode_phase(text.substr(done), phase + 1, allow_special, ts, out);
}

void ByteBpeTokenizer::encode_split(std::string_view text, size_t level, ThreadState& ts,
                                    std::vector<int32_t>& out) const {
  if (spec_.add_prefix_space && level == spec_.prefix_space_level && text.front() != ' ') {
    // Only one level prefixes, so one buffer per thread is enough; the pieces below point into it.
    ts.prefixed.assign(1, ' ');
    ts.prefixed.append(text);
    const std::string_view prefixed = ts.prefixed;
    if (level == spec_.splits.size()) {
      encode_word(prefixed, ts, out);
    } else {
      spec_.splits[level]->split(*ts.matchers[level], prefixed, spec_.keep_gaps,
                                 [&](size_t b, size_t e) { encode_split(prefixed.substr(b, e - b), level + 1, ts, out); });
    }
    return;
  }
  if (level == spec_.splits.size()) {
    encode_word(text, ts, out);
    return;
  }
  spec_.splits[level]->split(*ts.matchers[level], text, spec_.keep_gaps,
                             [&](size_t b, size_t e) { encode_split(text.substr(b, e - b), level + 1, ts, out); });
}

void ByteBpeTokenizer::encode_word(std::string_view word, ThreadState& ts, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(spec_.model.byte_ids[static_cast<uint8_t>(word[0])]);
    return;
  }
  const uint64_t h = hash_bytes(word);
  std::span<const int32_t> cached;
  if (ts.cache.find(word, h, cached)) {
    out.insert(out.end(), cached.begin(), cached.end());
    return;
  }
  ts.word_ids.clear();
  spec_.model.encode_word(word, ts.word_ids, ts.scratch);
  ts.cache.insert(word, h, ts.word_ids);
  out.insert(out.end(), ts.word_ids.begin(), ts.word_ids.end());
}

std::string ByteBpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (id < 0 || static_cast<size_t>(id) >= spec_.pieces.size() || !spec_.present[static_cast<size_t>(id)])
      throw std::out_of_range("token id " + std::to_string(id) + " (position " + std::to_string(i) +
                              ") is not in the vocabulary of " + spec_.file);
    text += spec_.pieces[static_cast<size_t>(id)];
  }
  return text;
}

std::optional<int32_t> ByteBpeTokenizer::token_id(std::string_view token) const {
  auto it = spec_.names.find(std::string(token));
  if (it == spec_.names.end()) return std::nullopt;
  return it->second;
}

std::string ByteBpeTokenizer::describe() const {
  size_t added = 0;
  for (const auto& phase : spec_.added_phases) added += phase.tokens().size();
  return spec_.kind + " " + spec_.file + ": byte-level BPE, vocabulary " + std::to_string(vocab_size()) + " (" +
         std::to_string(spec_.model.pairs.size()) + " merge pairs, " + std::to_string(added) + " added tokens)";
}

}  // namespace kiln::tokenizer
