// GPT-2's byte ↔ character mapping: byte-level BPE vocabularies write each byte as one printable
// character (the 188 printable Latin-1 bytes as themselves, the other 68 as U+0100…U+0143 in
// byte order), so that tokens are readable strings with no spaces or control characters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::tokenizer {

// The character that stands for byte b.
char32_t byte_to_char(uint8_t b);
// The byte that character cp stands for, or nullopt when cp is not one of the 256.
std::optional<uint8_t> char_to_byte(char32_t cp);

// "Ġthe" → " the". nullopt when the text holds a character outside the mapping (such vocabulary
// entries are not byte-level tokens; callers decide what they mean).
std::optional<std::string> byte_level_decode(std::string_view mapped);
// " the" → "Ġthe".
std::string byte_level_encode(std::string_view bytes);

}  // namespace kiln::tokenizer
