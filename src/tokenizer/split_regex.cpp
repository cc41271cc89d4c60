#include "tokenizer/split_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace kiln::tokenizer {
namespace {

// Unicode White_Space, written for the inside of a PCRE2 character class.
constexpr std::string_view kWhiteSpace =
    R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// Letters and numbers of Unicode 15.0–16.0, which the references know (Oniguruma in `tokenizers`
// 0.23 and the `regex` crate in tiktoken 0.14 agree on every code point) and PCRE2 10.42, built on
// Unicode 14, does not: \p{L} and \p{N} are widened by them. Nothing that PCRE2 calls a letter or
// number is outside the references' sets, so widening is the whole fix; a newer PCRE2 already has
// them, and repeating them in a class is harmless. internals_test checks every code point.
constexpr std::string_view kLettersAfterUnicode14 =
    R"(\x{1C89}-\x{1C8A}\x{A7CB}-\x{A7CD}\x{A7DA}-\x{A7DC}\x{105C0}-\x{105F3}\x{10D4A}-\x{10D65})"
    R"(\x{10D6F}-\x{10D85}\x{10EC2}-\x{10EC4}\x{1123F}-\x{11240}\x{11380}-\x{11389}\x{1138B}\x{1138E})"
    R"(\x{11390}-\x{113B5}\x{113B7}\x{113D1}\x{113D3}\x{11BC0}-\x{11BE0}\x{11F02}\x{11F04}-\x{11F10})"
    R"(\x{11F12}-\x{11F33}\x{1342F}\x{13441}-\x{13446}\x{13460}-\x{143FA}\x{16100}-\x{1611D})"
    R"(\x{16D40}-\x{16D6C}\x{18CFF}\x{1B132}\x{1B155}\x{1DF25}-\x{1DF2A}\x{1E030}-\x{1E06D})"
    R"(\x{1E4D0}-\x{1E4EB}\x{1E5D0}-\x{1E5ED}\x{1E5F0}\x{2B739}\x{2EBF0}-\x{2EE5D}\x{31350}-\x{323AF})";
constexpr std::string_view kNumbersAfterUnicode14 =
    R"(\x{10D40}-\x{10D49}\x{116D0}-\x{116E3}\x{11BF0}-\x{11BF9}\x{11F50}-\x{11F59}\x{16130}-\x{16139})"
    R"(\x{16D70}-\x{16D79}\x{1CCF0}-\x{1CCF9}\x{1D2C0}-\x{1D2D3}\x{1E4F0}-\x{1E4F9}\x{1E5F1}-\x{1E5FA})";

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

}  // namespace

class SplitRegex::Matcher {
 public:
  explicit Matcher(pcre2_code* code)
      : data_(pcre2_match_data_create_from_pattern(code, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        // Long whitespace runs make \s+(?!\S) backtrack; 32 KiB (PCRE2's default) is not enough
        // for megabyte-long runs, so give the JIT room to grow.
        stack_(pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr)) {
    if (!data_ || !context_ || !stack_) throw std::bad_alloc();
    pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ~Matcher() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
  }
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  pcre2_match_data* data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* stack_;
};

std::string SplitRegex::spell_out_classes(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      ++i;
      if (n == 'p' && (p.substr(i + 1).starts_with("{L}") || p.substr(i + 1).starts_with("{N}"))) {
        const bool letters = p[i + 2] == 'L';
        if (!in_class) out += '[';
        out += letters ? "\\p{L}" : "\\p{N}";
        out += letters ? kLettersAfterUnicode14 : kNumbersAfterUnicode14;
        if (!in_class) out += ']';
        i += 3;
      } else if (n == 's') {
        if (in_class) {
          out += kWhiteSpace;
        } else {
          out += '[';
          out += kWhiteSpace;
          out += ']';
        }
      } else if (n == 'S' && !in_class) {
        out += "[^";
        out += kWhiteSpace;
        out += ']';
      } else if (n == 'Q') {  // \Q...\E quotes: copy verbatim
        const size_t end = p.find("\\E", i + 1);
        const size_t stop = end == std::string_view::npos ? p.size() : end + 2;
        out += p.substr(i - 1, stop - (i - 1));
        i = stop - 1;
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    out += c;
  }
  return out;
}

SplitRegex::SplitRegex(std::string pattern, Anchors anchors) : pattern_(std::move(pattern)) {
  const std::string compiled = spell_out_classes(pattern_);
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  options |= anchors == Anchors::kLine ? PCRE2_MULTILINE : PCRE2_DOLLAR_ENDONLY;
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &err,
                                   &err_offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw std::invalid_argument("bad regular expression /" + pattern_ + "/: " + reinterpret_cast<char*>(msg) +
                                " (at offset " + std::to_string(err_offset) + " of the compiled form /" +
                                compiled + "/)");
  }
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

SplitRegex::~SplitRegex() { pcre2_code_free(as_code(code_)); }

SplitRegex::MatcherPtr SplitRegex::new_matcher() const { return MatcherPtr(new Matcher(as_code(code_))); }

void SplitRegex::MatcherDeleter::operator()(Matcher* m) const { delete m; }

bool SplitRegex::find(Matcher& m, std::string_view text, size_t start, size_t& begin, size_t& end) const {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const int rc = jit_ ? pcre2_jit_match(as_code(code_), subject, text.size(), start, 0, m.data_, m.context_)
                      : pcre2_match(as_code(code_), subject, text.size(), start, PCRE2_NO_UTF_CHECK, m.data_,
                                    m.context_);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    throw std::runtime_error("splitting text with /" + pattern_ + "/ failed at byte " + std::to_string(start) +
                             ": " + reinterpret_cast<char*>(msg));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.data_);
  begin = ov[0];
  end = ov[1];
  return true;
}

}  // namespace kiln::tokenizer
