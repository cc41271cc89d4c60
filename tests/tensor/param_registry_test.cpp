#include "tensor/param_registry.h"

#include "tensor/bf16.h"

#include <gtest/gtest.h>

#include "support/error_text.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace kiln {
namespace {

using testing::contains;
using testing::error_of;

// A small GPT-NeoX-like layer: sizes chosen so that some tensors need padding and some don't.
ParamRegistry small_model() {
  ParamRegistry r;
  r.add("gpt_neox.embed_in.weight", {10, 8});                                      // 80
  r.add("gpt_neox.layers.0.input_layernorm.weight", {8}, {false, 1.0});            // 8
  r.add("gpt_neox.layers.0.attention.query_key_value.weight", {24, 8}, {true, 0.5});  // 192
  r.add("gpt_neox.layers.0.attention.dense.weight", {8, 8}, {true, 0.5});          // 64
  r.add("gpt_neox.layers.0.attention.dense.bias", {8}, {false, 1.0});              // 8
  return r;
}

TEST(ParamRegistry, OffsetsAreAlignedContiguousAndInOrder) {
  ParamRegistry r = small_model();
  const int64_t total = r.finalize();

  const std::vector<int64_t> offsets = {0, 128, 192, 384, 448};
  ASSERT_EQ(r.size(), offsets.size());
  int64_t previous_end = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const ParamEntry& e = r.entries()[i];
    EXPECT_EQ(e.offset, offsets[i]) << e.name;
    EXPECT_EQ(e.offset % ParamRegistry::kAlignment, 0) << e.name;
    // Contiguous: each starts at the first aligned element after the previous one ends.
    EXPECT_GE(e.offset, previous_end) << e.name;
    EXPECT_LT(e.offset - previous_end, ParamRegistry::kAlignment) << e.name;
    previous_end = e.end();
  }
  EXPECT_EQ(total, 512);  // 448 + 8, rounded up to 64
  EXPECT_EQ(r.total_numel(), 512);
  EXPECT_EQ(r.param_count(), 80 + 8 + 192 + 64 + 8);
  EXPECT_EQ(r.finalize(), 512);  // idempotent
}

TEST(ParamRegistry, IteratesInRegistrationOrderWithInfo) {
  ParamRegistry r = small_model();
  std::vector<std::string> names;
  for (const ParamEntry& e : r) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"gpt_neox.embed_in.weight", "gpt_neox.layers.0.input_layernorm.weight",
                                             "gpt_neox.layers.0.attention.query_key_value.weight",
                                             "gpt_neox.layers.0.attention.dense.weight",
                                             "gpt_neox.layers.0.attention.dense.bias"}));
  const ParamEntry& qkv = r.at("gpt_neox.layers.0.attention.query_key_value.weight");
  EXPECT_TRUE(qkv.info.decay);
  EXPECT_EQ(qkv.info.lr_scale, 0.5);
  EXPECT_EQ(qkv.shape, (Shape{24, 8}));
  EXPECT_FALSE(r.at("gpt_neox.layers.0.attention.dense.bias").info.decay);
  EXPECT_TRUE(r.at("gpt_neox.embed_in.weight").info.decay);  // ParamInfo defaults
  EXPECT_EQ(r.at("gpt_neox.embed_in.weight").info.lr_scale, 1.0);
  EXPECT_EQ(r.index_of("gpt_neox.layers.0.attention.dense.weight"), 3u);
  EXPECT_TRUE(r.contains("gpt_neox.embed_in.weight"));
  EXPECT_FALSE(r.contains("embed_in.weight"));
}

TEST(ParamRegistry, ViewsAddressTheirSliceOfTheBuffer) {
  ParamRegistry r = small_model();
  r.finalize();
  Buffer params(DType::fp32, r.total_numel());
  ParamViews views = r.bind(params);

  // Fill every tensor through its view with (index + 1) · 1000 + element, then read the flat
  // buffer back: each value must sit at offset + element, and padding must still be zero.
  for (size_t i = 0; i < r.size(); ++i) {
    TensorView v = views.at(r.entries()[i].name);
    EXPECT_EQ(v.shape(), r.entries()[i].shape);
    EXPECT_EQ(v.dtype(), DType::fp32);
    for (int64_t k = 0; k < v.numel(); ++k) v.data<float>()[k] = static_cast<float>((i + 1) * 1000 + k);
  }
  std::vector<float> expected(static_cast<size_t>(r.total_numel()), 0.0f);
  for (size_t i = 0; i < r.size(); ++i) {
    const ParamEntry& e = r.entries()[i];
    for (int64_t k = 0; k < e.numel(); ++k) expected[e.offset + k] = static_cast<float>((i + 1) * 1000 + k);
  }
  for (int64_t j = 0; j < r.total_numel(); ++j) ASSERT_EQ(params.data<float>()[j], expected[j]) << j;

  // Index and name lookups agree.
  EXPECT_EQ(views.at(size_t{2}).raw(), views.at("gpt_neox.layers.0.attention.query_key_value.weight").raw());
  EXPECT_THROW(views.at(size_t{5}), std::out_of_range);
  EXPECT_EQ(views.flat().numel(), r.total_numel());
}

TEST(ParamRegistry, OneLayoutServesBuffersOfEveryDtype) {
  ParamRegistry r = small_model();
  r.finalize();
  Buffer params(DType::bf16, r.total_numel());
  Buffer grads(DType::fp32, r.total_numel());
  ParamViews p = r.bind(params), g = r.bind(grads);
  for (const ParamEntry& e : r) {
    TensorView pv = p.at(e.name), gv = g.at(e.name);
    EXPECT_EQ(static_cast<char*>(pv.raw()) - static_cast<char*>(params.raw()), e.offset * 2) << e.name;
    EXPECT_EQ(static_cast<char*>(gv.raw()) - static_cast<char*>(grads.raw()), e.offset * 4) << e.name;
    EXPECT_EQ(pv.dtype(), DType::bf16);
    EXPECT_EQ(gv.shape(), pv.shape());
    // Aligned in both dtypes, as the layout promises.
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pv.raw()) % 64, 0u) << e.name;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(gv.raw()) % 64, 0u) << e.name;
  }
  p.at("gpt_neox.layers.0.attention.dense.bias").data<bf16>()[7] = to_bf16(1.5f);
  EXPECT_EQ(to_float(params.data<bf16>()[448 + 7]), 1.5f);
}

TEST(ParamRegistry, BindAcceptsLongerBuffersAndRejectsShortOnes) {
  ParamRegistry r = small_model();
  r.finalize();
  Buffer longer(DType::fp32, r.total_numel() + 100);  // e.g. padded to divide among DP ranks
  EXPECT_EQ(r.bind(longer).at("gpt_neox.embed_in.weight").raw(), longer.raw());
  Buffer shorter(DType::fp32, r.total_numel() - 1);
  EXPECT_THROW(r.bind(shorter), std::invalid_argument);
  const std::string message = error_of([&] { r.bind(shorter); });
  EXPECT_TRUE(contains(message, "511 elements"));
  EXPECT_TRUE(contains(message, "needs 512"));
}

TEST(ParamRegistry, UnknownNameIsNamedWithTheClosestNames) {
  ParamRegistry r = small_model();
  r.finalize();
  const std::string message = error_of([&] { r.at("gpt_neox.layers.0.attention.dens.weight"); });
  EXPECT_TRUE(contains(message, "no parameter named 'gpt_neox.layers.0.attention.dens.weight'"));
  EXPECT_TRUE(contains(message, "closest: 'gpt_neox.layers.0.attention.dense.weight', "
                                "'gpt_neox.layers.0.attention.dense.bias'"));
  EXPECT_THROW(r.index_of("nope"), std::out_of_range);
  Buffer b(DType::fp32, r.total_numel());
  EXPECT_THROW(r.bind(b).at("gpt_neox.layers.1.attention.dense.weight"), std::out_of_range);

  ParamRegistry empty;
  EXPECT_TRUE(contains(error_of([&] { empty.at("x"); }), "none are registered"));
}

TEST(ParamRegistry, RegistrationErrorsNameTheTensor) {
  ParamRegistry r;
  r.add("w", {4, 4});
  EXPECT_THROW(r.add("w", {2}), std::invalid_argument);
  EXPECT_TRUE(contains(error_of([&] { r.add("w", {2}); }), "'w' is registered twice"));
  EXPECT_TRUE(contains(error_of([&] { r.add("zero", {4, 0}); }), "'zero' has dimension 0"));
  EXPECT_TRUE(contains(error_of([&] { r.add("deep", {1, 1, 1, 1, 1, 1}); }), "'deep' has rank 6"));
  EXPECT_TRUE(contains(error_of([&] { r.add("neg_lr", {1}, {true, -1.0}); }), "'neg_lr' has lr_scale"));
  EXPECT_THROW(r.add("", {1}), std::invalid_argument);
  EXPECT_EQ(r.size(), 1u);  // failed adds leave nothing behind
  EXPECT_EQ(r.param_count(), 16);

  EXPECT_THROW(r.total_numel(), std::logic_error);  // not final yet
  EXPECT_THROW(r.bind(TensorView()), std::logic_error);
  r.finalize();
  EXPECT_THROW(r.add("late", {1}), std::logic_error);
  EXPECT_TRUE(contains(error_of([&] { r.add("late", {1}); }), "cannot add 'late' after finalize()"));
  EXPECT_EQ(r.total_numel(), 64);
}

TEST(ParamRegistry, ScalarsAndEmptyRegistries) {
  ParamRegistry r;
  EXPECT_EQ(r.finalize(), 0);
  EXPECT_EQ(r.param_count(), 0);

  ParamRegistry s;
  EXPECT_EQ(s.add("scale", {}), 0u);  // rank 0: one element
  EXPECT_EQ(s.add("after", {3}), 1u);
  EXPECT_EQ(s.finalize(), 128);
  EXPECT_EQ(s.at("after").offset, 64);
}

}  // namespace
}  // namespace kiln
