#include "sample_corpus.h"

#include <algorithm>
#include <array>
#include <set>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "sample_words.h"
#include "splitmix64.h"

namespace kiln::data_tools {

namespace {

using sample_words::lists;

// fmt::format with its arguments evaluated left to right. The generator draws random numbers in
// argument lists, and C++ leaves the order of function arguments (and of the operands of +)
// unspecified: GCC and Clang differ, which would make a seed's corpus depend on the compiler.
// A braced initializer is evaluated in order ([dcl.init.list]), constructor call or not, so
// every formatted string here is built as F{"…", draw(), draw()}.s.
struct F {
  std::string s;
  template <class... A>
  F(fmt::format_string<A...> format, A&&... args) : s(fmt::format(format, std::forward<A>(args)...)) {}
};
using Words = std::vector<std::string_view>;

// ---- English morphology, just enough for the word lists -------------------------------------

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

std::string plural(std::string_view noun) {
  static const std::array<std::pair<std::string_view, std::string_view>, 16> kIrregular{{
      {"foot", "feet"}, {"tooth", "teeth"}, {"mouse", "mice"}, {"sheep", "sheep"}, {"fish", "fish"},
      {"deer", "deer"}, {"goose", "geese"}, {"person", "people"}, {"knife", "knives"}, {"leaf", "leaves"},
      {"shelf", "shelves"}, {"wolf", "wolves"}, {"potato", "potatoes"}, {"tomato", "tomatoes"},
      {"scissors", "scissors"}, {"salmon", "salmon"}}};
  for (const auto& [one, many] : kIrregular)
    if (noun == one) return std::string(many);
  std::string s(noun);
  if (ends_with(s, "s") || ends_with(s, "x") || ends_with(s, "z") || ends_with(s, "ch") || ends_with(s, "sh"))
    return s + "es";
  if (s.size() > 1 && s.back() == 'y' && !is_vowel(s[s.size() - 2])) return s.substr(0, s.size() - 1) + "ies";
  return s + "s";
}

std::string third_person(std::string_view verb) {
  std::string s(verb);
  if (ends_with(s, "s") || ends_with(s, "x") || ends_with(s, "z") || ends_with(s, "ch") || ends_with(s, "sh") ||
      ends_with(s, "o"))
    return s + "es";
  if (s.size() > 1 && s.back() == 'y' && !is_vowel(s[s.size() - 2])) return s.substr(0, s.size() - 1) + "ies";
  return s + "s";
}

// "a" or "an" by the first letter, with the usual exceptions of the lists.
std::string with_article(std::string_view phrase) {
  static const std::array<std::string_view, 5> kConsonantSound{"uni", "use", "usu", "eur", "one"};
  bool an = !phrase.empty() && is_vowel(static_cast<char>(std::tolower(static_cast<unsigned char>(phrase[0]))));
  for (auto p : kConsonantSound)
    if (phrase.substr(0, p.size()) == p) an = false;
  if (phrase.substr(0, 4) == "hour" || phrase.substr(0, 6) == "honest") an = true;
  return std::string(an ? "an " : "a ") + std::string(phrase);
}

std::string capitalize(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string number_word(int n) {
  static constexpr std::array<std::string_view, 20> kSmall{
      "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
      "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
  static constexpr std::array<std::string_view, 10> kTens{"", "", "twenty", "thirty", "forty",
                                                          "fifty", "sixty", "seventy", "eighty", "ninety"};
  if (n < 20) return std::string(kSmall[n]);
  if (n < 100) return std::string(kTens[n / 10]) + (n % 10 ? "-" + std::string(kSmall[n % 10]) : "");
  return std::to_string(n);
}

std::string join_list(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  if (items.size() == 1) return items[0];
  std::string s;
  for (size_t i = 0; i + 1 < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + " and " + items.back();
}

std::string thousands(uint64_t n) {
  std::string d = std::to_string(n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

// ---- dates -------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 12> kMonths{"January", "February", "March",     "April",   "May",      "June",
                                                   "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kWeekdays{"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                     "Thursday", "Friday", "Saturday"};

struct Date {
  int year = 2000, month = 1, day = 1;
};

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}
// 0 = Sunday (Sakamoto's method, proleptic Gregorian calendar).
int weekday(const Date& d) {
  static constexpr std::array<int, 12> t{0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  const int y = d.year - (d.month < 3 ? 1 : 0);
  return (y + y / 4 - y / 100 + y / 400 + t[d.month - 1] + d.day) % 7;
}
std::string long_date(const Date& d) { return F{"{} {} {}", d.day, kMonths[d.month - 1], d.year}.s; }
std::string iso_date(const Date& d) { return F{"{:04}-{:02}-{:02}", d.year, d.month, d.day}.s; }

// ---- the world ---------------------------------------------------------------------------------

struct Country {
  std::string name, adjective, capital, river, mountain, animal;
  std::vector<std::string> cities;  // cities[0] is the capital
  std::string export1, export2, color1, color2;
  uint64_t population = 0;
  int founded = 0, mountain_height = 0, river_length = 0;
};

struct Person {
  std::string first, last, native, profession, field, known_for, instrument, food;
  bool she = false;
  Date born;
  int country = 0;
  int city = 0;
  std::string name() const { return first + " " + last; }
  std::string he() const { return she ? "she" : "he"; }
  std::string his() const { return she ? "her" : "his"; }
};

}  // namespace

struct SampleCorpus::Impl {
  SplitMix64 rng;
  std::vector<Country> countries;
  std::vector<Person> people;

  explicit Impl(uint64_t seed) : rng(seed) { invent_world(); }

  // ---- drawing -------------------------------------------------------------------------------

  std::string_view pick(const Words& w) { return w[rng.below(static_cast<uint32_t>(w.size()))]; }
  int upto(int n) { return static_cast<int>(rng.below(static_cast<uint32_t>(n))); }  // [0, n)
  int between(int lo, int hi) { return static_cast<int>(rng.between(lo, hi)); }
  bool chance(uint32_t num, uint32_t den) { return rng.chance(num, den); }
  const Country& any_country() { return countries[upto(static_cast<int>(countries.size()))]; }
  const Person& any_person() { return people[upto(static_cast<int>(people.size()))]; }
  // Small counts with a long tail: mostly 1–4, sometimes up to `max`.
  int skewed(int max) {
    int n = 1 + upto(4);
    while (n < max && chance(1, 3)) n += 1 + upto(4);
    return std::min(n, max);
  }
  Date any_date(int from_year, int to_year) {
    Date d;
    d.year = between(from_year, to_year);
    d.month = between(1, 12);
    d.day = between(1, days_in_month(d.year, d.month));
    return d;
  }

  std::string invent_name(std::set<std::string>& used) {
    for (;;) {
      std::string s;
      const int n = 2 + (chance(1, 3) ? 1 : 0);
      for (int i = 0; i < n; ++i) s += pick(lists().syllables);
      if (chance(1, 4)) s += pick(Words{"a", "ia", "or", "en", "is", "um"});
      s = capitalize(s);
      if (s.size() >= 5 && used.insert(s).second) return s;
    }
  }

  void invent_world() {
    const auto& L = lists();
    std::set<std::string> used;
    for (int i = 0; i < 40; ++i) {
      Country c;
      c.name = invent_name(used);
      const char last = c.name.back();
      c.adjective = is_vowel(last) ? c.name + "n" : c.name + std::string(pick(Words{"ish", "ese", "ian"}));
      for (int k = 0, n = between(3, 6); k < n; ++k) c.cities.push_back(invent_name(used));
      c.capital = c.cities[0];
      c.river = invent_name(used);
      c.mountain = "Mount " + invent_name(used);
      c.animal = std::string(pick(L.animals));
      c.export1 = std::string(pick(L.materials));
      do c.export2 = std::string(pick(L.materials));
      while (c.export2 == c.export1);
      c.color1 = std::string(pick(L.colors));
      do c.color2 = std::string(pick(L.colors));
      while (c.color2 == c.color1);
      c.population = static_cast<uint64_t>(between(2, 900)) * 10000;
      c.population += static_cast<uint64_t>(upto(10)) * 1000;
      c.founded = between(800, 1950);
      c.mountain_height = between(400, 6500);
      c.river_length = between(40, 2900);
      countries.push_back(std::move(c));
    }
    std::set<std::string> names;
    for (const auto& n : L.native_names) {
      Person p = invent_person();
      const auto space = n.latin.find(' ');
      p.first = std::string(n.latin.substr(0, space));
      p.last = std::string(n.latin.substr(space + 1));
      p.native = std::string(n.native);
      p.she = n.she;
      names.insert(p.name());
      people.push_back(std::move(p));
    }
    while (people.size() < 160) {
      Person p = invent_person();
      if (names.insert(p.name()).second) people.push_back(std::move(p));
    }
  }

  Person invent_person() {
    const auto& L = lists();
    Person p;
    p.she = chance(1, 2);
    p.first = std::string(pick(p.she ? L.female_names : L.male_names));
    p.last = std::string(pick(L.last_names));
    p.profession = std::string(pick(L.professions));
    p.field = std::string(pick(L.fields));
    p.instrument = std::string(pick(L.instruments));
    p.food = std::string(pick(L.foods));
    p.born = any_date(1850, 2001);
    p.country = upto(static_cast<int>(countries.size()));
    p.city = upto(static_cast<int>(countries[p.country].cities.size()));
    switch (upto(4)) {
      case 0: p.known_for = F{"the theory of {} {}", pick(L.adjectives), plural(pick(L.nouns))}.s; break;
      case 1: p.known_for = F{"a book called \"The {} {}\"", capitalize(pick(L.adjectives)), capitalize(pick(L.nouns))}.s; break;
      case 2: p.known_for = F{"the discovery of the {} {}", pick(L.colors), pick(L.animals)}.s; break;
      default: p.known_for = F{"a new kind of {}", pick(L.nouns)}.s; break;
    }
    return p;
  }

  // ---- sentences -------------------------------------------------------------------------------

  // "first second", drawn in that order.
  std::string two_words(const Words& first, const Words& second) {
    std::string s(pick(first));
    s += ' ';
    s += pick(second);
    return s;
  }

  std::string noun_phrase() {
    const auto& L = lists();
    if (chance(1, 2)) return "the " + std::string(pick(L.nouns));
    return "the " + two_words(L.adjectives, L.nouns);
  }

  // One sentence of generic prose about the world.
  std::string filler() {
    const auto& L = lists();
    const auto& v = L.verbs[upto(static_cast<int>(L.verbs.size()))];
    const Country& c = any_country();
    const Person& p = any_person();
    switch (upto(14)) {
      case 0: return F{"{} {} {} near {}.", capitalize(noun_phrase()), v.past, noun_phrase(), noun_phrase()}.s;
      case 1: return F{"{} {} {} in {}.", p.first, v.past, with_article(two_words(L.adjectives, L.nouns)), c.capital}.s;
      case 2: return F{"Every {}, the {} of {} {} {} {}.", pick(Words{"morning", "evening", "week", "spring", "winter"}), plural(pick(L.professions)), c.cities.back(), v.base, plural(pick(L.nouns)), pick(L.adverbs)}.s;
      case 3: return F{"It is {} to {} {} when the weather is {}.", pick(L.adjectives), v.base, with_article(pick(L.nouns)), pick(L.weather)}.s;
      case 4: return F{"Because {} was {}, {} {} {} {}.", noun_phrase(), pick(L.adjectives), pick(Words{"she", "he", "they", "we"}), v.past, noun_phrase(), pick(L.adverbs)}.s;
      case 5: return F{"Most {} like {}, but some prefer {}.", plural(pick(L.animals)), plural(pick(L.foods)), plural(pick(L.foods))}.s;
      case 6: return F{"{} said that {} {} {}.", p.name(), noun_phrase(), v.past, pick(L.adverbs)}.s;
      case 7: return F{"There were {} {} in {}.", number_word(between(2, 30)), plural(pick(L.nouns)), noun_phrase()}.s;
      case 8: return F{"The {} of {} is known for its {} {}.", pick(L.places), c.capital, pick(L.adjectives), plural(pick(L.nouns))}.s;
      case 9: return F{"Why did {} {} {}?", noun_phrase(), v.base, noun_phrase()}.s;
      case 10: return F{"{} {} {} every day.", capitalize(with_article(std::string(pick(L.professions)))), third_person(v.base), with_article(pick(L.nouns))}.s;
      case 11: return F{"The capital of {} is {}.", c.name, c.capital}.s;
      case 12: return F{"{} was born in {}.", p.name(), countries[p.country].cities[p.city]}.s;
      default: return F{"In {}, the {} {} {} {}.", between(1700, 2023), plural(pick(L.professions)), v.past, with_article(two_words(L.colors, L.nouns)), pick(L.adverbs)}.s;
    }
  }

  std::string paragraph(int sentences) {
    std::string s;
    for (int i = 0; i < sentences; ++i) s += (i ? " " : "") + filler();
    return s;
  }

  // ---- document kinds ------------------------------------------------------------------------

  std::string prose() {
    std::string s;
    for (int i = 0, n = skewed(6); i < n; ++i) s += (i ? "\n\n" : "") + paragraph(between(2, 8));
    return s;
  }

  std::string country_article() {
    const Country& c = any_country();
    std::vector<std::string> others(c.cities.begin() + 1, c.cities.end());
    std::string s = c.name + "\n\n";
    s += F{"{} is a country with a population of about {}. Its capital and largest city is {}. "
                     "The people of {} are called {}, and the language they speak is also called {}.",
                     c.name, thousands(c.population), c.capital, c.name, c.adjective, c.adjective}.s;
    const int sections = skewed(5);
    std::array<int, 5> order{0, 1, 2, 3, 4};
    for (int i = 4; i > 0; --i) std::swap(order[i], order[upto(i + 1)]);
    for (int k = 0; k < sections; ++k) {
      switch (order[k]) {
        case 0:
          s += "\n\n== Geography ==\n\n";
          s += F{"The longest river in {} is the {}, which is {} kilometres long. The highest mountain is {}, at {} metres. ",
                           c.name, c.river, c.river_length, c.mountain, thousands(static_cast<uint64_t>(c.mountain_height))}.s;
          s += F{"Other cities in {} include {}.", c.name, join_list(others)}.s;
          break;
        case 1:
          s += "\n\n== History ==\n\n";
          s += F{"{} was founded in {}. ", c.name, c.founded}.s;
          for (int i = 0, n = between(1, 4); i < n; ++i) {
            const int year = between(c.founded + 1, 2023);
            s += F{"In {}, the people of {} built {} over the {}. ", year, c.cities[upto(static_cast<int>(c.cities.size()))],
                             with_article(std::string(pick(lists().adjectives)) + " bridge"), c.river}.s;
          }
          s += paragraph(between(1, 4));
          break;
        case 2:
          s += "\n\n== Economy ==\n\n";
          s += F{"{} exports {} and {}. ", c.name, c.export1, c.export2}.s;
          s += paragraph(between(1, 3));
          break;
        case 3:
          s += "\n\n== Symbols ==\n\n";
          s += F{"The flag of {} is {} and {}. The national animal of {} is the {}.", c.name, c.color1, c.color2,
                           c.name, c.animal}.s;
          break;
        default:
          s += "\n\n== Notable people ==\n\n";
          for (int i = 0, n = between(1, 4); i < n; ++i) {
            const Person& p = any_person();
            s += F{"{} ({}) is {} {}. ", p.name(), p.born.year, with_article(countries[p.country].adjective), p.profession}.s;
          }
          break;
      }
    }
    return s;
  }

  std::string biography() {
    const Person& p = any_person();
    const Country& c = countries[p.country];
    std::string s = F{"{} (born {} in {}, {}) is {} {}. {} is best known for {}.", p.name(), long_date(p.born),
                                c.cities[p.city], c.name, with_article(c.adjective), p.profession, capitalize(p.he()),
                                p.known_for}.s;
    if (!p.native.empty()) s += F{" In {} own script, {} name is written {}.", p.his(), p.his(), p.native}.s;
    if (chance(2, 3)) {
      s += F{"\n\n{} grew up in {} and studied {} in {}. ", p.first, c.cities[p.city], p.field, c.capital}.s;
      const int start = p.born.year + between(18, 30);
      s += F{"In {}, {} moved to {} to work as {}. ", start, p.he(), any_country().capital, with_article(p.profession)}.s;
      s += F{"{} plays the {} and {} favourite food is {}.", capitalize(p.he()), p.instrument, p.his(),
                       plural(p.food)}.s;
    }
    if (chance(1, 2)) s += "\n\n" + paragraph(between(1, 6));
    return s;
  }

  std::string arithmetic_question(std::string& answer) {
    const int a = between(1, 60), b = between(1, 40);
    switch (upto(4)) {
      case 0: answer = std::to_string(a + b); return F{"What is {} plus {}?", a, b}.s;
      case 1: answer = std::to_string(std::max(a, b) - std::min(a, b)); return F{"What is {} minus {}?", std::max(a, b), std::min(a, b)}.s;
      case 2: {
        const int x = between(2, 12), y = between(2, 12);
        answer = std::to_string(x * y);
        return F{"What is {} times {}?", x, y}.s;
      }
      default: {
        const int y = between(2, 9), q = between(2, 12);
        answer = std::to_string(q);
        return F{"What is {} divided by {}?", y * q, y}.s;
      }
    }
  }

  std::string questions() {
    std::string s = chance(1, 2) ? "Questions and answers\n\n" : "";
    for (int i = 0, n = skewed(12); i < n; ++i) {
      const Country& c = any_country();
      const Person& p = any_person();
      std::string q, a;
      switch (upto(7)) {
        case 0: q = F{"What is the capital of {}?", c.name}.s; a = F{"The capital of {} is {}.", c.name, c.capital}.s; break;
        case 1: q = F{"When was {} born?", p.name()}.s; a = F{"{} was born on {}.", p.name(), long_date(p.born)}.s; break;
        case 2: q = F{"What is the longest river in {}?", c.name}.s; a = F{"The {}.", c.river}.s; break;
        case 3: q = F{"What does {} export?", c.name}.s; a = F{"{} exports {} and {}.", c.name, c.export1, c.export2}.s; break;
        case 4: {
          const Date d = any_date(1900, 2030);
          q = F{"What day of the week was {}?", long_date(d)}.s;
          a = F{"It was a {}.", kWeekdays[weekday(d)]}.s;
          break;
        }
        case 5: q = F{"What is {} known for?", p.name()}.s; a = F{"{} is known for {}.", capitalize(p.he()), p.known_for}.s; break;
        default: q = arithmetic_question(a); break;
      }
      s += F{"{}Q: {}\nA: {}", i ? "\n\n" : "", q, a}.s;
    }
    return s;
  }

  std::string dialogue() {
    const auto& L = lists();
    const Person& a = any_person();
    const Person* b = &any_person();
    while (b == &a) b = &any_person();
    const std::string A = a.first + ":", B = b->first + ":";
    std::string s = F{"{} Hello, {}! How are you today?\n{} I am {}, thank you. And you?\n", A, b->first, B,
                                pick(L.emotions)}.s;
    for (int i = 0, n = skewed(8); i < n; ++i) {
      switch (upto(5)) {
        case 0: {
          const auto food = pick(L.foods);
          const int count = between(2, 9), price = between(1, 12);
          s += F{"{} How much are {} {}?\n{} Each one costs {} coins, so {} {} cost {} coins.\n", A,
                           number_word(count), plural(food), B, price, number_word(count), plural(food), count * price}.s;
          break;
        }
        case 1: {
          const Country& c = any_country();
          s += F{"{} I am travelling to {} next week.\n{} Oh, the capital of {}! Will you see the {}?\n", B,
                           c.capital, A, c.name, c.river}.s;
          break;
        }
        case 2:
          s += F{"{} What is the weather like?\n{} It is {} and {}.\n", A, B, pick(L.weather), pick(L.weather)}.s;
          break;
        case 3: {
          const Person& p = any_person();
          s += F{"{} Have you read about {}?\n{} Yes, the {} who is known for {}.\n", B, p.name(), A,
                           p.profession, p.known_for}.s;
          break;
        }
        default:
          s += F{"{} {}\n{} {}\n", A, filler(), B, filler()}.s;
          break;
      }
    }
    s += F{"{} Goodbye, {}!\n{} See you soon.", A, b->first, B}.s;
    return s;
  }

  std::string story() {
    const auto& L = lists();
    const Person& p = any_person();
    const Country& c = countries[p.country];
    const std::string town = c.cities[p.city];
    const auto thing = two_words(L.colors, L.nouns);
    std::string s = F{"Once upon a time, in the {} town of {}, there lived {} named {}.", pick(L.adjectives), town,
                                with_article(p.profession), p.first}.s;
    for (int i = 0, n = skewed(14); i < n; ++i) {
      const auto& v = L.verbs[upto(static_cast<int>(L.verbs.size()))];
      switch (upto(6)) {
        case 0: s += F{" Every morning, {} walked to the {}.", p.first, pick(L.places)}.s; break;
        case 1: s += F{" One day, {} found {} near the {}.", p.he(), with_article(thing), c.river}.s; break;
        case 2: s += F{" {} {} the {} {}.", capitalize(p.he()), v.past, thing, pick(L.adverbs)}.s; break;
        case 3: s += F{" A {} {} {} and asked for help.", pick(L.animals), pick(Words{"came by", "appeared", "ran past"}), pick(L.adverbs)}.s; break;
        case 4: s += F{" {} felt {}.", p.first, pick(L.emotions)}.s; break;
        default: s += " " + filler(); break;
      }
    }
    s += F{" In the end, {} was {} again.{}", p.first, pick(L.emotions), chance(1, 2) ? " The end." : ""}.s;
    return s;
  }

  std::string arithmetic() {
    std::string s;
    switch (upto(4)) {
      case 0: {
        s = "Addition practice\n";
        for (int i = 0, n = between(4, 20); i < n; ++i) {
          const int a = between(0, 99), b = between(0, 99);
          s += F{"\n{} + {} = {}", a, b, a + b}.s;
        }
        break;
      }
      case 1: {
        const int k = between(2, 12);
        s = F{"The multiplication table of {}\n", k}.s;
        for (int i = 1; i <= 10; ++i) s += F{"\n{} × {} = {}", k, i, k * i}.s;
        break;
      }
      case 2: {
        const Person& p = any_person();
        const auto food = plural(pick(lists().foods));
        const int a = between(2, 20), b = between(1, 15), c = between(0, std::min(a + b, 10));
        s = F{"{} has {} {}. {} buys {} more and gives {} away. How many {} does {} have now?\n\n"
                        "{} + {} = {}, and {} − {} = {}. {} has {} {}.",
                        p.first, a, food, capitalize(p.he()), b, c, food, p.first, a, b, a + b, a + b, c, a + b - c,
                        p.first, a + b - c, food}.s;
        break;
      }
      default: {
        for (int i = 0, n = between(1, 6); i < n; ++i) {
          const int a = between(1, 50), b = between(1, 50);
          s += F{"{}The sum of {} and {} is {}. The product of {} and {} is {}.", i ? " " : "", number_word(a),
                           number_word(b), a + b, a, b, a * b}.s;
        }
        break;
      }
    }
    return s;
  }

  std::string news() {
    const auto& L = lists();
    const Date d = any_date(1990, 2024);
    const Country& c = any_country();
    const std::string city = c.cities[upto(static_cast<int>(c.cities.size()))];
    const auto& v = L.verbs[upto(static_cast<int>(L.verbs.size()))];
    std::string s = F{"{}, {}\n\n{} — The {} of {} {} {} on {}. ", kWeekdays[weekday(d)], long_date(d), city,
                                plural(pick(L.professions)), city, v.past,
                                with_article(two_words(L.adjectives, L.nouns)),
                                kWeekdays[weekday(d)]}.s;
    if (city == c.capital)
      s += F{"{} is the capital of {}. ", city, c.name}.s;
    else
      s += F{"{} is a city in {}, whose capital is {}. ", city, c.name, c.capital}.s;
    if (chance(1, 2))
      s += F{"The weather was {}, with a temperature of {} degrees. ", pick(L.weather), between(-10, 35)}.s;
    s += paragraph(skewed(10));
    if (chance(1, 3)) s += F{"\n\nPublished {}.", iso_date(d)}.s;
    return s;
  }

  std::string list_document() {
    const auto& L = lists();
    std::string s;
    switch (upto(3)) {
      case 0: {
        const Country& c = any_country();
        s = F{"Cities of {}\n", c.name}.s;
        for (size_t i = 0; i < c.cities.size(); ++i)
          s += F{"\n{}. {}{}", i + 1, c.cities[i], i == 0 ? " (capital)" : ""}.s;
        break;
      }
      case 1: {
        s = F{"Things to pack for a trip to {}:\n", any_country().capital}.s;
        for (int i = 0, n = between(3, 10); i < n; ++i)
          s += F{"\n- {} {}", with_article(std::string(pick(L.colors))), pick(L.nouns)}.s;
        break;
      }
      default: {
        const auto food = pick(L.foods);
        s = F{"How to make {} soup\n\nIngredients:\n", food}.s;
        s += F{"- {} {}\n", between(2, 8), plural(food)}.s;
        for (int i = 0, n = between(2, 6); i < n; ++i)
          s += F{"- {} {} of {}\n", between(1, 4), pick(Words{"cups", "spoons", "pinches", "handfuls"}),
                           pick(L.foods)}.s;
        s += F{"\nSteps:\n1. Wash the {}.\n2. Cut them into small pieces.\n3. Boil water in a large pot.\n"
                         "4. Add everything and cook for {} minutes.\n5. Serve {}.",
                         plural(food), between(10, 60), pick(Words{"hot", "warm", "cold", "with bread"})}.s;
        break;
      }
    }
    return s;
  }

  std::string code() {
    const int n = between(3, 12);
    switch (upto(5)) {
      case 0: {
        uint64_t f = 1;
        for (int i = 2; i <= n; ++i) f *= static_cast<uint64_t>(i);
        return F{"Here is a Python function that computes a factorial:\n\n```python\ndef factorial(n):\n"
                           "    \"\"\"Return n! for n >= 0.\"\"\"\n    result = 1\n    for i in range(2, n + 1):\n"
                           "        result *= i\n    return result\n\nprint(factorial({}))  # {}\n```",
                           n, f}.s;
      }
      case 1: {
        uint64_t a = 0, b = 1;
        for (int i = 0; i < n; ++i) {
          const uint64_t t = a + b;
          a = b;
          b = t;
        }
        return F{"```python\ndef fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
                           "    return a\n```\n\n`fibonacci({})` returns {}.",
                           n, a}.s;
      }
      case 2: {
        std::vector<int> xs;
        for (int i = 0; i < n; ++i) xs.push_back(between(0, 99));
        std::string items;
        int total = 0;
        for (size_t i = 0; i < xs.size(); ++i) {
          items += (i ? ", " : "") + std::to_string(xs[i]);
          total += xs[i];
        }
        return F{"```c\nint sum(const int* xs, int n) {{\n  int total = 0;\n  for (int i = 0; i < n; ++i) total += xs[i];\n"
                           "  return total;\n}}\n```\n\nFor the array {{{}}}, sum returns {}.",
                           items, total}.s;
      }
      case 3: {
        const int a = between(12, 300), b = between(12, 300);
        int x = a, y = b;
        while (y) {
          const int t = x % y;
          x = y;
          y = t;
        }
        return F{"```javascript\nfunction gcd(a, b) {{\n  while (b !== 0) {{\n    [a, b] = [b, a % b];\n  }}\n  return a;\n}}\n"
                           "console.log(gcd({}, {})); // {}\n```",
                           a, b, x}.s;
      }
      default: {
        const auto& w = lists().nouns;
        const std::string word(w[upto(static_cast<int>(w.size()))]);
        const std::string reversed(word.rbegin(), word.rend());
        return F{">>> def reverse(s):\n...     return s[::-1]\n...\n>>> reverse(\"{}\")\n'{}'\n>>> len(\"{}\")\n{}", word,
                           reversed, word, word.size()}.s;
      }
    }
  }

  std::string greetings() {
    const auto& g = lists().greetings;
    std::string s = "How to say hello and thank you\n";
    for (int i = 0, n = between(2, 6); i < n; ++i) {
      const auto& x = g[upto(static_cast<int>(g.size()))];
      s += F{"\nIn {}, \"hello\" is {} and \"thank you\" is {}.", x.language, x.hello, x.thanks}.s;
    }
    return s;
  }

  std::string fact() {
    const Country& c = any_country();
    const Person& p = any_person();
    switch (upto(6)) {
      case 0: return F{"The capital of {} is {}.", c.name, c.capital}.s;
      case 1: return F{"{} was born in {} in {}.", p.name(), countries[p.country].cities[p.city], p.born.year}.s;
      case 2: return F{"The {} flows through {}.", c.river, c.name}.s;
      case 3: return F{"{} is {} {}.", p.name(), with_article(countries[p.country].adjective), p.profession}.s;
      case 4: {
        const int a = between(1, 20), b = between(1, 20);
        return F{"{} + {} = {}", a, b, a + b}.s;
      }
      default: return filler();
    }
  }

  std::string next() {
    // Kinds by weight; the weights set the mix of short and long documents.
    static constexpr std::array<int, 12> kWeights{10, 8, 10, 8, 8, 10, 6, 6, 6, 6, 3, 10};
    int total = 0;
    for (int w : kWeights) total += w;
    int r = upto(total), kind = 0;
    while (r >= kWeights[kind]) r -= kWeights[kind++];
    switch (kind) {
      case 0: return prose();
      case 1: return country_article();
      case 2: return biography();
      case 3: return questions();
      case 4: return dialogue();
      case 5: return story();
      case 6: return arithmetic();
      case 7: return news();
      case 8: return list_document();
      case 9: return code();
      case 10: return greetings();
      default: return fact();
    }
  }
};

SampleCorpus::SampleCorpus(uint64_t seed) : impl_(std::make_unique<Impl>(seed)) {}
SampleCorpus::~SampleCorpus() = default;
std::string SampleCorpus::next_document() { return impl_->next(); }

SampleCorpusStats write_sample_corpus(std::ostream& out, uint64_t target_bytes, uint64_t seed) {
  SampleCorpus corpus(seed);
  SampleCorpusStats stats;
  while (stats.bytes < target_bytes) {
    // dump(): compact, UTF-8 kept as is (not \u-escaped), keys in a fixed order: stable bytes.
    const std::string line = nlohmann::json{{"text", corpus.next_document()}}.dump() + "\n";
    out << line;
    stats.bytes += line.size();
    ++stats.documents;
  }
  return stats;
}

}  // namespace kiln::data_tools
