#include "data/formats/verify.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "data/formats/hdf5_tokens.h"
#include "data/formats/indexed_dataset.h"

namespace kiln {
namespace {

using std::to_string;

constexpr size_t kScanBlock = size_t{1} << 20;

// The first offender and how many there were, for one kind of fault.
struct Tally {
  uint64_t count = 0;
  std::optional<std::string> first;
  void add(const std::function<std::string()>& describe) {
    if (count++ == 0) first = describe();
  }
  void report(std::vector<std::string>& problems, const std::string& what) const {
    if (count == 0) return;
    problems.push_back(*first + (count > 1 ? " (" + to_string(count) + " " + what + " in total)" : ""));
  }
};

void check_width(VerifyReport& r, const std::string& name, TokenDType dtype, int64_t vocab) {
  if (vocab <= 0) return;
  if (dtype == TokenDType::uint16 && vocab > 65536) {
    r.problems.push_back(name + ": tokens are uint16, which cannot hold the ids of a vocabulary of " +
                         to_string(vocab) + " (at most 65,536 ids)");
  } else if (dtype != token_dtype_for_vocab(vocab)) {
    r.warnings.push_back(name + ": tokens are " + token_dtype_name(dtype) + " but a vocabulary of " + to_string(vocab) +
                         " would be written as " + token_dtype_name(token_dtype_for_vocab(vocab)) +
                         " by GPT-NeoX and kiln (uint16 below 65,500, else int32)");
  }
}

}  // namespace

VerifyReport verify_document_store(const DocumentStore& store, int64_t vocab_size) {
  VerifyReport r;
  r.path = store.path();
  r.format = store.format() == ShardFormat::mmap ? detected_format_name(DetectedFormat::mmap)
                                                 : detected_format_name(DetectedFormat::kiln_hdf5);
  r.documents = store.num_documents();
  r.tokens = store.num_tokens();
  // Where token positions are named: the .bin for mmap, the file for hdf5.
  std::string data_name = store.path();
  if (const auto* mm = dynamic_cast<const IndexedDataset*>(&store)) data_name = mm->bin_file().string();

  int64_t vocab = vocab_size;
  if (const auto* h5 = dynamic_cast<const Hdf5TokenStore*>(&store)) {
    if (vocab <= 0) {
      vocab = h5->vocab_size();
    } else if (vocab != h5->vocab_size()) {
      r.warnings.push_back(store.path() + ": the file records vocab_size " + to_string(h5->vocab_size()) +
                           ", checking against " + to_string(vocab));
    }
    if (h5->vocab_size() > 0 && store.dtype() != token_dtype_for_vocab(h5->vocab_size())) {
      r.warnings.push_back(store.path() + ": /tokens is " + token_dtype_name(store.dtype()) +
                           " but the recorded vocab_size " + to_string(h5->vocab_size()) + " calls for " +
                           token_dtype_name(token_dtype_for_vocab(h5->vocab_size())));
    }
  }
  r.vocab_size = std::max<int64_t>(vocab, 0);
  check_width(r, store.path(), store.dtype(), vocab);

  // Offsets (the readers check these at open; a store from elsewhere may not have).
  const uint64_t docs = store.num_documents();
  bool offsets_ok = store.doc_offset(0) == 0 && store.doc_offset(docs) == store.num_tokens();
  if (!offsets_ok) {
    r.problems.push_back(store.path() + ": document offsets run from " + to_string(store.doc_offset(0)) + " to " +
                         to_string(store.doc_offset(docs)) + ", expected 0 to " + to_string(store.num_tokens()));
  }
  for (uint64_t d = 0; d < docs; ++d) {
    if (store.doc_offset(d + 1) < store.doc_offset(d)) {
      r.problems.push_back(store.path() + ": document " + to_string(d) + " ends at token " +
                           to_string(store.doc_offset(d + 1)) + ", before its start " + to_string(store.doc_offset(d)));
      offsets_ok = false;
      break;
    }
  }

  if (vocab <= 0) {
    r.warnings.push_back(store.path() + ": no vocabulary size given, token ids were not range-checked");
    return r;
  }
  std::vector<int32_t> block(std::min<uint64_t>(kScanBlock, store.num_tokens()));
  std::optional<uint64_t> first_at;
  int32_t first_value = 0;
  for (uint64_t begin = 0; begin < store.num_tokens(); begin += block.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), store.num_tokens() - begin));
    std::span<int32_t> span(block.data(), n);
    store.read_tokens(begin, span);
    for (size_t i = 0; i < n; ++i) {
      if (span[i] < 0 || span[i] >= vocab) {
        if (!first_at) {
          first_at = begin + i;
          first_value = span[i];
        }
        ++r.bad_tokens;
      }
    }
  }
  if (first_at) {
    std::string where = "token offset " + to_string(*first_at);
    if (offsets_ok) {
      // The document holding it: the last d with doc_offset(d) ≤ offset (skipping empty ones).
      uint64_t lo = 0, hi = docs;  // invariant: doc_offset(lo) ≤ offset < doc_offset(hi)
      while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        (store.doc_offset(mid) <= *first_at ? lo : hi) = mid;
      }
      where = "document " + to_string(lo) + ", token " + to_string(*first_at - store.doc_offset(lo)) +
              " (stream offset " + to_string(*first_at) + ")";
    }
    r.problems.push_back(data_name + ": " + where + ": id " + to_string(first_value) +
                         " is outside the vocabulary [0, " + to_string(vocab) + "); " + to_string(r.bad_tokens) +
                         " token" + (r.bad_tokens == 1 ? " is" : "s are") + " out of range in total");
  }
  return r;
}

VerifyReport verify_cerebras(CerebrasSamples& samples, int64_t vocab_size) {
  VerifyReport r;
  r.path = samples.path();
  r.format = detected_format_name(DetectedFormat::cerebras_hdf5);
  r.documents = samples.num_samples();
  r.tokens = samples.num_samples() * samples.max_seq_length();
  r.vocab_size = std::max<int64_t>(vocab_size, 0);
  const std::string& name = samples.path();
  const size_t msl = samples.max_seq_length();
  std::vector<int32_t> in(msl), lab(msl), mask(msl);
  Tally bad_mask, bad_shift, bad_id;
  for (uint64_t k = 0; k < samples.num_samples(); ++k) {
    samples.read_sample(k, in, lab, mask);
    const std::string row = name + ": sample " + to_string(k) + ", position ";
    for (size_t i = 0; i < msl; ++i) {
      if (mask[i] != 0 && mask[i] != 1) {
        bad_mask.add([&] { return row + to_string(i) + ": loss mask is " + to_string(mask[i]) + ", expected 0 or 1"; });
      }
      if (i + 1 < msl && mask[i] == 1 && mask[i + 1] == 1 && lab[i] != in[i + 1]) {
        bad_shift.add([&] {
          return row + to_string(i) + ": label " + to_string(lab[i]) + " differs from input_ids[" + to_string(i + 1) +
                 "] = " + to_string(in[i + 1]) + " (labels must be the inputs shifted by one)";
        });
      }
      if (vocab_size > 0) {
        for (auto [field, v] : {std::pair{"input id", in[i]}, std::pair{"label", lab[i]}}) {
          if (v < 0 || v >= vocab_size) {
            ++r.bad_tokens;
            bad_id.add([&] {
              return row + to_string(i) + ": " + field + " " + to_string(v) + " is outside the vocabulary [0, " +
                     to_string(vocab_size) + ")";
            });
          }
        }
      }
    }
  }
  bad_mask.report(r.problems, "bad mask values");
  bad_shift.report(r.problems, "labels differ from the shifted inputs");
  bad_id.report(r.problems, "ids are out of range");
  if (vocab_size <= 0) r.warnings.push_back(name + ": no vocabulary size given, token ids were not range-checked");
  return r;
}

VerifyReport verify_path(const std::filesystem::path& path, int64_t vocab_size) {
  VerifyReport r;
  r.path = path.string();
  try {
    const DetectedFormat format = detect_format(path);
    r.format = detected_format_name(format);
    if (format == DetectedFormat::cerebras_hdf5) {
      CerebrasSamples samples(path);
      return verify_cerebras(samples, vocab_size);
    }
    auto store = open_document_store(path, format == DetectedFormat::mmap ? ShardFormat::mmap : ShardFormat::hdf5);
    return verify_document_store(*store, vocab_size);
  } catch (const DataFormatError& e) {
    r.problems.push_back(e.what());
  }
  return r;
}

}  // namespace kiln
