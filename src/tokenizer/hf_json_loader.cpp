// Hugging Face tokenizer.json → ByteBpeSpec. Only what changes the ids of byte-level BPE is
// accepted; everything else is refused by its JSON key so that a tokenizer is never silently
// encoded differently from the reference (post_processor is ignored on purpose: encode() has
// add_special_tokens=False semantics).
#include <nlohmann/json.hpp>

#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/loaders.h"

namespace kiln::tokenizer {
namespace {

using nlohmann::json;

class Loader {
 public:
  Loader(std::string file, ByteBpeSpec& spec) : file_(std::move(file)), spec_(spec) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw TokenizerError(file_ + ": " + where + ": " + what);
  }

  const json& member(const json& obj, const std::string& where, const char* key) const {
    if (!obj.is_object() || !obj.contains(key)) fail(where, std::string("missing \"") + key + "\"");
    return obj.at(key);
  }
  bool flag(const json& obj, const std::string& where, const char* key, bool fallback) const {
    if (!obj.contains(key) || obj.at(key).is_null()) return fallback;
    if (!obj.at(key).is_boolean()) fail(where + "." + key, "expected true or false, got " + obj.at(key).dump());
    return obj.at(key).get<bool>();
  }
  std::string text(const json& value, const std::string& where) const {
    if (!value.is_string()) fail(where, "expected a string, got " + value.dump());
    return value.get<std::string>();
  }
  std::string type_of(const json& obj, const std::string& where) const {
    return text(member(obj, where, "type"), where + ".type");
  }

  void normalizer(const json& n) {
    if (n.is_null()) return;
    const std::string type = type_of(n, "normalizer");
    if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array() && n["normalizers"].empty()) return;
    fail("normalizer", "type \"" + type + "\" is not supported (kiln encodes the text as is; only null is accepted)");
  }

  void pre_tokenizer(const json& p, const std::string& where) {
    if (p.is_null()) fail(where, "null is not supported: byte-level BPE needs a ByteLevel pre-tokenizer");
    const std::string type = type_of(p, where);
    if (type == "Sequence") {
      const json& steps = member(p, where, "pretokenizers");
      if (!steps.is_array()) fail(where + ".pretokenizers", "expected a list");
      for (size_t i = 0; i < steps.size(); ++i) pre_tokenizer(steps[i], where + ".pretokenizers[" + std::to_string(i) + "]");
    } else if (type == "ByteLevel") {
      if (have_byte_level_) fail(where, "a second ByteLevel is not supported");
      have_byte_level_ = true;
      spec_.add_prefix_space = flag(p, where, "add_prefix_space", true);
      spec_.prefix_space_level = spec_.splits.size();
      if (flag(p, where, "use_regex", true)) add_split(std::string(kGpt2Pattern), where);
    } else if (type == "Split") {
      // After ByteLevel the text would be the mapped characters, not the original ones.
      if (have_byte_level_) fail(where, "a Split after the ByteLevel pre-tokenizer is not supported");
      const json& pattern = member(p, where, "pattern");
      std::string regex;
      if (pattern.is_object() && pattern.contains("Regex")) {
        regex = text(pattern["Regex"], where + ".pattern.Regex");
      } else if (pattern.is_object() && pattern.contains("String")) {
        regex = "\\Q" + text(pattern["String"], where + ".pattern.String") + "\\E";
      } else {
        fail(where + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}, got " + pattern.dump());
      }
      const std::string behavior = text(member(p, where, "behavior"), where + ".behavior");
      if (behavior != "Isolated") fail(where + ".behavior", "\"" + behavior + "\" is not supported (only \"Isolated\")");
      if (flag(p, where, "invert", false)) fail(where + ".invert", "true is not supported");
      add_split(regex, where);
    } else {
      fail(where, "type \"" + type + "\" is not supported (ByteLevel, Split or a Sequence of them)");
    }
  }

  void add_split(const std::string& regex, const std::string& where) {
    try {
      spec_.splits.push_back(std::make_unique<SplitRegex>(regex, Anchors::kLine));
    } catch (const std::invalid_argument& e) {
      fail(where + ".pattern", e.what());
    }
  }

  void decoder(const json& d) {
    if (d.is_null()) return;
    const std::string type = type_of(d, "decoder");
    if (type != "ByteLevel") fail("decoder", "type \"" + type + "\" is not supported (only ByteLevel)");
  }

  void model(const json& m) {
    if (!m.is_object()) fail("model", "expected an object");
    // Old files have no "type"; Hugging Face then recognises BPE by its fields.
    const std::string type = m.contains("type") ? text(m["type"], "model.type") : "BPE";
    if (type != "BPE") fail("model.type", "\"" + type + "\" is not supported (only byte-level \"BPE\")");
    if (m.contains("dropout") && !m["dropout"].is_null() && !(m["dropout"].is_number() && m["dropout"].get<double>() == 0.0))
      fail("model.dropout", m["dropout"].dump() + " is not supported (BPE dropout makes encoding random)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (m.contains(key) && !m[key].is_null() && !(m[key].is_string() && m[key].get<std::string>().empty()))
        fail(std::string("model.") + key, m[key].dump() + " is not supported (byte-level BPE has none)");
    }
    spec_.model.whole_word_first = flag(m, "model", "ignore_merges", false);

    const json& vocab = member(m, "model", "vocab");
    if (!vocab.is_object()) fail("model.vocab", "expected an object of token → id");
    std::unordered_map<std::string, int32_t> ids;
    ids.reserve(vocab.size() * 2);
    for (const auto& [name, value] : vocab.items()) {
      if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX)
        fail("model.vocab[\"" + name + "\"]", "expected a non-negative 32-bit id, got " + value.dump());
      const auto id = static_cast<int32_t>(value.get<int64_t>());
      ids.emplace(name, id);
      // Hugging Face's ByteLevel decoder falls back to the raw text for a token holding a
      // character outside the byte alphabet; so does kiln.
      auto bytes = byte_level_decode(name);
      set_piece(id, bytes ? *bytes : name);
      if (bytes && spec_.model.whole_word_first) spec_.model.tokens.insert(*bytes, id);
    }
    for (int b = 0; b < 256; ++b) {
      const std::string name = byte_level_encode(std::string(1, static_cast<char>(b)));
      auto it = ids.find(name);
      if (it == ids.end()) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", b);
        fail("model.vocab", std::string("no token for byte ") + hex + " (\"" + name +
                                "\"); kiln needs all 256 byte tokens");
      }
      spec_.model.byte_ids[static_cast<size_t>(b)] = it->second;
    }

    const json& merges = member(m, "model", "merges");
    if (!merges.is_array()) fail("model.merges", "expected a list");
    spec_.model.pairs.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& entry = merges[rank];
      const std::string where = "model.merges[" + std::to_string(rank) + "]";
      std::string left, right;
      if (entry.is_string()) {
        const std::string s = entry.get<std::string>();
        const size_t space = s.find(' ');
        if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
          fail(where, "expected \"left right\", got " + entry.dump());
        left = s.substr(0, space);
        right = s.substr(space + 1);
      } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
        left = entry[0].get<std::string>();
        right = entry[1].get<std::string>();
      } else {
        fail(where, "expected \"left right\" or [left, right], got " + entry.dump());
      }
      auto find = [&](const std::string& name) {
        auto it = ids.find(name);
        if (it == ids.end()) fail(where, "\"" + name + "\" is not in model.vocab");
        return it->second;
      };
      const int32_t l = find(left), r = find(right), merged = find(left + right);
      // A repeated pair takes its last rank, as Hugging Face's map does.
      spec_.model.pairs.assign(l, r, MergeRule{static_cast<int32_t>(rank), merged});
    }
    spec_.names = std::move(ids);
  }

  void added_tokens(const json& list) {
    if (list.is_null()) return;
    if (!list.is_array()) fail("added_tokens", "expected a list");
    std::vector<AddedToken> raw, normalized;
    for (size_t i = 0; i < list.size(); ++i) {
      const json& t = list[i];
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      AddedToken tok;
      tok.content = text(member(t, where, "content"), where + ".content");
      const json& id = member(t, where, "id");
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        fail(where + ".id", "expected a non-negative 32-bit id, got " + id.dump());
      tok.id = static_cast<int32_t>(id.get<int64_t>());
      tok.special = flag(t, where, "special", false);
      tok.lstrip = flag(t, where, "lstrip", false);
      tok.rstrip = flag(t, where, "rstrip", false);
      if (flag(t, where, "single_word", false))
        fail(where + ".single_word", "true is not supported (token \"" + tok.content + "\")");
      if (tok.content.empty()) fail(where + ".content", "an empty added token is not supported");
      set_piece(tok.id, tok.content);
      spec_.names[tok.content] = tok.id;
      (flag(t, where, "normalized", !tok.special) ? normalized : raw).push_back(std::move(tok));
    }
    // Hugging Face cuts out the non-normalized tokens first, then the normalized ones.
    if (!raw.empty()) spec_.added_phases.emplace_back(std::move(raw));
    if (!normalized.empty()) spec_.added_phases.emplace_back(std::move(normalized));
  }

  void set_piece(int32_t id, std::string bytes) {
    const auto i = static_cast<size_t>(id);
    if (i >= spec_.pieces.size()) {
      spec_.pieces.resize(i + 1);
      spec_.present.resize(i + 1, 0);
    }
    spec_.pieces[i] = std::move(bytes);
    spec_.present[i] = 1;
  }

  bool have_byte_level() const { return have_byte_level_; }

 private:
  std::string file_;
  ByteBpeSpec& spec_;
  bool have_byte_level_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::string& file, std::string_view contents) {
  json doc;
  try {
    doc = json::parse(contents);
  } catch (const json::parse_error& e) {
    throw TokenizerError(file + ": malformed JSON: " + e.what());
  }
  ByteBpeSpec spec;
  spec.kind = "tokenizer.json";
  spec.file = file;
  spec.keep_gaps = true;
  spec.match_non_special_always = true;
  Loader loader(file, spec);
  if (!doc.is_object()) loader.fail("top level", "expected a JSON object");
  for (const char* key : {"truncation", "padding"})
    if (doc.contains(key) && !doc[key].is_null())
      loader.fail(key, "must be null (kiln's encode() neither truncates nor pads)");
  loader.model(loader.member(doc, "top level", "model"));
  loader.normalizer(doc.value("normalizer", json()));
  loader.pre_tokenizer(doc.value("pre_tokenizer", json()), "pre_tokenizer");
  if (!loader.have_byte_level())
    loader.fail("pre_tokenizer", "has no ByteLevel step; kiln supports byte-level BPE only");
  loader.decoder(doc.value("decoder", json()));
  loader.added_tokens(doc.value("added_tokens", json()));
  return std::make_unique<ByteBpeTokenizer>(std::move(spec));
}

}  // namespace kiln::tokenizer
