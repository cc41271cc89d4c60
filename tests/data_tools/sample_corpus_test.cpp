// The sample corpus: deterministic bytes for a seed, different for another seed, about the size
// asked, valid JSONL with varied, valid-UTF-8 documents.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sample_corpus.h"
#include "splitmix64.h"
#include "tokenizer/utf8.h"

namespace kiln::data_tools {
namespace {

std::string corpus(uint64_t bytes, uint64_t seed) {
  std::ostringstream out;
  write_sample_corpus(out, bytes, seed);
  return out.str();
}

TEST(SplitMix64, KnownValuesAndRanges) {
  // Reference values of splitmix64 seeded with 0 (Vigna's splitmix64.c).
  SplitMix64 r(0);
  EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(r.next(), 0x6E789E6AA1B965F4ull);
  SplitMix64 s(7);
  for (int i = 0; i < 1000; ++i) {
    const auto v = s.between(-3, 3);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
  }
}

TEST(SampleCorpus, SameSeedSameBytes) {
  const std::string a = corpus(300'000, 1), b = corpus(300'000, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, corpus(300'000, 2));
}

TEST(SampleCorpus, SizeRoughlyAsAsked) {
  for (uint64_t target : {10'000u, 500'000u}) {
    const std::string c = corpus(target, 3);
    EXPECT_GE(c.size(), target);
    EXPECT_LT(c.size(), target + 20'000) << "the last line crosses the target by one document at most";
  }
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Pinned so that a change to the generator (which changes every quickstart corpus, and any result
// quoted from one) is made deliberately: update the value with the change. The generator uses
// SplitMix64 and in-order evaluation only, so the value holds for every compiler and library.
TEST(SampleCorpus, BytesArePinned) {
  EXPECT_EQ(fnv1a(corpus(200'000, 1)), 0xe99757991d304ce2ull);
}

TEST(SampleCorpus, ValidVariedJsonl) {
  const std::string c = corpus(1'000'000, 1);
  std::istringstream in(c);
  std::string line;
  size_t docs = 0, shortest = SIZE_MAX, longest = 0, non_ascii = 0;
  std::set<std::string> distinct;
  bool code = false, dialogue = false, arithmetic = false, other_script = false;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("text") && j["text"].is_string()) << line;
    const std::string text = j["text"];
    ASSERT_FALSE(text.empty());
    ASSERT_EQ(tokenizer::find_invalid_utf8(text), std::string_view::npos) << text;
    ++docs;
    shortest = std::min(shortest, text.size());
    longest = std::max(longest, text.size());
    distinct.insert(text);
    if (std::any_of(text.begin(), text.end(), [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; }))
      ++non_ascii;
    code |= text.find("def ") != std::string::npos;
    dialogue |= text.find("How are you today?") != std::string::npos;
    arithmetic |= text.find(" = ") != std::string::npos;
    other_script |= text.find("こんにちは") != std::string::npos || text.find("Привет") != std::string::npos;
  }
  EXPECT_GT(docs, 500u);
  EXPECT_LT(shortest, 80u) << "some documents are one sentence";
  EXPECT_GT(longest, 2000u) << "some documents run to thousands of characters";
  EXPECT_GT(distinct.size(), docs * 9 / 10);
  EXPECT_GT(non_ascii, docs / 50);
  EXPECT_TRUE(code && dialogue && arithmetic && other_script);
}

}  // namespace
}  // namespace kiln::data_tools
