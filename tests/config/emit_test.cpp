// The resolved config reads back to itself, and the committed config reference is the generated one.
#include "config/emit.h"
#include "config/schema.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "config/loader.h"

namespace kiln {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Emit, ResolvedConfigRoundTripsForEveryShippedConfig) {
  for (const char* name : {"tiny", "tiny-synthetic", "stablelm-2-1_6b", "stablelm-3b-4e1t", "btlm-3b-8k", "btlm-3b-8k-stage2",
                           "ar-stablelm-2-1_6b"}) {
    const std::string path = std::string(KILN_SOURCE_DIR) + "/configs/" + name + ".yml";
    const LoadedConfig first = load_config(path);
    const std::string text = resolved_config_text(first.config, "round trip");
    const LoadedConfig second = load_config_tree(YAML::Load(text), "resolved.yml");
    EXPECT_EQ(resolved_config_text(second.config, "round trip"), text) << name;
    EXPECT_EQ(*second.config.train.name, name) << "the resolved config keeps the run name";
  }
}

TEST(Emit, StringsThatLookLikeOtherTypesAreQuoted) {
  Config c = load_config(std::string(KILN_SOURCE_DIR) + "/configs/tiny.yml").config;
  c.train.name = "001";
  c.data.tokenizer = "yes";
  c.checkpoint.dir = "runs/a";
  const std::string text = resolved_config_text(c, "quoting");
  EXPECT_NE(text.find("name: \"001\""), std::string::npos) << text;
  EXPECT_NE(text.find("tokenizer: \"yes\""), std::string::npos) << text;
  EXPECT_NE(text.find("dir: runs/a"), std::string::npos) << text;
  EXPECT_NE(text.find("resume: auto"), std::string::npos) << text;
  const Config back = load_config_tree(YAML::Load(text), "q.yml").config;
  EXPECT_EQ(*back.train.name, "001");
  EXPECT_EQ(back.data.tokenizer, "yes");
}

TEST(Emit, DoublesKeepFullPrecisionAndReadAsFloatsInYaml11) {
  EXPECT_EQ(format_double(1e-8), "1.0e-08");
  EXPECT_EQ(format_double(3.2e-4), "0.00032");
  EXPECT_EQ(format_double(10000), "10000.0");
  EXPECT_EQ(format_double(0.1 + 0.2), "0.30000000000000004");
}

TEST(Emit, CommittedReferenceMatchesTheSchema) {
  const std::string committed = read(std::string(KILN_SOURCE_DIR) + "/docs/config-reference.md");
  EXPECT_EQ(committed, config_reference_markdown())
      << "docs/config-reference.md is stale: regenerate with `kiln config reference -o docs/config-reference.md`";
}

TEST(Emit, ReferenceDocumentsEveryKey) {
  const std::string md = config_reference_markdown();
  for (const char* leaf : {"`num_layers`", "`rotary_pct`", "`zero_stage`", "`hybrid_switch`", "`global_batch`",
                           "`reset_position_ids`", "`keep_last`", "`metrics_file`", "`recompute`"})
    EXPECT_NE(md.find(leaf), std::string::npos) << leaf;
}

}  // namespace
}  // namespace kiln
