// kiln's tiktoken rank-file tokenizer against the real `tiktoken`, id for id.
//
// Fixture: tests/fixtures/tokenizer/gpt2_tiktoken.json, made by
//   cd tests/fixtures/tokenizer && python3 make_fixtures.py --only tiktoken
// with tiktoken 0.14.0: tiktoken.Encoding(pat_str=..., mergeable_ranks=GPT-2's vocabulary as
// token bytes → id (rank == id in GPT-2; the added <|endoftext|> left out), special_tokens=
// {"<|endoftext|>": 50256}), for tiktoken's own r50k pattern and its cl100k pattern:
// encode(text, allowed_special="all") and encode_ordinary(text) over the same texts as the GPT-2
// fixture. The script also checks that kiln's preset spellings (the classic, non-possessive
// patterns) give tiktoken the same ids. The rank file itself (a megabyte) is not committed: this
// test writes it from shared/reference/tokenizers/gpt2-tokenizer.json the same way.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "support/error_text.h"
#include "support/temp_dir.h"
#include "tokenizer/base64.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace kiln {
namespace {

using testing::read_json;
using testing::show_ids;

class TiktokenParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new nlohmann::json(read_json(testing::tokenizer_fixture("gpt2_tiktoken.json")));
    const auto gpt2 = read_json(testing::gpt2_tokenizer_json());
    std::set<int64_t> added;
    for (const auto& t : gpt2["added_tokens"]) added.insert(t["id"].get<int64_t>());
    std::string ranks;
    for (const auto& [name, id] : gpt2["model"]["vocab"].items()) {
      if (added.count(id.get<int64_t>())) continue;
      ranks += tokenizer::base64_encode(*tokenizer::byte_level_decode(name)) + " " + std::to_string(id.get<int64_t>()) + "\n";
    }
    rank_file_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                           ("kiln-gpt2-ranks-" + std::to_string(::getpid()) + ".tiktoken"));
    std::ofstream(*rank_file_, std::ios::binary) << ranks;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove(*rank_file_);
    delete rank_file_;
    delete fixture_;
  }

  static std::unique_ptr<Tokenizer> load(const std::string& pattern) {
    TokenizerOptions options;
    options.tiktoken_pattern = pattern;
    options.tiktoken_special_tokens = {{"<|endoftext|>", 50256}};
    return Tokenizer::load(*rank_file_, options);
  }

  static void expect_parity(const Tokenizer& tok, const nlohmann::json& cases, const std::string& label) {
    ASSERT_GT(cases.size(), 150u);
    for (const auto& c : cases) {
      const std::string text = c["text"];
      const auto ids = tok.encode(text);
      EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>()) << label << " case " << c["name"] << ": got " << show_ids(ids);
      const auto ordinary = tok.encode(text, false);
      EXPECT_EQ(ordinary, c["ids_ordinary"].get<std::vector<int32_t>>())
          << label << " (ordinary) case " << c["name"] << ": got " << show_ids(ordinary);
      EXPECT_EQ(tok.decode(ids), text) << label << " case " << c["name"];
    }
  }

  static nlohmann::json* fixture_;
  static std::filesystem::path* rank_file_;
};
nlohmann::json* TiktokenParity::fixture_ = nullptr;
std::filesystem::path* TiktokenParity::rank_file_ = nullptr;

TEST_F(TiktokenParity, Gpt2Preset) {
  expect_parity(*load("gpt2"), (*fixture_)["patterns"]["gpt2"]["cases"], "gpt2");
}

TEST_F(TiktokenParity, Cl100kPreset) {
  expect_parity(*load("cl100k"), (*fixture_)["patterns"]["cl100k"]["cases"], "cl100k");
}

TEST_F(TiktokenParity, TiktokensOwnPossessivePatternsAsCustomRegex) {
  for (const char* preset : {"gpt2", "cl100k"}) {
    const auto& p = (*fixture_)["patterns"][preset];
    expect_parity(*load(p["pat_str"].get<std::string>()), p["cases"], std::string("custom ") + preset);
  }
}

TEST_F(TiktokenParity, Accessors) {
  auto tok = load("cl100k");
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->eod_token(), 50256);
  EXPECT_EQ(tok->token_id(" the"), 262);  // rank files hold raw bytes
  EXPECT_TRUE(testing::contains(tok->describe(), "tiktoken"));
}

TEST_F(TiktokenParity, BadCustomPatternIsATokenizerError) {
  EXPECT_THROW(load("(unclosed"), TokenizerError);
  EXPECT_TRUE(testing::contains(testing::error_of([] { load("(unclosed"); }), "tiktoken_pattern"));
}

}  // namespace
}  // namespace kiln
