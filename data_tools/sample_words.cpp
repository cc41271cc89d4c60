#include "sample_words.h"

namespace kiln::data_tools::sample_words {

namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// "base/past" pairs.
std::vector<Verb> verbs(std::string_view s) {
  std::vector<Verb> out;
  for (auto w : split(s)) {
    const auto slash = w.find('/');
    out.push_back({w.substr(0, slash), w.substr(slash + 1)});
  }
  return out;
}

constexpr std::string_view kNouns = R"(
account act addition adjustment advertisement agreement amount amusement animal answer apparatus
approval argument attack attempt attention authority balance band base basket bath bed bell berry
bird birth blade board boat bone book boot bottle box brain brake branch brick bridge brush bucket
building bulb butter button cake camera canal card carriage cart cat chain chair chance change
cheese chest chin church circle clock cloud coat collar colour comb comfort committee company
comparison competition condition connection control cook copy cord cough country cover cow crack
credit crime crush cup current curtain curve cushion damage danger daughter day decision degree
design desire detail development difference digestion direction discovery discussion disease
distance distribution division dog door drain drawer dress drink drop ear edge effect egg engine
error event example exchange existence expansion experience expert eye face fact family farm father
feather feeling fiction field finger fire fish flag flame flight floor flower fold food foot force
fork form frame friend fruit garden girl glove goat government grain grass group guide gun hair
hammer hand harbour hat head heart hole hook horn horse hospital hour house idea impulse increase
industry insect instrument interest invention island jelly jewel journey judge kettle key kick king
kiss knee knife knot language lake lamp land law lead leaf letter level library lift light limit
line lip list lock loss machine map mark market meal measure meeting memory message metal minute
mist moment money monkey month morning mother motion mountain mouth move muscle museum nail name
nation neck need needle nerve net news night noise nose note number nut observation offer office
oil operation opinion orange order organization oven owner page pain paint pan paper parcel park
part paste path payment pen pencil person picture pig pin pipe place plane plant plate play pleasure
plough pocket point poison porter position pot powder power price print prison process produce
profit property protest pump punishment purpose question rail rat ray reaction reading reason
receipt record regret relation religion report request respect rest reward rhythm ring river road
rod roll roof room root rule sail salt school science scissors screw sea seat second secret seed
sense sentence servant shade shake shelf ship shirt shock shoe side sign signal silk sister size skin
skirt sky sleep slope smash smell smile snake sneeze snow sock son song sound soup space spade
sponge spoon spring square stage stamp star start statement station stem step stick stitch stocking
stomach stone store story stove street structure substance sugar suggestion summer sun support
surprise system table tail talk taste tax teacher tendency test theory thing thought thread throat
thumb ticket time tin toe tongue tooth top touch town trade train transport tray tree trick trouble
turn twist umbrella unit use value verse vessel view voice walk wall war wash watch wave way week
weight wheel whip whistle window wing winter wire word work worm wound year
)";

constexpr std::string_view kAdjectives = R"(
able acid angry automatic awake bad beautiful bent bitter black blue boiling bright broken brown
certain cheap chemical chief clean clear cold common complete complex conscious cruel dark dead
dear deep delicate dependent different dirty dry early elastic electric equal false fat feeble
female fertile first fixed flat foolish free frequent full future general good great green grey
hanging happy hard healthy high hollow important kind large late left light like living long loose
loud low male married material medical military mixed narrow natural necessary new normal old open
opposite parallel past physical political poor possible present private probable quick quiet ready
red regular responsible right rough round sad safe same second secret separate serious sharp short
shut simple slow small smooth soft solid special sticky stiff straight strange strong sudden sweet
tall thick thin tight tired true violent waiting warm wet white wide wise wrong yellow young ancient
brave calm curious eager famous gentle golden honest humble lively lonely lucky modern narrowest
noisy patient polite proud rapid rare rich royal rural silent silver steady tiny useful vast wooden
)";

constexpr std::string_view kVerbs = R"(
accept/accepted admire/admired answer/answered arrange/arranged ask/asked bake/baked borrow/borrowed
build/built buy/bought call/called carry/carried catch/caught change/changed choose/chose
clean/cleaned climb/climbed close/closed collect/collected count/counted cover/covered cross/crossed
cut/cut describe/described design/designed discover/discovered draw/drew drive/drove earn/earned
explain/explained explore/explored fill/filled find/found fix/fixed follow/followed forget/forgot
gather/gathered give/gave greet/greeted grow/grew guard/guarded help/helped hide/hid hold/held
invent/invented join/joined keep/kept know/knew lead/led learn/learned leave/left lift/lifted
like/liked love/loved make/made measure/measured meet/met miss/missed move/moved notice/noticed
open/opened order/ordered paint/painted pass/passed pick/picked plant/planted play/played pull/pulled
push/pushed read/read receive/received remember/remembered repair/repaired rescue/rescued
sell/sold send/sent share/shared show/showed sing/sang sort/sorted study/studied take/took
teach/taught tell/told test/tested throw/threw touch/touched trade/traded visit/visited wash/washed
watch/watched wear/wore win/won write/wrote weigh/weighed print/printed protect/protected
record/recorded reach/reached replace/replaced solve/solved stop/stopped store/stored
)";

constexpr std::string_view kAdverbs = R"(
quickly slowly carefully quietly loudly happily sadly easily rarely often always sometimes never
gently boldly calmly eagerly politely suddenly finally nearly almost together alone early late
again soon today yesterday tomorrow quite rather very proudly silently warmly honestly
)";

constexpr std::string_view kAnimals = R"(
cat dog horse cow sheep goat pig rabbit fox wolf bear deer mouse rat owl eagle hawk sparrow crow
swan duck goose hen otter beaver badger hedgehog frog toad turtle lizard snake salmon trout shark
whale dolphin seal penguin camel donkey zebra lion tiger leopard elephant giraffe monkey bee ant
spider butterfly moth beetle
)";

constexpr std::string_view kFoods = R"(
bread cheese apple pear plum cherry grape lemon orange banana potato carrot onion garlic tomato
cabbage pepper bean pea rice noodle soup stew pie cake biscuit honey jam butter egg mushroom olive
lentil walnut almond pancake dumpling sausage porridge yoghurt
)";

constexpr std::string_view kProfessions = R"(
baker carpenter chemist physicist teacher doctor nurse farmer sailor pilot engineer architect
painter sculptor poet novelist historian librarian gardener mechanic tailor potter weaver musician
composer singer astronomer botanist geologist mathematician economist lawyer judge journalist
photographer cartographer translator chef fisherman blacksmith programmer
)";

constexpr std::string_view kColors = "red orange yellow green blue purple brown black white grey pink golden silver";

constexpr std::string_view kMaterials = R"(
copper iron tin silver gold wool cotton silk linen timber coal salt marble granite clay glass paper
rubber leather tea coffee wheat barley rice sugar cocoa olives wine fish
)";

constexpr std::string_view kFields = R"(
chemistry physics mathematics astronomy botany geology medicine music poetry painting architecture
history economics linguistics navigation engineering philosophy zoology
)";

constexpr std::string_view kInstruments = "violin piano flute guitar drum harp cello trumpet clarinet accordion";

constexpr std::string_view kWeather = "sunny rainy windy cloudy foggy snowy stormy mild hot cold";

constexpr std::string_view kEmotions = "happy tired hungry curious nervous excited bored calm proud surprised";

constexpr std::string_view kPlaces = R"(
market harbour library museum station bakery school garden park bridge castle farm theatre hospital
university village square lighthouse mill workshop
)";

constexpr std::string_view kFemaleNames = R"(
Anna Clara Emma Grace Isla Kate Maya Olivia Rosa Uma Wendy Yara Alice Chloé Élodie Greta Ingrid
Karin Marta Pia Renée Ulla Vera Zoë Núria Siobhán Çağla Ngozi Aiko Priya Mei Amara Leila Ines Lucía
Sofía Ana Giulia Elena Olga Nadia
)";

constexpr std::string_view kMaleNames = R"(
Ben David Felix Henry Jack Leo Noah Paul Sam Tom Victor Xavier Zack Bruno Dmitri François Hugo
Jürgen Lars Nils Otto Quentin Søren Tariq Wiktor José Łukasz Björn Øystein Zoltán Hiroshi Rahul
Olusegun Ravi Kofi Omar Mateo Andrés Thiago João Matteo Ivan
)";

constexpr std::string_view kLastNames = R"(
Smith Jones Taylor Brown Wilson Evans Walker Wright Green Hall Wood Clarke Baker Turner Hill Moore
Müller Schäfer Weiß Becker García Núñez López Martín Ødegaard Dvořák Kowalski Nowak Nakamura Sato
Okafor Mensah Ångström Çelik Yılmaz Nguyễn Papadopoulos Ivanova Petrov Rossi Bianchi Silva Santos
Dubois Lefèvre Janssen Virtanen Horváth Novák Haddad Sharma Patel Kim Park Chen Wang Li Costa
)";

// Syllables of invented names (countries, cities, rivers): pronounceable, no real place intended.
constexpr std::string_view kSyllables = R"(
al an ar bel bor da dor el en fal gar hal im is ka kel lan lor ma mir nor ol or pel quin ra ren sal
sen tal tor ul ur val ven wyn zan bri cor dra fen gla hol ith jor lum mon nes pra ros sil tur vor
)";

}  // namespace

const Lists& lists() {
  static const Lists kLists = [] {
    Lists l;
    l.nouns = split(kNouns);
    l.adjectives = split(kAdjectives);
    l.verbs = verbs(kVerbs);
    l.adverbs = split(kAdverbs);
    l.animals = split(kAnimals);
    l.foods = split(kFoods);
    l.professions = split(kProfessions);
    l.colors = split(kColors);
    l.materials = split(kMaterials);
    l.fields = split(kFields);
    l.instruments = split(kInstruments);
    l.weather = split(kWeather);
    l.emotions = split(kEmotions);
    l.places = split(kPlaces);
    l.female_names = split(kFemaleNames);
    l.male_names = split(kMaleNames);
    l.last_names = split(kLastNames);
    l.syllables = split(kSyllables);
    l.native_names = {{"Hiroshi Tanaka", "田中 博", false},
                      {"Olga Ivanova", "Ольга Иванова", true},
                      {"Dimitris Papadopoulos", "Δημήτρης Παπαδόπουλος", false},
                      {"Wei Zhang", "张伟", false},
                      {"Ji-woo Kim", "김지우", true},
                      {"Amir Haddad", "أمير حداد", false},
                      {"Priya Sharma", "प्रिया शर्मा", true},
                      {"Noa Levi", "נועה לוי", true}};
    l.greetings = {{"Japanese", "こんにちは", "ありがとう"}, {"Russian", "Привет", "Спасибо"},
                   {"Greek", "Γειά σου", "Ευχαριστώ"},       {"Chinese", "你好", "谢谢"},
                   {"Korean", "안녕하세요", "감사합니다"},   {"Arabic", "مرحبا", "شكرا"},
                   {"Hindi", "नमस्ते", "धन्यवाद"},           {"Hebrew", "שלום", "תודה"},
                   {"German", "Hallo", "Danke"},             {"French", "Bonjour", "Merci"},
                   {"Spanish", "Hola", "Gracias"},           {"Turkish", "Merhaba", "Teşekkürler"}};
    return l;
  }();
  return kLists;
}

}  // namespace kiln::data_tools::sample_words
