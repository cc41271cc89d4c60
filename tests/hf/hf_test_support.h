// Helpers shared by the HF interop tests: fixtures, configs from YAML text, kiln's logits.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "config/loader.h"
#include "data/batch.h"
#include "model/decoder.h"

namespace kiln::hf::testing {

inline std::filesystem::path fixture_dir(const std::string& name) {
  return std::filesystem::path(KILN_SOURCE_DIR) / "tests" / "fixtures" / "hf" / name;
}

// A fixture's token batch and the logits transformers computed for it (make_fixtures.py).
struct LogitsFixture {
  int batch = 0, seq = 0, vocab = 0;
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // [batch·seq, vocab]
};

inline LogitsFixture read_logits(const std::filesystem::path& path) {
  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in);
  LogitsFixture f;
  f.batch = j.at("batch").get<int>();
  f.seq = j.at("seq").get<int>();
  f.vocab = j.at("vocab").get<int>();
  f.tokens = j.at("tokens").get<std::vector<int32_t>>();
  f.logits = j.at("logits").get<std::vector<float>>();
  return f;
}

inline Config config_from_yaml(const std::string& text) {
  return load_config_tree(YAML::Load(text), "test.yml").config;
}

// kiln's fp32 logits [B·T, padded_vocab] for `tokens` with the global parameters `params`.
inline std::vector<float> kiln_logits(const ModelConfig& model, const std::vector<float>& params,
                                      const std::vector<int32_t>& tokens, int batch, int seq) {
  Decoder<float> decoder(model, batch, seq);
  std::vector<int32_t> targets(tokens.size(), 0);
  std::vector<float> mask(tokens.size(), 0.0f);  // the loss is not wanted, only the logits
  BatchView view;
  view.batch = batch;
  view.seq = seq;
  view.tokens = tokens.data();
  view.targets = targets.data();
  view.loss_mask = mask.data();
  decoder.evaluate(params.data(), view);
  const size_t n = tokens.size() * static_cast<size_t>(model.padded_vocab());
  return {decoder.logits(), decoder.logits() + n};
}

// Every element within `rel` of the reference, relative to max(1, |reference|).
inline ::testing::AssertionResult logits_close(const std::vector<float>& got, const std::vector<float>& want,
                                               double rel) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " logits, expected " << want.size();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]) / std::max(1.0, std::fabs(double(want[i])));
    if (!(err <= worst)) worst = err, at = i;
  }
  if (worst <= rel) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "logit " << at << " is " << got[at] << ", expected " << want[at]
                                       << " (relative error " << worst << " > " << rel << ")";
}

}  // namespace kiln::hf::testing
