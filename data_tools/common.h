// Pieces shared by the kiln-data subcommands: exit codes, how failures become messages, and the
// options several subcommands take (the tokenizer, the vocabulary, the text inputs).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/formats/document_store.h"
#include "text_input.h"
#include "tokenizer/tokenizer.h"

namespace kiln::data_tools {

// Exit codes, as for kiln: 0 success, 1 runtime failure (including verify finding problems),
// 2 bad command line or bad input (a malformed line, a missing or unreadable file, a corrupt shard).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Runs a subcommand body; exceptions become "kiln-data: error: …" on stderr and the exit code.
void run_guarded(int& exit_code, const std::function<int()>& body);

// "TEXT=ID" → {TEXT, ID}; the last '=' splits, so TEXT may contain '='. InputError otherwise.
std::pair<std::string, int32_t> parse_special_token(const std::string& spec);

// --tokenizer, --tiktoken-pattern and --special-token TEXT=ID (for tiktoken rank files).
struct TokenizerArgs {
  std::string path;
  std::string tiktoken_pattern = "cl100k";
  std::vector<std::string> special_tokens;
  void add_to(CLI::App* cmd, bool required, const std::string& what);
  // nullptr when no --tokenizer was given. InputError naming the file when it cannot be loaded.
  std::unique_ptr<Tokenizer> load() const;
};

// The vocabulary size from --vocab-size, else from the tokenizer; InputError when neither.
int64_t resolve_vocab_size(std::optional<int64_t> vocab_size, const Tokenizer* tokenizer, const std::string& command);

// --input-format, --text-key, --text-split, --on-bad-line, and the input files.
struct TextInputArgs {
  std::vector<std::string> files;
  std::string input_format = "auto";
  std::string text_key = "text";
  std::string text_split = "file";
  std::string on_bad_line = "stop";
  void add_to(CLI::App* cmd);
  TextInputOptions options() const;  // InputError for an unknown value
  std::vector<std::filesystem::path> paths() const;
};

// 0 → the number of hardware threads (at least 1).
int resolve_threads(int threads);

// Subcommand registration, one per file. Parsing stores the body in `action`; main runs it.
using Action = std::function<int()>;
void add_tokenize_command(CLI::App& app, Action& action);
void add_train_tokenizer_command(CLI::App& app, Action& action);
void add_inspect_command(CLI::App& app, Action& action);
void add_convert_command(CLI::App& app, Action& action);
void add_verify_command(CLI::App& app, Action& action);
void add_sample_corpus_command(CLI::App& app, Action& action);

}  // namespace kiln::data_tools

namespace kiln::data_tools {

// "mmap" / "hdf5" → ShardFormat; InputError otherwise.
ShardFormat parse_shard_format(const std::string& name);
// Where a writer for --output OUT goes: OUT itself for mmap (the prefix; a trailing .bin or .idx
// is dropped), OUT.h5 for hdf5 unless OUT already ends in .h5 or .hdf5. Creates missing parent
// directories.
std::filesystem::path prepare_output(const std::string& output, ShardFormat format);
// The files a finished writer produced, for messages: "P.bin, P.idx" or "P.h5".
std::string written_files(const std::filesystem::path& path, ShardFormat format);

}  // namespace kiln::data_tools
