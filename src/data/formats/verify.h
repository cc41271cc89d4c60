// Full verification of a shard, for `kiln-data verify` and tests: everything the readers check at
// open, plus what they deliberately do not (a scan of every token id).
//
// Document stores (mmap, kiln hdf5):
//   - the structure, by opening the store (the reader's checks; a failure is the one problem);
//   - document offsets from 0, non-decreasing, ending at num_tokens;
//   - token width against the vocabulary: uint16 cannot hold ids of a vocabulary above 65,536
//     (a problem); a width other than NeoX's rule picks (token_dtype_for_vocab) is a warning;
//   - every token id in [0, vocab_size): the first offender is reported with its document, its
//     position in the document, its stream offset and its value, with a count of all offenders.
// Cerebras files:
//   - the layout (by opening: data [N, 3, MSL] int32, n_examples == N);
//   - loss mask values 0 or 1;
//   - labels[i] == input_ids[i + 1] wherever mask[i] and mask[i + 1] are both 1 (inside a row; the
//     last real label is the next piece's first token and cannot be checked);
//   - input_ids and labels in [0, vocab_size).
// Each problem is one line naming the file and the position, ready to print.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/formats/cerebras_hdf5.h"
#include "data/formats/document_store.h"

namespace kiln {

struct VerifyReport {
  std::string path;
  std::string format;                 // detected_format_name()
  uint64_t documents = 0;             // rows for a Cerebras file
  uint64_t tokens = 0;                // rows × MSL for a Cerebras file
  int64_t vocab_size = 0;             // what ids were checked against (0: not checked)
  uint64_t bad_tokens = 0;            // ids outside [0, vocab_size)
  std::vector<std::string> problems;  // the shard is wrong
  std::vector<std::string> warnings;  // readable, but probably not what was meant

  bool ok() const { return problems.empty(); }
};

// vocab_size ≤ 0: use the vocabulary the file records (kiln hdf5); where there is none (mmap),
// token ids are not range-checked and a warning says so.
VerifyReport verify_document_store(const DocumentStore& store, int64_t vocab_size);
// vocab_size ≤ 0: ids are not range-checked (a warning says so).
VerifyReport verify_cerebras(CerebrasSamples& samples, int64_t vocab_size);
// Detects the format (detect_format), opens and verifies; failing to detect or open is reported
// as the report's problem rather than thrown.
VerifyReport verify_path(const std::filesystem::path& path, int64_t vocab_size);

}  // namespace kiln
