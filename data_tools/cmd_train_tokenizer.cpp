// kiln-data train-tokenizer: learns a byte-level BPE tokenizer (BpeTrainer) from the same inputs
// tokenize reads, and writes a Hugging Face tokenizer.json atomically.
//
// Counting words is spread over --threads workers through the ordered pipeline (BpeTrainer::
// add_text is thread-safe and order-independent); learning the merges is BpeTrainer's own work.
// The written file is loaded back with Tokenizer::load before the command reports success, so a
// file it reports as written is one kiln can use.
#include <fmt/core.h>

#include "common.h"
#include "ordered_pipeline.h"
#include "progress.h"
#include "tokenizer/bpe_trainer.h"
#include "util/atomic_file.h"

namespace kiln::data_tools {

namespace {

struct Args {
  TextInputArgs input;
  int64_t vocab_size = 4096;
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  int64_t min_frequency = 2;
  std::string output = "tokenizer.json";
  int threads = 0;
  bool no_progress = false;
};

int run(const Args& args) {
  const TextInputOptions input_options = args.input.options();
  TextInput input(args.input.paths(), input_options);
  BpeTrainerOptions options;
  options.vocab_size = args.vocab_size;
  options.special_tokens = args.special_tokens;
  options.min_frequency = args.min_frequency;
  std::unique_ptr<BpeTrainer> trainer;
  try {
    trainer = std::make_unique<BpeTrainer>(options);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }

  ProgressDisplay progress = ProgressDisplay::for_stderr(!args.no_progress);
  ProgressSnapshot snap;
  snap.total_bytes = input.total_bytes();
  run_ordered_pipeline(
      {.threads = resolve_threads(args.threads)},
      [&](TextBatch& batch) {
        InputDocument doc;
        while (batch.text_bytes < (uint64_t{1} << 20) && batch.texts.size() < 2048 && input.next(doc)) {
          batch.text_bytes += doc.text.size();
          batch.texts.push_back(std::move(doc.text));
        }
        batch.input_bytes = input.bytes_consumed();
        return !batch.texts.empty();
      },
      [&](std::string_view text, std::vector<int32_t>&) { trainer->add_text(text); },
      [&](TokenBatch&& batch) {
        snap.documents += batch.documents();
        snap.bytes = batch.input_bytes;
        snap.seconds = progress.elapsed();
        progress.update(snap);
      });
  snap.bytes = input.total_bytes();
  snap.seconds = progress.elapsed();
  progress.finish(snap);
  if (input.bad_lines().count > 0) fmt::print(stderr, "kiln-data: warning: {}\n", input.bad_lines().summary());
  if (snap.documents == 0) throw InputError("no documents in the input: nothing to learn a tokenizer from");

  if (!args.no_progress) fmt::print(stderr, "learning merges...\n");
  const std::string json = trainer->to_json();
  const std::filesystem::path out(args.output);
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  write_file_atomic(out, json);
  const auto check = Tokenizer::load(out);  // refuses to report success for a file kiln cannot load
  fmt::print("train-tokenizer: {} documents, {}, {} bad lines skipped, {:.1f} s -> {} (vocab {})\n",
             format_thousands(snap.documents), format_megabytes(snap.bytes), format_thousands(input.bad_lines().count),
             progress.elapsed(), out.string(), format_thousands(static_cast<uint64_t>(check->vocab_size())));
  return 0;
}

}  // namespace

void add_train_tokenizer_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train-tokenizer", "Learn a byte-level BPE tokenizer (tokenizer.json) from text");
  auto args = std::make_shared<Args>();
  args->input.add_to(cmd);
  cmd->add_option("--vocab-size", args->vocab_size, "Vocabulary size: 256 bytes + merges + special tokens")
      ->capture_default_str();
  cmd->add_option("--special-token", args->special_tokens, "Special token (repeatable; any given replace the default)")
      ->capture_default_str();
  cmd->add_option("--min-frequency", args->min_frequency, "Pairs seen fewer times are never merged")
      ->capture_default_str();
  cmd->add_option("--output", args->output, "tokenizer.json to write (atomically)")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Counting threads (0: one per core); the result is the same for any value")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--no-progress", args->no_progress, "No progress line on stderr");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace kiln::data_tools
