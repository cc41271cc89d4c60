// The shipped configs reproduce the published models, and importing the published GPT-NeoX configs
// plans the same models as kiln's own configs.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/neox_import.h"
#include "plan/planner.h"

namespace kiln {
namespace {

LoadedConfig shipped(const std::string& name) {
  return load_config(std::string(KILN_SOURCE_DIR) + "/configs/" + name + ".yml");
}
std::string reference(const std::string& name) {
  return std::string(KILN_SHARED_DIR) + "/reference/configs/" + name;
}

TEST(ShippedConfigs, PublishedParameterCounts) {
  EXPECT_EQ(count_parameters(shipped("stablelm-2-1_6b").config.model).total, 1'644'417'024);
  EXPECT_EQ(count_parameters(shipped("stablelm-3b-4e1t").config.model).total, 2'795'443'200);
  // BTLM's "3B" is 2.6B: the hand count in SPEC-style arithmetic (tests/plan/planner_test.cpp).
  EXPECT_EQ(count_parameters(shipped("btlm-3b-8k").config.model).total, 2'646'255'744);
  EXPECT_EQ(count_parameters(shipped("ar-stablelm-2-1_6b").config.model).total, 1'644'417'024);
}

TEST(ShippedConfigs, RecipesFromSpec) {
  const Config lm2 = shipped("stablelm-2-1_6b").config;
  EXPECT_EQ(*lm2.schedule.warmup_steps, 9720);
  EXPECT_EQ(lm2.model.ffn(), 5632);
  EXPECT_EQ(lm2.model.padded_vocab(), 100352);
  EXPECT_EQ(lm2.model.rotary_dims(), 16);
  const Config lm3 = shipped("stablelm-3b-4e1t").config;
  EXPECT_EQ(*lm3.schedule.warmup_steps, 4775);
  EXPECT_EQ(lm3.model.ffn(), 6912);
  EXPECT_EQ(lm3.model.rotary_dims(), 20);
  const Config btlm1 = shipped("btlm-3b-8k").config;
  const Config btlm2 = shipped("btlm-3b-8k-stage2").config;
  EXPECT_DOUBLE_EQ(btlm1.model.mup_width_scale(), 0.1);
  // Both stages train on 3.93M tokens per step.
  EXPECT_EQ(btlm1.tokens_per_step(), 1920 * 2048);
  EXPECT_EQ(btlm2.tokens_per_step(), 480 * 8192);
  EXPECT_EQ(btlm1.tokens_per_step(), btlm2.tokens_per_step());
  EXPECT_EQ(btlm2.train.steps, 159'636);
  const Config ar = shipped("ar-stablelm-2-1_6b").config;
  EXPECT_EQ(*ar.batch.global_batch, 96);
  EXPECT_EQ(ar.world_size(), 16);
  EXPECT_EQ(ar.train.steps - ar.schedule.cooldown_steps, 300'000);
}

// Everything `kiln plan` prints, as one comparable value.
std::string plan_fingerprint(const Config& c) {
  const Plan p = make_plan(c);
  return std::to_string(p.params.total) + " " + std::to_string(p.flops_per_token_palm) + " " +
         std::to_string(p.flops_per_token_causal) + " " + std::to_string(p.memory.weights) + " " +
         std::to_string(p.memory.gradients) + " " + std::to_string(p.memory.optimizer) + " " +
         std::to_string(p.memory.activations) + " " + std::to_string(p.tokens_per_step);
}

TEST(ShippedConfigs, NeoxImportOfStableLm3bPlansLikeTheKilnConfig) {
  const NeoxImport imported = import_neox(reference("stablelm-3b-4e1t.yml"));
  const LoadedConfig l = load_config_tree(imported.config, "stablelm-3b-4e1t.yml");
  EXPECT_EQ(plan_fingerprint(l.config), plan_fingerprint(shipped("stablelm-3b-4e1t").config));
}

TEST(ShippedConfigs, NeoxImportOfStableLm2PlansLikeTheKilnConfigWithTheReleaseBiases) {
  // The NeoX YAML says no attention-linear biases and no norm biases; the released model has Q/K/V
  // biases and a final-norm bias (SPEC §1). A faithful import is short by exactly those.
  const NeoxImport imported = import_neox(reference("stablelm-2-1_6b.yml"));
  const LoadedConfig faithful = load_config_tree(imported.config, "stablelm-2-1_6b.yml");
  EXPECT_EQ(count_parameters(faithful.config.model).total, 1'644'417'024 - 24 * 3 * 2048 - 2048);
  const LoadedConfig released = load_config_tree(
      imported.config, "stablelm-2-1_6b.yml", {{"model.qkv_bias", "true"}, {"model.final_norm_bias", "true"}});
  EXPECT_EQ(plan_fingerprint(released.config), plan_fingerprint(shipped("stablelm-2-1_6b").config));
}

}  // namespace
}  // namespace kiln
