#include "common.h"

#include <thread>

#include <fmt/core.h>

#include "data/formats/document_store.h"

namespace kiln::data_tools {

void run_guarded(int& exit_code, const std::function<int()>& body) {
  try {
    exit_code = body();
  } catch (const InputError& e) {
    fmt::print(stderr, "kiln-data: error: {}\n", e.what());
    exit_code = kExitBadInput;
  } catch (const TokenizerError& e) {
    fmt::print(stderr, "kiln-data: error: {}\n", e.what());
    exit_code = kExitBadInput;
  } catch (const DataFormatError& e) {
    fmt::print(stderr, "kiln-data: error: {}\n", e.what());
    exit_code = kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "kiln-data: error: {}\n", e.what());
    exit_code = kExitFailure;
  }
}

std::pair<std::string, int32_t> parse_special_token(const std::string& spec) {
  const auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw InputError("--special-token '" + spec + "': expected TEXT=ID, e.g. <|endoftext|>=100257");
  const std::string id_text = spec.substr(eq + 1);
  size_t used = 0;
  long long id = -1;
  try {
    id = std::stoll(id_text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != id_text.size() || id < 0 || id > INT32_MAX)
    throw InputError("--special-token '" + spec + "': the id '" + id_text + "' is not a non-negative 32-bit integer");
  return {spec.substr(0, eq), static_cast<int32_t>(id)};
}

void TokenizerArgs::add_to(CLI::App* cmd, bool required, const std::string& what) {
  auto* opt = cmd->add_option("--tokenizer", path, what + " (tokenizer.json or a .tiktoken rank file)");
  if (required) opt->required();
  cmd->add_option("--tiktoken-pattern", tiktoken_pattern,
                  "Split pattern of a tiktoken rank file: a preset (cl100k, gpt2) or a regular expression")
      ->capture_default_str();
  cmd->add_option("--special-token", special_tokens, "Special token of a tiktoken rank file (repeatable)")
      ->type_name("TEXT=ID");
}

std::unique_ptr<Tokenizer> TokenizerArgs::load() const {
  if (path.empty()) return nullptr;
  if (!std::filesystem::exists(path)) throw InputError("--tokenizer " + path + ": no such file");
  TokenizerOptions options;
  options.tiktoken_pattern = tiktoken_pattern;
  for (const auto& s : special_tokens) options.tiktoken_special_tokens.push_back(parse_special_token(s));
  return Tokenizer::load(path, options);
}

int64_t resolve_vocab_size(std::optional<int64_t> vocab_size, const Tokenizer* tokenizer, const std::string& command) {
  if (vocab_size) {
    if (*vocab_size < 1) throw InputError("--vocab-size must be at least 1, got " + std::to_string(*vocab_size));
    return *vocab_size;
  }
  if (tokenizer) return tokenizer->vocab_size();
  throw InputError(command + " needs the vocabulary size: give --vocab-size V or --tokenizer PATH");
}

void TextInputArgs::add_to(CLI::App* cmd) {
  cmd->add_option("inputs", files, "Input files: JSONL (one JSON object per line) or plain text")->required();
  cmd->add_option("--input-format", input_format, "How to read the inputs: by extension and content (auto), jsonl, text")
      ->check(CLI::IsMember({"auto", "jsonl", "text"}))
      ->capture_default_str();
  cmd->add_option("--text-key", text_key, "JSONL key holding the document text")->capture_default_str();
  cmd->add_option("--text-split", text_split,
                  "Documents of a text file: the whole file, paragraphs (blank-line) or single lines")
      ->check(CLI::IsMember({"file", "blank-line", "line"}))
      ->capture_default_str();
  cmd->add_option("--on-bad-line", on_bad_line,
                  "A malformed JSONL line (bad JSON or UTF-8, missing or non-string key): stop with its "
                  "file:line, or skip it and report the count at the end")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
}

TextInputOptions TextInputArgs::options() const {
  TextInputOptions o;
  o.format = parse_input_format(input_format);
  o.text_key = text_key;
  o.split = parse_text_split(text_split);
  o.on_bad_line = parse_bad_line_policy(on_bad_line);
  return o;
}

std::vector<std::filesystem::path> TextInputArgs::paths() const { return {files.begin(), files.end()}; }

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace kiln::data_tools

namespace kiln::data_tools {

ShardFormat parse_shard_format(const std::string& name) {
  if (name == "mmap") return ShardFormat::mmap;
  if (name == "hdf5") return ShardFormat::hdf5;
  throw InputError("unknown shard format '" + name + "'; expected mmap or hdf5");
}

std::filesystem::path prepare_output(const std::string& output, ShardFormat format) {
  std::filesystem::path p(output);
  const std::string ext = p.extension().string();
  if (format == ShardFormat::mmap && (ext == ".bin" || ext == ".idx")) p.replace_extension();
  if (format == ShardFormat::hdf5 && ext != ".h5" && ext != ".hdf5") p += ".h5";
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  return p;
}

std::string written_files(const std::filesystem::path& path, ShardFormat format) {
  if (format == ShardFormat::mmap) return path.string() + ".bin, " + path.string() + ".idx";
  return path.string();
}

}  // namespace kiln::data_tools
