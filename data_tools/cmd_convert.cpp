// kiln-data convert: one shard format to another, streaming (one document, or one block of
// Cerebras rows, in memory at a time).
//
// To mmap or hdf5 the documents are copied as they are. To cerebras the documents are
// concatenated into one token stream and cut into non-overlapping pieces of --seq-length + 1
// tokens, each piece one row (input_ids = piece[:-1], labels = piece[1:]), the Model Zoo's
// packing; a last piece shorter than that is padded (loss mask 0 on the padding), and a last
// piece of a single token, which cannot form an input/label pair, is dropped with a warning.
// From cerebras, rows are turned back into documents by cerebras_documents() (see
// data/formats/cerebras_hdf5.h), cut after the end-of-document token when one is known.
#include <fmt/core.h>

#include "common.h"
#include "data/formats/cerebras_hdf5.h"
#include "progress.h"
#include "shard_source.h"

namespace kiln::data_tools {

namespace {

struct Args {
  std::string input, output, to;
  std::optional<uint64_t> seq_length;
  std::optional<int64_t> vocab_size;
  std::optional<int64_t> eod_token_id;
  int32_t pad_id = 0;
  TokenizerArgs tokenizer;
};

// Tokens must fit the vocabulary the output is declared for (DocumentWriter checks its own).
void check_tokens(std::span<const int32_t> tokens, int64_t vocab, const std::string& input, uint64_t doc) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw InputError(fmt::format("{}: document {}, token {}: id {} is outside the vocabulary [0, {})", input, doc, i,
                                   tokens[i], vocab));
}

int run(const Args& args) {
  const auto tokenizer = args.tokenizer.load();
  const bool to_cerebras = args.to == "cerebras";
  if (to_cerebras && !args.seq_length) throw InputError("--to cerebras needs --seq-length (the rows' MSL)");
  if (!to_cerebras && args.seq_length) throw InputError("--seq-length is only for --to cerebras");
  std::optional<int64_t> vocab;
  if (args.vocab_size || tokenizer || !to_cerebras) vocab = resolve_vocab_size(args.vocab_size, tokenizer.get(), "convert");
  int64_t eod = -1;
  if (args.eod_token_id)
    eod = *args.eod_token_id;
  else if (tokenizer && tokenizer->eod_token())
    eod = *tokenizer->eod_token();

  if (std::filesystem::weakly_canonical(args.input) == std::filesystem::weakly_canonical(args.output))
    throw InputError("convert: the output " + args.output + " is the input");
  const ShardSource source(args.input);
  ProgressDisplay progress = ProgressDisplay::for_stderr();
  ProgressSnapshot snap;
  // Progress in bytes of tokens read: the store's width, 4 bytes for Cerebras' int32 rows (whose
  // compressed total is unknown up front, so no ETA there).
  const uint64_t width = source.store() && source.store()->dtype() == TokenDType::uint16 ? 2 : 4;
  if (source.store()) snap.total_bytes = source.store()->num_tokens() * width;
  auto tick = [&](size_t tokens) {
    ++snap.documents;
    snap.tokens += tokens;
    snap.bytes = snap.tokens * width;
    snap.seconds = progress.elapsed();
    progress.update(snap);
  };

  std::string written;
  if (to_cerebras) {
    const uint64_t msl = *args.seq_length;
    if (msl < 1) throw InputError("--seq-length must be at least 1");
    std::filesystem::path out(args.output);
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
    CerebrasWriter writer(out, msl);
    std::vector<int32_t> piece;
    piece.reserve(msl + 1);
    source.for_each_document(eod, [&](uint64_t d, std::span<const int32_t> tokens) {
      if (vocab) check_tokens(tokens, *vocab, args.input, d);
      for (int32_t t : tokens) {
        piece.push_back(t);
        if (piece.size() == msl + 1) {
          writer.add_piece(piece, args.pad_id);
          piece.clear();
        }
      }
      tick(tokens.size());
    });
    if (piece.size() >= 2) writer.add_piece(piece, args.pad_id);
    if (piece.size() == 1)
      fmt::print(stderr, "kiln-data: warning: the last token of the stream forms no input/label pair and was dropped\n");
    const uint64_t rows = writer.num_samples();
    writer.finish();
    written = fmt::format("{} ({} samples × {})", out.string(), format_thousands(rows), msl);
  } else {
    const ShardFormat format = parse_shard_format(args.to);
    const std::filesystem::path out = prepare_output(args.output, format);
    auto writer = create_document_writer(out, format, *vocab, args.tokenizer.path, eod);
    source.for_each_document(eod, [&](uint64_t, std::span<const int32_t> tokens) {
      writer->add(tokens);
      tick(tokens.size());
    });
    writer->finish();
    written = written_files(out, format);
  }
  snap.seconds = progress.elapsed();
  progress.finish(snap);
  fmt::print("convert: {} ({}) -> {}: {} documents, {} tokens, {:.1f} s\n", args.input,
             detected_format_name(source.format()), written, format_thousands(snap.documents),
             format_thousands(snap.tokens), snap.seconds);
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("convert", "Convert a shard between mmap, hdf5 and cerebras formats");
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->input, "Input shard (format detected)")->required();
  cmd->add_option("output", args->output, "Output: mmap PREFIX, or an .h5 file")->required();
  cmd->add_option("--to", args->to, "Output format")->required()->check(CLI::IsMember({"mmap", "hdf5", "cerebras"}));
  cmd->add_option("--seq-length", args->seq_length, "Row length (MSL) for --to cerebras");
  cmd->add_option("--vocab-size", args->vocab_size, "Vocabulary size of the tokens (or give --tokenizer)");
  args->tokenizer.add_to(cmd, false, "Tokenizer of the shard, for its vocabulary size and end-of-document token");
  cmd->add_option("--eod-token-id", args->eod_token_id,
                  "End-of-document token that splits Cerebras rows into documents (default: the tokenizer's)");
  cmd->add_option("--pad-id", args->pad_id, "Padding token of a short last Cerebras row (loss mask 0)")
      ->capture_default_str();
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace kiln::data_tools
