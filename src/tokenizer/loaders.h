// The two file formats Tokenizer::load understands; each checks its file and throws
// TokenizerError naming `file` and what is wrong.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& file, std::string_view contents);
std::unique_ptr<Tokenizer> load_tiktoken(const std::string& file, std::string_view contents,
                                         const TokenizerOptions& options);

}  // namespace kiln::tokenizer
