// Strict standard base64 (RFC 4648 alphabet, '=' padding), as tiktoken rank files use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln::tokenizer {

// nullopt for anything that is not canonical base64: a character outside the alphabet, a length
// that is not a multiple of 4, misplaced padding, or non-zero bits after the last byte.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace kiln::tokenizer
