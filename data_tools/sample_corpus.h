// A deterministic sample corpus, so the quickstart trains on text without downloading any.
//
// Contract. SampleCorpus(seed) first invents a small world from the seed (countries with
// capitals, populations, rivers and exports; people with professions, birth dates and
// birthplaces), then each next_document() writes one English-like document about it: encyclopedia
// entries, biographies, question-and-answer sets, dialogues, stories, arithmetic, dated news,
// lists and recipes, short programs with their correct output, greetings in other scripts. The
// same facts recur across documents and the templates repeat, so a small model has structure to
// learn; lengths run from one sentence to a few thousand characters. Every draw goes through
// SplitMix64 and integer arithmetic, so a seed gives the same bytes on every platform and
// standard library.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

namespace kiln::data_tools {

class SampleCorpus {
 public:
  explicit SampleCorpus(uint64_t seed);
  ~SampleCorpus();
  SampleCorpus(const SampleCorpus&) = delete;
  SampleCorpus& operator=(const SampleCorpus&) = delete;

  // The next document: valid UTF-8, non-empty, no NUL bytes.
  std::string next_document();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SampleCorpusStats {
  uint64_t documents = 0;
  uint64_t bytes = 0;  // of JSONL written
};

// Writes documents as JSONL lines {"text": …} until at least `target_bytes` bytes are written
// (the last line crosses the target; lines are never cut).
SampleCorpusStats write_sample_corpus(std::ostream& out, uint64_t target_bytes, uint64_t seed);

}  // namespace kiln::data_tools
