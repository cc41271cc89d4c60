#include "tokenizer/tokenizer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tokenizer/loaders.h"

namespace kiln {

std::unique_ptr<Tokenizer> Tokenizer::load(const std::filesystem::path& path, const TokenizerOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError("cannot read tokenizer " + path.string() + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string contents = buffer.str();
  // By content, not by name: a tokenizer.json is a JSON object, a rank file starts with base64.
  size_t i = contents.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (i < contents.size() && (contents[i] == ' ' || contents[i] == '\n' || contents[i] == '\r' || contents[i] == '\t')) ++i;
  if (i < contents.size() && contents[i] == '{') return tokenizer::load_hf_tokenizer_json(path.string(), contents);
  return tokenizer::load_tiktoken(path.string(), contents, options);
}

}  // namespace kiln
