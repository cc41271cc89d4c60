// kiln-data tokenize: JSONL / text files → a token shard (mmap .bin/.idx or HDF5), one document
// per input document, each followed by the end-of-document token.
//
// The work runs through run_ordered_pipeline: the reader batches documents, --threads workers
// encode batches, and this thread writes them in input order. The output is therefore
// byte-identical for every --threads value, and a bad line under --on-bad-line stop is reported
// at the same file:line whatever the thread count.
#include <fmt/core.h>

#include "common.h"
#include "data/formats/document_store.h"
#include "ordered_pipeline.h"
#include "progress.h"

namespace kiln::data_tools {

namespace {

// A batch is handed to one worker: big enough that queueing costs nothing next to encoding it,
// small enough that the threads share the work of a small corpus.
constexpr uint64_t kBatchTextBytes = uint64_t{1} << 20;
constexpr size_t kBatchDocuments = 2048;

struct Args {
  TextInputArgs input;
  TokenizerArgs tokenizer;
  std::string output;
  std::string format = "mmap";
  int threads = 0;
  bool eod = true;
  std::optional<int32_t> eod_token_id;
  bool split_special = false;
  bool no_progress = false;
};

int run(const Args& args) {
  const TextInputOptions input_options = args.input.options();
  const ShardFormat format = parse_shard_format(args.format);
  TextInput input(args.input.paths(), input_options);
  const auto tokenizer = args.tokenizer.load();
  const int64_t vocab_size = tokenizer->vocab_size();

  int32_t eod = -1;
  if (args.eod) {
    if (args.eod_token_id) {
      eod = *args.eod_token_id;
    } else if (auto id = tokenizer->eod_token()) {
      eod = *id;
    } else {
      throw InputError("the tokenizer " + args.tokenizer.path +
                       " has no <|endoftext|> token to end documents with; give --eod-token-id ID, or --no-eod");
    }
    if (eod < 0 || eod >= vocab_size)
      throw InputError("--eod-token-id " + std::to_string(eod) + " is outside the vocabulary [0, " +
                       std::to_string(vocab_size) + ") of " + args.tokenizer.path);
  }

  const std::filesystem::path out = prepare_output(args.output, format);
  auto writer = create_document_writer(out, format, vocab_size, args.tokenizer.path, eod);

  const int threads = resolve_threads(args.threads);
  const bool allow_special = !args.split_special;
  ProgressDisplay progress = ProgressDisplay::for_stderr(!args.no_progress);
  ProgressSnapshot snap;
  snap.total_bytes = input.total_bytes();
  uint64_t empty = 0;

  run_ordered_pipeline(
      {.threads = threads},
      [&](TextBatch& batch) {
        InputDocument doc;
        while (batch.text_bytes < kBatchTextBytes && batch.texts.size() < kBatchDocuments && input.next(doc)) {
          batch.text_bytes += doc.text.size();
          batch.origins.push_back(doc.origin());
          batch.texts.push_back(std::move(doc.text));
        }
        batch.input_bytes = input.bytes_consumed();
        return !batch.texts.empty();
      },
      [&](std::string_view text, std::vector<int32_t>& ids) {
        tokenizer->encode(text, ids, allow_special);
        if (eod >= 0) ids.push_back(eod);
      },
      [&](TokenBatch&& batch) {
        uint64_t begin = 0;
        for (const uint64_t end : batch.doc_ends) {
          if (end == begin) {
            ++empty;  // only possible with --no-eod: a zero-token document would be invisible to training
            continue;
          }
          writer->add(std::span<const int32_t>(batch.tokens).subspan(begin, end - begin));
          ++snap.documents;
          begin = end;
        }
        snap.tokens += batch.tokens.size();
        snap.bytes = batch.input_bytes;
        snap.seconds = progress.elapsed();
        progress.update(snap);
      });
  writer->finish();
  snap.bytes = input.total_bytes();
  snap.seconds = progress.elapsed();
  progress.finish(snap);

  const BadLineReport& bad = input.bad_lines();
  if (bad.count > 0) fmt::print(stderr, "kiln-data: warning: {}\n", bad.summary());
  if (snap.documents == 0) fmt::print(stderr, "kiln-data: warning: no documents in the input; the shard is empty\n");
  const double secs = std::max(snap.seconds, 1e-9);
  fmt::print("tokenize: {} documents, {} tokens, {} bad lines skipped{}, {} in {:.1f} s ({:.1f} MB/s, {} tokens/s) -> {} "
             "({}, vocab {})\n",
             format_thousands(snap.documents), format_thousands(snap.tokens), format_thousands(bad.count),
             empty ? fmt::format(", {} empty documents dropped", format_thousands(empty)) : "",
             format_megabytes(snap.bytes), snap.seconds, static_cast<double>(snap.bytes) / 1e6 / secs,
             format_count(static_cast<double>(snap.tokens) / secs), written_files(out, format),
             token_dtype_name(token_dtype_for_vocab(vocab_size)), format_thousands(static_cast<uint64_t>(vocab_size)));
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("tokenize", "Tokenize JSONL or text files into a token shard");
  auto args = std::make_shared<Args>();
  args->input.add_to(cmd);
  args->tokenizer.add_to(cmd, true, "Tokenizer");
  cmd->add_option("--output", args->output, "Output: PREFIX for mmap (PREFIX.bin, PREFIX.idx), FILE[.h5] for hdf5")
      ->required();
  cmd->add_option("--format", args->format, "Shard format")
      ->check(CLI::IsMember({"mmap", "hdf5"}))
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Encoding threads (0: one per core); the output is the same for any value")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--eod,!--no-eod", args->eod, "Append the end-of-document token to every document (default on)");
  cmd->add_option("--eod-token-id", args->eod_token_id,
                  "End-of-document token id (default: the tokenizer's <|endoftext|>)");
  cmd->add_flag("--split-special-tokens", args->split_special,
                "Encode special-token text found in documents (e.g. \"<|endoftext|>\") as ordinary text");
  cmd->add_flag("--no-progress", args->no_progress, "No progress line on stderr");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace kiln::data_tools
