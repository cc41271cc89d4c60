// The kiln-data executable end to end: exit codes, messages, and the shards it writes, checked
// with the format readers and the tokenizer library.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/formats/document_store.h"
#include "sample_corpus.h"
#include "support/run_command.h"
#include "support/error_text.h"
#include "support/temp_dir.h"
#include "tokenizer/tokenizer.h"

namespace kiln {
namespace {

using testing::contains;
using testing::read_file;
using testing::TempDir;

using Result = testing::CommandResult;

Result kiln_data(const std::string& args) { return testing::run_command(std::string(KILN_DATA_BINARY) + " " + args); }

const std::string kGpt2 = std::string(KILN_SHARED_DIR) + "/reference/tokenizers/gpt2-tokenizer.json";

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

void expect_no_crash_dump(const Result& r) {
  for (const char* s : {"terminate called", "Aborted", "what():", "Segmentation"})
    EXPECT_EQ(r.output.find(s), std::string::npos) << r.output;
}

// Every document of a shard, as token vectors.
std::vector<std::vector<int32_t>> documents(const std::filesystem::path& path, ShardFormat format) {
  auto store = open_document_store(path, format);
  std::vector<std::vector<int32_t>> docs;
  for (uint64_t d = 0; d < store->num_documents(); ++d) {
    std::vector<int32_t> t(store->doc_offset(d + 1) - store->doc_offset(d));
    store->read_tokens(store->doc_offset(d), t);
    docs.push_back(std::move(t));
  }
  return docs;
}

std::vector<std::string> texts_of(const std::filesystem::path& jsonl) {
  std::ifstream in(jsonl);
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) texts.push_back(nlohmann::json::parse(line)["text"]);
  return texts;
}

// A corpus big enough to be split into several batches (the pipeline's batches are ≤ 1 MiB).
std::filesystem::path write_corpus(const TempDir& dir, uint64_t bytes = 1'300'000) {
  std::ostringstream out;
  data_tools::write_sample_corpus(out, bytes, 11);
  return dir.write("corpus.jsonl", out.str());
}

TEST(KilnData, HelpForEverySubcommand) {
  Result top = kiln_data("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* sub : {"tokenize", "train-tokenizer", "inspect", "convert", "verify", "sample-corpus"}) {
    EXPECT_TRUE(contains(top.output, sub));
    Result r = kiln_data(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << ": " << r.output;
  }
  EXPECT_EQ(kiln_data("").code, 2);
  EXPECT_EQ(kiln_data("frobnicate").code, 2);
  EXPECT_EQ(kiln_data("tokenize --format zip x.jsonl --tokenizer t --output o").code, 2);
}

TEST(KilnData, TokenizeIsTheSameForAnyThreadCountAndMatchesTheTokenizer) {
  TempDir dir;
  const auto corpus = write_corpus(dir);
  for (int threads : {1, 3}) {
    Result r = kiln_data("tokenize " + q(corpus) + " --tokenizer " + q(kGpt2) + " --output " +
                         q(dir.path() / ("t" + std::to_string(threads))) + " --threads " + std::to_string(threads));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "0 bad lines skipped"));
  }
  const std::string bin1 = read_file(dir.path() / "t1.bin"), idx1 = read_file(dir.path() / "t1.idx");
  ASSERT_FALSE(bin1.empty());
  EXPECT_TRUE(bin1 == read_file(dir.path() / "t3.bin")) << "the .bin differs between 1 and 3 threads";
  EXPECT_TRUE(idx1 == read_file(dir.path() / "t3.idx")) << "the .idx differs between 1 and 3 threads";

  const auto tok = Tokenizer::load(kGpt2);
  const int32_t eod = *tok->eod_token();
  const auto texts = texts_of(corpus);
  const auto docs = documents(dir.path() / "t1", ShardFormat::mmap);
  ASSERT_EQ(docs.size(), texts.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    auto expected = tok->encode(texts[i]);
    expected.push_back(eod);
    ASSERT_EQ(docs[i], expected) << "document " << i;
  }
}

TEST(KilnData, TokenizeTextFilesAndHdf5) {
  TempDir dir;
  auto f = dir.write("a.txt", "First paragraph.\nSame one.\n\nSecond paragraph.\n");
  Result r = kiln_data("tokenize " + q(f) + " --text-split blank-line --format hdf5 --tokenizer " + q(kGpt2) +
                       " --output " + q(dir.path() / "out"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto tok = Tokenizer::load(kGpt2);
  const auto docs = documents(dir.path() / "out.h5", ShardFormat::hdf5);
  ASSERT_EQ(docs.size(), 2u);
  auto expected = tok->encode("Second paragraph.");
  expected.push_back(*tok->eod_token());
  EXPECT_EQ(docs[1], expected);

  r = kiln_data("tokenize " + q(f) + " --no-eod --tokenizer " + q(kGpt2) + " --output " + q(dir.path() / "plain"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(documents(dir.path() / "plain", ShardFormat::mmap)[0],
            tok->encode("First paragraph.\nSame one.\n\nSecond paragraph.\n"));
}

TEST(KilnData, BadLineStopsWithFileAndLine) {
  TempDir dir;
  auto f = dir.write("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"fine\"}\n{\"text\": oops}\n{\"text\": \"x\"}\n");
  Result r = kiln_data("tokenize " + q(f) + " --tokenizer " + q(kGpt2) + " --output " + q(dir.path() / "out") +
                       " --threads 2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, f.string() + ":3: invalid JSON"));
  EXPECT_TRUE(contains(r.output, "--on-bad-line skip"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.bin")) << "no shard from a failed run";
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.idx"));
  expect_no_crash_dump(r);
}

TEST(KilnData, BadLinesSkippedAreCountedAndNamed) {
  TempDir dir;
  auto f = dir.write("bad.jsonl",
                     "{\"text\": \"one\"}\n{\"text\": 5}\n{\"text\": \"two\"}\n{\"txt\": \"x\"}\n{\"text\": \"three\"}\n");
  Result r = kiln_data("tokenize " + q(f) + " --on-bad-line skip --tokenizer " + q(kGpt2) + " --output " +
                       q(dir.path() / "out"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "3 documents"));
  EXPECT_TRUE(contains(r.output, "2 bad lines skipped"));
  EXPECT_TRUE(contains(r.output, f.string() + ":2: 'text' is number, expected a string"));
  EXPECT_TRUE(contains(r.output, f.string() + ":4: no key 'text'"));
  EXPECT_EQ(documents(dir.path() / "out", ShardFormat::mmap).size(), 3u);
}

TEST(KilnData, TokenizeErrorsOnTheCommandLine) {
  TempDir dir;
  auto f = dir.write("a.jsonl", "{\"text\": \"x\"}\n");
  Result r = kiln_data("tokenize " + q(f) + " --tokenizer /nonexistent/tok.json --output " + q(dir.path() / "o"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "/nonexistent/tok.json"));
  r = kiln_data("tokenize /nonexistent/in.jsonl --tokenizer " + q(kGpt2) + " --output " + q(dir.path() / "o"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "/nonexistent/in.jsonl: no such file"));
  r = kiln_data("tokenize " + q(f) + " --tokenizer " + q(kGpt2) + " --eod-token-id 99999 --output " +
                q(dir.path() / "o"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "outside the vocabulary"));
  expect_no_crash_dump(r);
}

TEST(KilnData, VerifyCatchesTokensOutsideTheVocabulary) {
  TempDir dir;
  auto f = dir.write("a.jsonl", "{\"text\": \"Hello world, this has tokens above one thousand: Zürich.\"}\n");
  ASSERT_EQ(kiln_data("tokenize " + q(f) + " --tokenizer " + q(kGpt2) + " --output " + q(dir.path() / "s")).code, 0);
  Result ok = kiln_data("verify " + q(dir.path() / "s") + " --vocab-size 50257");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_TRUE(contains(ok.output, "OK " + (dir.path() / "s").string()));
  ok = kiln_data("verify " + q(dir.path() / "s") + " --tokenizer " + q(kGpt2));
  EXPECT_EQ(ok.code, 0) << ok.output;

  Result bad = kiln_data("verify " + q(dir.path() / "s") + " --vocab-size 1000");
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, (dir.path() / "s").string()));
  EXPECT_TRUE(contains(bad.output, "FAILED"));
  expect_no_crash_dump(bad);

  Result missing = kiln_data("verify " + q(dir.path() / "nothing") + " --vocab-size 1000");
  EXPECT_EQ(missing.code, 1) << missing.output;
}

TEST(KilnData, ConvertRoundTripsDocuments) {
  TempDir dir;
  const auto corpus = write_corpus(dir, 200'000);
  ASSERT_EQ(kiln_data("tokenize " + q(corpus) + " --tokenizer " + q(kGpt2) + " --output " + q(dir.path() / "a")).code, 0);
  Result r = kiln_data("convert " + q(dir.path() / "a") + " " + q(dir.path() / "b.h5") + " --to hdf5 --vocab-size 50257");
  ASSERT_EQ(r.code, 0) << r.output;
  r = kiln_data("convert " + q(dir.path() / "b.h5") + " " + q(dir.path() / "c") + " --to mmap --tokenizer " + q(kGpt2));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto original = documents(dir.path() / "a", ShardFormat::mmap);
  EXPECT_EQ(documents(dir.path() / "b.h5", ShardFormat::hdf5), original);
  EXPECT_EQ(documents(dir.path() / "c", ShardFormat::mmap), original);
  EXPECT_TRUE(read_file(dir.path() / "a.bin") == read_file(dir.path() / "c.bin"));
  EXPECT_TRUE(read_file(dir.path() / "a.idx") == read_file(dir.path() / "c.idx"));

  // Through Cerebras rows and back: the end-of-document token cuts the stream where it was.
  r = kiln_data("convert " + q(dir.path() / "a") + " " + q(dir.path() / "d.h5") + " --to cerebras --seq-length 128 --vocab-size 50257");
  ASSERT_EQ(r.code, 0) << r.output;
  r = kiln_data("convert " + q(dir.path() / "d.h5") + " " + q(dir.path() / "e") + " --to mmap --tokenizer " + q(kGpt2));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(documents(dir.path() / "e", ShardFormat::mmap), original);

  r = kiln_data("convert " + q(dir.path() / "a") + " " + q(dir.path() / "f") + " --to mmap");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "--vocab-size"));
  r = kiln_data("convert " + q(dir.path() / "a") + " " + q(dir.path() / "f.h5") + " --to cerebras --vocab-size 50257");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "--seq-length"));
}

TEST(KilnData, InspectShowsCountsHistogramAndText) {
  TempDir dir;
  auto f = dir.write("a.jsonl", "{\"text\": \"Hello there.\"}\n{\"text\": \"Second document, a little longer.\"}\n");
  ASSERT_EQ(kiln_data("tokenize " + q(f) + " --tokenizer " + q(kGpt2) + " --output " + q(dir.path() / "s")).code, 0);
  Result r = kiln_data("inspect " + q(dir.path() / "s") + " --tokenizer " + q(kGpt2) + " --decode 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "format:     mmap"));
  EXPECT_TRUE(contains(r.output, "dtype:      uint16"));
  EXPECT_TRUE(contains(r.output, "documents:  2"));
  EXPECT_TRUE(contains(r.output, "length (tokens)"));
  EXPECT_TRUE(contains(r.output, "Second document, a little longer.<|endoftext|>"));

  r = kiln_data("inspect " + q(dir.path() / "s.idx") + " --json --tokenizer " + q(kGpt2) + " --docs 1");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["documents"], 2);
  EXPECT_EQ(j["decoded"][0]["document"], 1);
  EXPECT_EQ(j["decoded"][0]["text"], "Second document, a little longer.<|endoftext|>");

  r = kiln_data("inspect " + q(dir.path() / "s") + " --decode 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "--tokenizer"));
  r = kiln_data("inspect " + q(dir.path() / "s") + " --docs 5 --tokenizer " + q(kGpt2));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "document 5 requested"));
}

TEST(KilnData, TrainTokenizerWritesALoadableTokenizer) {
  TempDir dir;
  const auto corpus = write_corpus(dir, 300'000);
  const auto out = dir.path() / "tok" / "tokenizer.json";
  Result r = kiln_data("train-tokenizer " + q(corpus) + " --vocab-size 600 --output " + q(out));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto tok = Tokenizer::load(out);
  EXPECT_EQ(tok->vocab_size(), 600);
  ASSERT_TRUE(tok->eod_token().has_value());
  const std::string text = texts_of(corpus)[0];
  EXPECT_EQ(tok->decode(tok->encode(text)), text);

  // The same corpus with the trained tokenizer: the end-of-document token is its <|endoftext|>.
  r = kiln_data("tokenize " + q(corpus) + " --tokenizer " + q(out) + " --output " + q(dir.path() / "s"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(documents(dir.path() / "s", ShardFormat::mmap)[0].back(), *tok->eod_token());

  // Without <|endoftext|> there is no default end-of-document token: a clear error.
  r = kiln_data("train-tokenizer " + q(corpus) + " --vocab-size 300 --special-token '<|pad|>' --output " +
                q(dir.path() / "noeod.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  r = kiln_data("tokenize " + q(corpus) + " --tokenizer " + q(dir.path() / "noeod.json") + " --output " +
                q(dir.path() / "x"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.output, "--eod-token-id"));
}

TEST(KilnData, SampleCorpusIsDeterministic) {
  TempDir dir;
  const auto a = dir.path() / "a.jsonl", b = dir.path() / "b.jsonl", c = dir.path() / "c.jsonl";
  ASSERT_EQ(kiln_data("sample-corpus --output " + q(a) + " --size-mb 0.3 --seed 5").code, 0);
  ASSERT_EQ(kiln_data("sample-corpus --output " + q(b) + " --size-mb 0.3 --seed 5").code, 0);
  ASSERT_EQ(kiln_data("sample-corpus --output " + q(c) + " --size-mb 0.3 --seed 6").code, 0);
  const std::string sa = read_file(a);
  EXPECT_GE(sa.size(), 300'000u);
  EXPECT_LT(sa.size(), 330'000u);
  EXPECT_TRUE(sa == read_file(b));
  EXPECT_FALSE(sa == read_file(c));
  std::ostringstream same;
  data_tools::write_sample_corpus(same, 300'000, 5);
  EXPECT_TRUE(sa == same.str()) << "the command writes exactly what the library generates";
}

}  // namespace
}  // namespace kiln
