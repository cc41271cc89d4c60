// kiln-data verify: full checks of shards (data/formats/verify.h): structure, offsets, and every
// token id against the vocabulary. Prints each problem with its file and position; exits 1 when
// any file has a problem, 0 with one "OK" line per file otherwise.
#include <fmt/core.h>

#include "common.h"
#include "data/formats/verify.h"
#include "progress.h"

namespace kiln::data_tools {

namespace {

struct Args {
  std::vector<std::string> paths;
  std::optional<int64_t> vocab_size;
  TokenizerArgs tokenizer;
};

int run(const Args& args) {
  const auto tokenizer = args.tokenizer.load();
  // Without either, kiln HDF5 shards are checked against the vocabulary they record and mmap
  // shards get a warning that their ids were not range-checked.
  const int64_t vocab = args.vocab_size || tokenizer ? resolve_vocab_size(args.vocab_size, tokenizer.get(), "verify") : 0;
  size_t failed = 0;
  for (const auto& path : args.paths) {
    const VerifyReport r = verify_path(path, vocab);
    for (const auto& w : r.warnings) fmt::print(stderr, "warning: {}\n", w);
    for (const auto& p : r.problems) fmt::print("{}\n", p);
    if (!r.ok()) {
      ++failed;
      fmt::print("FAILED {}: {} problem{}\n", path, r.problems.size(), r.problems.size() == 1 ? "" : "s");
      continue;
    }
    fmt::print("OK {}: {}, {} {}, {} tokens{}\n", path, r.format, format_thousands(r.documents),
               r.format == "cerebras hdf5" ? "samples" : "documents", format_thousands(r.tokens),
               r.vocab_size > 0 ? fmt::format(", every id < {}", format_thousands(static_cast<uint64_t>(r.vocab_size)))
                                : ", ids not range-checked");
  }
  if (failed > 0 && args.paths.size() > 1) fmt::print("{} of {} files failed\n", failed, args.paths.size());
  return failed > 0 ? kExitFailure : 0;
}

}  // namespace

void add_verify_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("verify", "Check shards completely: structure, offsets and every token id");
  auto args = std::make_shared<Args>();
  cmd->add_option("paths", args->paths, "Shards: mmap PREFIX (or PREFIX.bin/.idx), kiln .h5, Cerebras .h5")->required();
  cmd->add_option("--vocab-size", args->vocab_size, "Every token id must be below this (or give --tokenizer)");
  args->tokenizer.add_to(cmd, false, "Tokenizer whose vocabulary size the ids must fit");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace kiln::data_tools
