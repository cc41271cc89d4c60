// The GPT-NeoX keys and tokenizer files the importer knows by name (the lists, and why each key
// is on its list, are in neox_keys.cpp). Internal to the GPT-NeoX importer; not part of the public
// API (config/neox_import.h).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace kiln::neox {

// Infrastructure: where things run, log or are stored. Ignored.
extern const std::set<std::string> kInfrastructure;
// Prefixes of whole families of infrastructure keys (wandb_host, s3_path, …). Ignored.
extern const std::vector<std::string> kInfrastructurePrefixes;

// Implementation choices such as fused kernels: the same math computed another way. Ignored.
extern const std::set<std::string> kImplementation;

// GPT-NeoX's µP hyper-parameters: ignored unless use_mup is true (which is refused).
extern const std::set<std::string> kMupOnly;

// Tokenizer files whose vocabulary size is known, by file name; GPT-NeoX configs do not state it.
struct KnownTokenizer {
  const char* file;  // the file name of `vocab_file`
  int64_t size;      // the vocabulary size, before padding
  const char* what;  // what it is, for the note
};
extern const std::vector<KnownTokenizer> kKnownTokenizers;

}  // namespace kiln::neox
