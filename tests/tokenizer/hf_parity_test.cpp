// GPT-2's tokenizer.json through kiln against Hugging Face `tokenizers`, id for id.
//
// Fixture: tests/fixtures/tokenizer/gpt2_hf.json, made by
//   cd tests/fixtures/tokenizer && python3 make_fixtures.py --only gpt2
// with tokenizers 0.23.3 from shared/reference/tokenizers/gpt2-tokenizer.json:
// Tokenizer.encode(text, add_special_tokens=False).ids for every case (prose, contractions, eight
// scripts, code, whitespace runs, CRLF, numbers, emoji with ZWJ and skin tones, combining marks,
// <|endoftext|> inside text, odd Unicode spaces, the empty string, 120 random strings), the same
// with encode_special_tokens=True, and for JSON variants this test rebuilds by making the same
// edit: add_prefix_space=true, a Sequence[Split, ByteLevel(use_regex=false)] pre-tokenizer with
// [left, right] merges, and an added "<mask>" token with lstrip and rstrip.
#include <gtest/gtest.h>

#include <thread>

#include "support/error_text.h"
#include "support/temp_dir.h"
#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace kiln {
namespace {

using testing::read_json;
using testing::show_ids;
using testing::tokenizer_fixture;

std::vector<int32_t> ids_of(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

class Gpt2Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new nlohmann::json(read_json(tokenizer_fixture("gpt2_hf.json")));
    gpt2_json_ = new nlohmann::json(read_json(testing::gpt2_tokenizer_json()));
    tok_ = Tokenizer::load(testing::gpt2_tokenizer_json()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete gpt2_json_;
    delete fixture_;
  }
  // Loads GPT-2's tokenizer.json after `edit`.
  template <class F>
  std::unique_ptr<Tokenizer> load_edited(F&& edit) {
    nlohmann::json doc = *gpt2_json_;
    edit(doc);
    return Tokenizer::load(dir_.write("tokenizer.json", doc.dump()));
  }
  void expect_cases(const Tokenizer& tok, const char* key, bool allow_special = true) {
    int checked = 0;
    for (const auto& c : (*fixture_)["cases"]) {
      const std::string text = c["text"];
      const auto got = tok.encode(text, allow_special);
      EXPECT_EQ(got, ids_of(c[key])) << key << " case " << c["name"] << ": got " << show_ids(got);
      ++checked;
    }
    EXPECT_GT(checked, 150);
  }

  static nlohmann::json* fixture_;
  static nlohmann::json* gpt2_json_;
  static Tokenizer* tok_;
  testing::TempDir dir_;
};
nlohmann::json* Gpt2Parity::fixture_ = nullptr;
nlohmann::json* Gpt2Parity::gpt2_json_ = nullptr;
Tokenizer* Gpt2Parity::tok_ = nullptr;

TEST_F(Gpt2Parity, EncodesLikeHuggingFace) { expect_cases(*tok_, "ids"); }

TEST_F(Gpt2Parity, SpecialTokensOffEncodesThemAsText) { expect_cases(*tok_, "ids_no_special", false); }

TEST_F(Gpt2Parity, DecodeInvertsEncode) {
  for (const auto& c : (*fixture_)["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tok_->decode(tok_->encode(text)), text) << c["name"];
    EXPECT_EQ(tok_->decode(tok_->encode(text, false)), text) << c["name"];
  }
}

TEST_F(Gpt2Parity, AddPrefixSpace) {
  auto tok = load_edited([](nlohmann::json& d) { d["pre_tokenizer"]["add_prefix_space"] = true; });
  expect_cases(*tok, "ids_add_prefix_space");
}

TEST_F(Gpt2Parity, SplitThenByteLevelSequenceWithListMerges) {
  auto tok = load_edited([&](nlohmann::json& d) {
    d["pre_tokenizer"] = (*fixture_)["sequence_pre_tokenizer"];
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& m : d["model"]["merges"]) {
      const std::string s = m;
      merges.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
    }
    d["model"]["merges"] = merges;
  });
  expect_cases(*tok, "ids_sequence");
}

TEST_F(Gpt2Parity, AddedTokenWithLstripAndRstrip) {
  auto tok = load_edited([&](nlohmann::json& d) { d["added_tokens"].push_back((*fixture_)["mask_token"]); });
  for (const auto& c : (*fixture_)["mask_cases"]) {
    const auto got = tok->encode(c["text"].get<std::string>());
    EXPECT_EQ(got, ids_of(c["ids"])) << c["name"] << ": got " << show_ids(got);
  }
  EXPECT_EQ(tok->token_id("<mask>"), 50257);
  EXPECT_EQ(tok->vocab_size(), 50258);
}

TEST_F(Gpt2Parity, ManyThreadsGiveTheSameIds) {
  const auto& cases = (*fixture_)["cases"];
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = static_cast<size_t>(t); i < cases.size(); i += 2)
          if (tok_->encode(cases[i]["text"].get<std::string>()) != ids_of(cases[i]["ids"])) ++wrong;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(Gpt2Parity, VocabularyAccessors) {
  EXPECT_EQ(tok_->vocab_size(), 50257);
  EXPECT_EQ(tok_->eod_token(), 50256);
  EXPECT_EQ(tok_->token_id("\xC4\xA0the"), 262);  // "Ġthe", as written in the vocabulary
  EXPECT_EQ(tok_->token_id("no such token"), std::nullopt);
  EXPECT_TRUE(testing::contains(tok_->describe(), "gpt2-tokenizer.json"));
  EXPECT_TRUE(testing::contains(tok_->describe(), "50257"));
}

TEST_F(Gpt2Parity, DecodeNamesAnUnknownId) {
  const std::vector<int32_t> ids{464, 50257};
  EXPECT_THROW(tok_->decode(ids), std::out_of_range);
  EXPECT_TRUE(testing::contains(testing::error_of([&] { tok_->decode(ids); }), "token id 50257 (position 1)"));
  const std::vector<int32_t> negative{-1};
  EXPECT_THROW(tok_->decode(negative), std::out_of_range);
}

TEST_F(Gpt2Parity, InvalidUtf8NamesTheByteOffset) {
  EXPECT_THROW(tok_->encode("abc\xC3"), std::invalid_argument);
  EXPECT_TRUE(testing::contains(testing::error_of([&] { tok_->encode("hello \xE2\x28\xA1 world"); }), "byte 6"));
}

TEST_F(Gpt2Parity, LongInputsMatchThePiecewiseEncoding) {
  // Words longer than the cache keeps and than the small-word merge path handles.
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "abcdefghij"[i % 10];
  text += " " + std::string(3000, '=') + " " + std::string(100000, ' ') + "end";
  const auto ids = tok_->encode(text);
  EXPECT_EQ(tok_->decode(ids), text);
  const auto again = tok_->encode(text);
  EXPECT_EQ(ids, again);
}

}  // namespace
}  // namespace kiln
