// UTF-8 helpers for the tokenizers: validation with the failing byte offset, decoding one code
// point, and the Unicode White_Space set that the reference regex engines mean by \s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::tokenizer {

// Throws std::invalid_argument("invalid UTF-8 at byte N ...") for the first byte that does not
// start a well-formed sequence (overlong forms, surrogates and code points above U+10FFFF are
// ill-formed, as in Rust's str, which both reference libraries require).
void check_utf8(std::string_view text);
// The offset of the first ill-formed byte, or npos when `text` is valid.
size_t find_invalid_utf8(std::string_view text);

// Decodes the code point starting at text[i] of valid UTF-8 and advances i past it.
char32_t next_code_point(std::string_view text, size_t& i);
// Decodes the code point ending just before text[i] of valid UTF-8 and moves i back to its start.
char32_t previous_code_point(std::string_view text, size_t& i);

void append_utf8(std::string& out, char32_t cp);

// Unicode White_Space: what Rust's char::is_whitespace, the `regex` crate's \s and Oniguruma's
// \s all mean (PCRE2's \s with UCP adds U+180E, so patterns spell the set out; see regex.cpp).
bool is_white_space(char32_t cp);

}  // namespace kiln::tokenizer
