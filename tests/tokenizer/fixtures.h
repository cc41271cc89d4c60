// Paths and readers for the tokenizer tests' fixtures (tests/fixtures/tokenizer, made by
// make_fixtures.py there) and the shared reference tokenizer.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace kiln::testing {

inline std::filesystem::path tokenizer_fixture(const std::string& name) {
  return std::filesystem::path(KILN_SOURCE_DIR) / "tests" / "fixtures" / "tokenizer" / name;
}

inline std::filesystem::path gpt2_tokenizer_json() {
  return std::filesystem::path(KILN_SHARED_DIR "/reference/tokenizers/gpt2-tokenizer.json");
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(slurp(p)); }

// "[1, 2, 3]" for failure messages.
inline std::string show_ids(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

}  // namespace kiln::testing
