// The vocabulary of the sample-corpus generator: hand-written English word lists (a few thousand
// forms with the inflections sample_corpus.cpp derives), names from several languages and
// scripts, and a few phrases in other scripts. Lists only; the grammar is in sample_corpus.cpp.
#pragma once

#include <string_view>
#include <vector>

namespace kiln::data_tools::sample_words {

struct Verb {
  std::string_view base, past;
};

struct Lists {
  std::vector<std::string_view> nouns;       // countable, regular plural by spelling rules
  std::vector<std::string_view> adjectives;
  std::vector<Verb> verbs;                   // transitive: "X <past> the Y"
  std::vector<std::string_view> adverbs;
  std::vector<std::string_view> animals, foods, professions, colors, materials, fields, instruments,
      weather, emotions, places;             // generic places: "the market", "the harbour"
  std::vector<std::string_view> female_names, male_names, last_names;
  std::vector<std::string_view> syllables;   // for invented place names
  // A few people whose names are also written in their own script.
  struct NativeName {
    std::string_view latin, native;
    bool she;
  };
  std::vector<NativeName> native_names;
  // {language, "hello" in it, "thank you" in it}.
  struct Greeting {
    std::string_view language, hello, thanks;
  };
  std::vector<Greeting> greetings;
};

const Lists& lists();

}  // namespace kiln::data_tools::sample_words
