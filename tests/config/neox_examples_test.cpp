// GPT-NeoX's own example configs (tests/fixtures/neox/configs, copied unchanged from
// EleutherAI/gpt-neox; README.md there gives the commit): each one imports, or is refused only
// with reasons that say what kiln does not compute — never as an "unknown GPT-NeoX key", which
// would mean kiln cannot tell infrastructure from math. The vocabulary size is given (GPT-NeoX
// takes it from the tokenizer file, which the examples name but kiln does not read).
//
// And upstream's SwiGLU sizing, checked against a width known from outside: llama/7B.yml writes
// intermediate_size 32768 with mlp_multiple_of 256, which GPT-NeoX's ParallelMLP turns into
// Llama-7B's 11,008-wide branches.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_error.h"
#include "config/neox_import.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

fs::path examples() { return fs::path(KILN_SOURCE_DIR) / "tests" / "fixtures" / "neox" / "configs"; }

std::vector<fs::path> example_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(examples()))
    if (e.is_regular_file() && e.path().extension() == ".yml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(NeoxExamples, EachImportsOrIsRefusedOnlyForWhatChangesTheMath) {
  const std::vector<fs::path> files = example_files();
  ASSERT_EQ(files.size(), 59u) << "the fixture set changed: update the README and this count";
  std::vector<std::string> imported;
  for (const fs::path& f : files) {
    const std::string name = fs::relative(f, examples()).string();
    try {
      import_neox(f, {.vocab_size = 50304});
      imported.push_back(name);
    } catch (const ConfigError& e) {
      ASSERT_FALSE(e.diagnostics().empty()) << name;
      for (const Diagnostic& d : e.diagnostics()) {
        EXPECT_EQ(d.message.find("unknown GPT-NeoX key"), std::string::npos) << name << ": " << d.message;
      }
    }
  }
  EXPECT_NE(std::find(imported.begin(), imported.end(), "bf16_125M.yml"), imported.end())
      << "GPT-NeoX's bf16 125M example imports as it is";
  std::ostringstream summary;
  for (const auto& n : imported) summary << "  imports: " << n << "\n";
  std::cout << imported.size() << " of " << files.size() << " GPT-NeoX examples import\n" << summary.str();
}

TEST(NeoxExamples, UpstreamSwigluGivesLlamaBranchWidths) {
  // llama/7B.yml leaves dropout at GPT-NeoX's default (0.1, which kiln does not have): turn it off
  // in a copy, as a user importing it would.
  const fs::path dir = fs::temp_directory_path() / ("kiln_neox_llama_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ifstream in(examples() / "llama" / "7B.yml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  yaml.insert(yaml.find('{') + 1, "\n  \"hidden_dropout\": 0,\n  \"attention_dropout\": 0,");
  std::ofstream(dir / "7B.yml") << yaml;
  const NeoxImport out = import_neox(dir / "7B.yml", {.vocab_size = 32000});
  fs::remove_all(dir);
  EXPECT_EQ(out.config["model"]["activation"].as<std::string>(), "swiglu");
  EXPECT_EQ(out.config["model"]["ffn_hidden_size"].as<int64_t>(), 11008);
  EXPECT_EQ(out.config["model"]["hidden_size"].as<int64_t>(), 4096);
}

}  // namespace
}  // namespace kiln
