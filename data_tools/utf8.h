// UTF-8 validation for text read from corpora.
//
// Tokenizers reject invalid UTF-8 (Tokenizer::encode throws), so the readers check every
// document first and can then name the file and line of a bad byte instead of failing deep
// inside a worker thread. "Valid" is RFC 3629: no overlong forms, no surrogates (U+D800–DFFF),
// nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace kiln::data_tools {

// The byte offset of the first byte that does not start or continue a valid sequence, or
// nullopt when all of `text` is valid. A sequence cut short by the end of `text` is invalid at
// its first byte.
std::optional<size_t> first_invalid_utf8(std::string_view text);

}  // namespace kiln::data_tools
