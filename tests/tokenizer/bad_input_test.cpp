// Files and texts the tokenizers must refuse, and what the refusal says: the file, the JSON key
// or line, and what is wrong.
#include <gtest/gtest.h>

#include "support/error_text.h"
#include "support/temp_dir.h"
#include "tokenizer/base64.h"
#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace kiln {
namespace {

using testing::contains;

// The error Tokenizer::load gives for `path`; fails the test when there is none or it is not a
// TokenizerError.
std::string load_error(const std::filesystem::path& path, const TokenizerOptions& options = {}) {
  try {
    Tokenizer::load(path, options);
  } catch (const TokenizerError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a TokenizerError: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "loaded " << path;
  return "";
}

class BadTokenizerJson : public ::testing::Test {
 protected:
  // A small valid byte-level BPE tokenizer.json (the trainer fixture), edited.
  template <class F>
  std::string error_after(F&& edit) {
    auto doc = testing::read_json(testing::tokenizer_fixture("trained_tokenizer.json"));
    edit(doc);
    const auto path = dir_.write("tokenizer.json", doc.dump());
    const std::string error = load_error(path);
    EXPECT_TRUE(contains(error, path.string()));
    return error;
  }
  testing::TempDir dir_;
};

TEST_F(BadTokenizerJson, TheUneditedFixtureLoads) {
  // So that every refusal below is caused by its edit.
  const auto doc = testing::read_json(testing::tokenizer_fixture("trained_tokenizer.json"));
  EXPECT_NO_THROW(Tokenizer::load(dir_.write("tokenizer.json", doc.dump())));
}

TEST_F(BadTokenizerJson, MalformedJsonNamesTheLine) {
  const auto path = dir_.write("tokenizer.json", "{\n  \"model\": {\n    \"type\": \"BPE\",\n  }\n}\n");
  const std::string error = load_error(path);
  EXPECT_TRUE(contains(error, path.string()));
  EXPECT_TRUE(contains(error, "malformed JSON"));
  EXPECT_TRUE(contains(error, "line 4"));
}

TEST_F(BadTokenizerJson, UnsupportedModelType) {
  const auto e = error_after([](nlohmann::json& d) { d["model"]["type"] = "WordPiece"; });
  EXPECT_TRUE(contains(e, "model.type"));
  EXPECT_TRUE(contains(e, "WordPiece"));
}

TEST_F(BadTokenizerJson, UnsupportedNormalizer) {
  const auto e = error_after([](nlohmann::json& d) { d["normalizer"] = {{"type", "NFC"}}; });
  EXPECT_TRUE(contains(e, "normalizer"));
  EXPECT_TRUE(contains(e, "NFC"));
}

TEST_F(BadTokenizerJson, UnsupportedPreTokenizerInsideASequence) {
  const auto e = error_after([](nlohmann::json& d) {
    d["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}, d["pre_tokenizer"]}}};
  });
  EXPECT_TRUE(contains(e, "pre_tokenizer.pretokenizers[0]"));
  EXPECT_TRUE(contains(e, "Whitespace"));
}

TEST_F(BadTokenizerJson, NoByteLevelStep) {
  const auto e = error_after([](nlohmann::json& d) {
    d["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Isolated"}, {"invert", false}};
  });
  EXPECT_TRUE(contains(e, "ByteLevel"));
}

TEST_F(BadTokenizerJson, UnsupportedSplitBehaviourAndBadRegex) {
  auto split = [](const char* regex, const char* behavior) {
    return [=](nlohmann::json& d) {
      d["pre_tokenizer"] = {{"type", "Sequence"},
                            {"pretokenizers",
                             {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", false}},
                              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    };
  };
  const auto e1 = error_after(split("\\s+", "Removed"));
  EXPECT_TRUE(contains(e1, "pre_tokenizer.pretokenizers[0].behavior"));
  EXPECT_TRUE(contains(e1, "Removed"));
  const auto e2 = error_after(split("(\\s+", "Isolated"));
  EXPECT_TRUE(contains(e2, "pre_tokenizer.pretokenizers[0].pattern"));
  EXPECT_TRUE(contains(e2, "offset"));
}

TEST_F(BadTokenizerJson, UnsupportedDecoder) {
  const auto e = error_after([](nlohmann::json& d) { d["decoder"] = {{"type", "WordPiece"}}; });
  EXPECT_TRUE(contains(e, "decoder"));
  EXPECT_TRUE(contains(e, "WordPiece"));
}

TEST_F(BadTokenizerJson, SingleWordAddedTokenIsRefusedByName) {
  const auto e = error_after([](nlohmann::json& d) { d["added_tokens"][0]["single_word"] = true; });
  EXPECT_TRUE(contains(e, "added_tokens[0].single_word"));
  EXPECT_TRUE(contains(e, "<|endoftext|>"));
}

TEST_F(BadTokenizerJson, MergeOfAnUnknownToken) {
  const auto e = error_after([](nlohmann::json& d) { d["model"]["merges"][3] = "zz qq"; });
  EXPECT_TRUE(contains(e, "model.merges[3]"));
  EXPECT_TRUE(contains(e, "\"zz\" is not in model.vocab"));
}

TEST_F(BadTokenizerJson, MalformedMerge) {
  const auto e = error_after([](nlohmann::json& d) { d["model"]["merges"][0] = "a b c"; });
  EXPECT_TRUE(contains(e, "model.merges[0]"));
}

TEST_F(BadTokenizerJson, MissingByteToken) {
  const auto e = error_after([](nlohmann::json& d) { d["model"]["vocab"].erase("A"); });
  EXPECT_TRUE(contains(e, "0x41"));
}

TEST_F(BadTokenizerJson, DropoutTruncationAndPrefixes) {
  EXPECT_TRUE(contains(error_after([](nlohmann::json& d) { d["model"]["dropout"] = 0.1; }), "model.dropout"));
  EXPECT_TRUE(contains(error_after([](nlohmann::json& d) { d["truncation"] = {{"max_length", 8}}; }), "truncation"));
  EXPECT_TRUE(contains(error_after([](nlohmann::json& d) { d["model"]["continuing_subword_prefix"] = "##"; }),
                       "model.continuing_subword_prefix"));
  EXPECT_TRUE(contains(error_after([](nlohmann::json& d) { d["model"]["vocab"]["A"] = "x"; }), "model.vocab[\"A\"]"));
}

TEST(BadTokenizerFile, MissingFileNamesThePath) {
  const std::string e = load_error("/nonexistent/kiln/tokenizer.json");
  EXPECT_TRUE(contains(e, "/nonexistent/kiln/tokenizer.json"));
}

// A rank file: the 256 bytes, then `extra` lines.
std::string rank_file(const std::string& extra) {
  std::string s;
  for (int b = 0; b < 256; ++b) s += tokenizer::base64_encode(std::string(1, static_cast<char>(b))) + " " + std::to_string(b) + "\n";
  return s + extra;
}

TEST(BadTiktoken, AValidFileLoadsAndEncodes) {
  testing::TempDir dir;
  TokenizerOptions options;
  options.tiktoken_special_tokens = {{"<|endoftext|>", 300}};
  auto tok = Tokenizer::load(dir.write("r.tiktoken", rank_file("YWI= 256\nYWJj 257\n")), options);
  EXPECT_EQ(tok->encode("abc abd<|endoftext|>"), (std::vector<int32_t>{257, ' ', 256, 'd', 300}));
  EXPECT_EQ(tok->encode("<|endoftext|>", false).size(), 13u);
  EXPECT_EQ(tok->vocab_size(), 301);
  EXPECT_THROW(tok->decode(std::vector<int32_t>{299}), std::out_of_range);  // a hole between ranks
  EXPECT_TRUE(contains(testing::error_of([&] { tok->encode("ok \xF0\x9F"); }), "byte 3"));
}

TEST(BadTiktoken, BadBase64NamesTheLine) {
  testing::TempDir dir;
  const std::string e = load_error(dir.write("r.tiktoken", rank_file("YW*= 256\n")));
  EXPECT_TRUE(contains(e, "r.tiktoken"));
  EXPECT_TRUE(contains(e, "line 257"));
  EXPECT_TRUE(contains(e, "bad base64"));
}

TEST(BadTiktoken, DuplicateRank) {
  testing::TempDir dir;
  const std::string e = load_error(dir.write("r.tiktoken", rank_file("YWI= 256\nYWJj 256\n")));
  EXPECT_TRUE(contains(e, "line 258"));
  EXPECT_TRUE(contains(e, "rank 256 is used again (first on line 257)"));
}

TEST(BadTiktoken, DuplicateToken) {
  testing::TempDir dir;
  const std::string e = load_error(dir.write("r.tiktoken", rank_file("YWI= 256\nYWI= 257\n")));
  EXPECT_TRUE(contains(e, "line 258"));
  EXPECT_TRUE(contains(e, "listed twice"));
}

TEST(BadTiktoken, BadRankAndBadLine) {
  testing::TempDir dir;
  EXPECT_TRUE(contains(load_error(dir.write("a.tiktoken", rank_file("YWI= twelve\n"))), "bad rank"));
  EXPECT_TRUE(contains(load_error(dir.write("b.tiktoken", rank_file("YWI= 1 2\n"))), "line 257"));
  EXPECT_TRUE(contains(load_error(dir.write("c.tiktoken", rank_file("YWI= -4\n"))), "bad rank"));
}

TEST(BadTiktoken, MissingByteAndCollidingSpecial) {
  testing::TempDir dir;
  std::string without_a = rank_file("");
  const std::string a_line = tokenizer::base64_encode("a") + " 97\n";
  without_a.erase(without_a.find(a_line), a_line.size());
  EXPECT_TRUE(contains(load_error(dir.write("a.tiktoken", without_a)), "single byte 97"));

  TokenizerOptions options;
  options.tiktoken_special_tokens = {{"<|endoftext|>", 65}};
  const std::string e = load_error(dir.write("b.tiktoken", rank_file("")), options);
  EXPECT_TRUE(contains(e, "<|endoftext|>"));
  EXPECT_TRUE(contains(e, "id 65"));
}

TEST(BadTiktoken, NeitherFormat) {
  testing::TempDir dir;
  EXPECT_TRUE(contains(load_error(dir.write("empty.txt", "\n\n")), "neither a tokenizer.json nor a tiktoken"));
}

}  // namespace
}  // namespace kiln
