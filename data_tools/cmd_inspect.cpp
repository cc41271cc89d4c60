// kiln-data inspect: what a shard holds (format, dtype, documents, tokens, document lengths) and,
// with a tokenizer, the text of chosen documents. --json prints the same as one JSON object.
#include <map>

#include <fmt/core.h>

#include "common.h"
#include "doc_stats.h"
#include "progress.h"
#include "shard_source.h"

namespace kiln::data_tools {

namespace {

struct Args {
  std::string path;
  TokenizerArgs tokenizer;
  std::optional<uint64_t> decode;
  std::vector<uint64_t> docs;
  std::optional<int64_t> eod_token_id;
  size_t max_chars = 2000;
  bool json = false;
};

// At most `max` bytes of `text`, cut at a character boundary, with "…" when cut.
std::string truncate_utf8(const std::string& text, size_t max) {
  if (max == 0 || text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n) + "…";
}

int run(const Args& args) {
  const auto tokenizer = args.tokenizer.load();
  if ((args.decode || !args.docs.empty()) && !tokenizer)
    throw InputError("--decode and --docs need --tokenizer to turn tokens back into text");
  int64_t eod = -1;
  if (args.eod_token_id)
    eod = *args.eod_token_id;
  else if (tokenizer && tokenizer->eod_token())
    eod = *tokenizer->eod_token();

  const ShardSource source(args.path);
  std::vector<uint64_t> wanted = args.docs;
  if (args.decode)
    for (uint64_t i = 0; i < *args.decode; ++i) wanted.push_back(i);

  LengthStats stats;
  std::map<uint64_t, std::vector<int32_t>> chosen;  // document → tokens, for decoding
  if (const DocumentStore* store = source.store()) {
    // Lengths come from the index alone: no token is read unless it is decoded.
    for (uint64_t d = 0; d < store->num_documents(); ++d) stats.add(store->doc_offset(d + 1) - store->doc_offset(d));
    for (uint64_t d : wanted) {
      if (d >= store->num_documents())
        throw InputError(fmt::format("document {} requested; {} holds {} documents", d, args.path,
                                     store->num_documents()));
      std::vector<int32_t> t(store->doc_offset(d + 1) - store->doc_offset(d));
      store->read_tokens(store->doc_offset(d), t);
      chosen[d] = std::move(t);
    }
  } else {
    for (uint64_t d : wanted) chosen[d];
    source.for_each_document(eod, [&](uint64_t d, std::span<const int32_t> tokens) {
      stats.add(tokens.size());
      if (auto it = chosen.find(d); it != chosen.end()) it->second.assign(tokens.begin(), tokens.end());
    });
    for (uint64_t d : wanted)
      if (d >= stats.documents())
        throw InputError(fmt::format("document {} requested; {} holds {} documents", d, args.path, stats.documents()));
  }

  const std::string dtype = source.store() ? token_dtype_name(source.store()->dtype()) : "int32";
  auto decoded = [&](uint64_t d) -> std::string {
    try {
      return tokenizer->decode(chosen.at(d));
    } catch (const std::exception& e) {
      return fmt::format("(cannot decode: {})", e.what());
    }
  };

  if (args.json) {
    nlohmann::json j = {{"path", args.path},
                        {"format", detected_format_name(source.format())},
                        {"dtype", dtype},
                        {"documents", stats.documents()},
                        {"tokens", stats.tokens()},
                        {"length", length_stats_json(stats)}};
    if (auto* c = source.cerebras()) {
      j["samples"] = c->num_samples();
      j["max_seq_length"] = c->max_seq_length();
    }
    if (!wanted.empty()) {
      nlohmann::json docs = nlohmann::json::array();
      for (uint64_t d : wanted)
        docs.push_back({{"document", d}, {"tokens", chosen.at(d).size()}, {"text", decoded(d)}});
      j["decoded"] = docs;
    }
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }

  fmt::print("path:       {}\n", args.path);
  fmt::print("format:     {}\n", detected_format_name(source.format()));
  fmt::print("dtype:      {}\n", dtype);
  if (auto* c = source.cerebras()) {
    fmt::print("samples:    {} × max_seq_length {}\n", format_thousands(c->num_samples()), c->max_seq_length());
    fmt::print("            documents below are rebuilt from the samples{}\n",
               eod >= 0 ? fmt::format(", cut after token {}", eod) : " (no end-of-document token: one per sample)");
  }
  fmt::print("documents:  {}\n", format_thousands(stats.documents()));
  fmt::print("tokens:     {}\n", format_thousands(stats.tokens()));
  if (stats.documents() > 0) {
    fmt::print("length:     min {}, mean {:.1f}, max {}\n\n", format_thousands(stats.min()), stats.mean(),
               format_thousands(stats.max()));
    fmt::print("{}", format_histogram(stats));
  }
  for (uint64_t d : wanted) {
    fmt::print("\n--- document {} ({} tokens) ---\n{}\n", d, format_thousands(chosen.at(d).size()),
               truncate_utf8(decoded(d), args.max_chars));
  }
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("inspect", "Show what a shard holds; decode documents with --tokenizer");
  auto args = std::make_shared<Args>();
  cmd->add_option("path", args->path, "Shard: mmap PREFIX (or PREFIX.bin/.idx), kiln .h5, or Cerebras .h5")->required();
  args->tokenizer.add_to(cmd, false, "Tokenizer for --decode / --docs");
  cmd->add_option("--decode", args->decode, "Decode the first N documents");
  cmd->add_option("--docs", args->docs, "Decode these documents (comma-separated indexes)")->delimiter(',');
  cmd->add_option("--eod-token-id", args->eod_token_id,
                  "End-of-document token that splits Cerebras samples into documents (default: the tokenizer's)");
  cmd->add_option("--max-chars", args->max_chars, "Show at most this many bytes of each decoded document (0: all)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print one JSON object (full decoded texts) instead of text");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace kiln::data_tools
