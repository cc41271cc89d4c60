// The shard loader's stream: epochs, blending, data-parallel slicing, resume, prefetch.
#include "data/blended_source.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include "data/packed_documents.h"
#include "data/prefetcher.h"
#include "data/step_slicing.h"
#include "support/error_text.h"
#include "support/memory_document_store.h"

namespace kiln {
namespace {

using testing::MemoryDocumentStore;

constexpr int kSeq = 16;

// A dataset whose samples are recognisable: the first token of every sample of dataset `tag`
// is unique across datasets (documents numbered from tag · 100000).
std::shared_ptr<const SampleDataset> dataset(int tag, int documents, DocumentMasking masking = {}) {
  auto docs = testing::numbered_documents(documents, {5, 17, 40, 9});
  for (auto& d : docs)
    for (auto& t : d) t += tag * 100000000;
  auto store = std::make_shared<MemoryDocumentStore>("dataset" + std::to_string(tag), docs);
  return std::make_shared<PackedDocuments>(store, DocumentRange{0, store->num_documents()}, kSeq, 1 << 30, masking,
                                           "train");
}

BlendedSource blend(std::vector<BlendedDataset> ds, uint64_t seed = 1234) {
  return BlendedSource(std::move(ds), kSeq, seed, Split::train);
}

// First token of each of `count` samples from `first`.
std::vector<int32_t> heads(const DataSource& s, uint64_t first, int count) {
  BatchStorage b(count, kSeq);
  s.fill(b, first);
  std::vector<int32_t> out;
  for (int i = 0; i < count; ++i) out.push_back(b.tokens[static_cast<size_t>(i) * kSeq]);
  return out;
}

bool same(const BatchStorage& a, const BatchStorage& b) {
  return a.tokens == b.tokens && a.targets == b.targets && a.loss_mask == b.loss_mask &&
         a.position_ids == b.position_ids && a.doc_ids == b.doc_ids;
}

TEST(BlendedSource, EachEpochVisitsEverySampleOnceInANewOrder) {
  auto d = dataset(1, 40);
  const auto n = static_cast<int>(d->size());
  BlendedSource s = blend({{d, 1}});
  const auto epoch0 = heads(s, 0, n), epoch1 = heads(s, static_cast<uint64_t>(n), n);
  std::set<int32_t> a(epoch0.begin(), epoch0.end()), b(epoch1.begin(), epoch1.end());
  EXPECT_EQ(a.size(), static_cast<size_t>(n)) << "every sample once in epoch 0";
  EXPECT_EQ(a, b) << "epoch 1 covers the same samples";
  EXPECT_NE(epoch0, epoch1) << "in another order";
  EXPECT_NEAR(s.epochs_at(static_cast<uint64_t>(n) * 3 + 1)[0], 3.0, 0.1);
}

TEST(BlendedSource, BlendFollowsTheWeightsThroughEpochRollover) {
  auto small = dataset(1, 8), large = dataset(2, 100);  // the small one runs out many times
  BlendedSource s = blend({{small, 0.5}, {large, 0.5}});
  const int n = 2000;
  std::map<int, int> per_dataset;
  for (int32_t h : heads(s, 0, n)) ++per_dataset[h / 100000000];
  EXPECT_NEAR(per_dataset[1], n / 2, 1);
  EXPECT_NEAR(per_dataset[2], n / 2, 1);
  EXPECT_GT(s.epochs_at(n)[0], 10.0) << "the small dataset went through many epochs";
}

TEST(BlendedSource, SampleSequenceIsIndependentOfDataParallelSize) {
  auto a = dataset(1, 30), b = dataset(2, 50);
  BlendedSource s = blend({{a, 0.3}, {b, 0.7}});
  // Reference: one rank reading global samples in order.
  const int64_t micro = 2, accum = 2, steps = 6;
  std::vector<std::vector<int32_t>> reference;  // per step, the sorted multiset is what matters,
  for (int dp : {1, 2, 4}) {                    // but the slicing keeps the exact order too
    std::vector<std::vector<int32_t>> per_step(steps);
    for (int r = 0; r < dp; ++r) {
      StepSlicing sl{micro, accum, dp, r};
      for (int64_t step = 0; step < steps; ++step)
        for (int64_t m = 0; m < accum; ++m) {
          (void)m;
          BatchStorage mb(static_cast<int>(micro), kSeq);
          s.fill(mb, sl.first_sample(step, m));
          for (int i = 0; i < micro; ++i) per_step[static_cast<size_t>(step)].push_back(mb.tokens[static_cast<size_t>(i) * kSeq]);
        }
    }
    if (dp == 1) {
      reference = per_step;
      continue;
    }
    // dp ranks together read a global batch dp times larger: step s of dp ranks = steps
    // dp·s … dp·s + dp − 1 of one rank with the same per-rank batch.
    for (int64_t step = 0; (step + 1) * dp <= steps; ++step) {
      std::vector<int32_t> single;
      for (int k = 0; k < dp; ++k) {
        const auto& part = reference[static_cast<size_t>(step * dp + k)];
        single.insert(single.end(), part.begin(), part.end());
      }
      EXPECT_EQ(per_step[static_cast<size_t>(step)], single) << "dp " << dp << " step " << step;
    }
  }
}

TEST(BlendedSource, ResumedStreamContinuesWithExactlyTheNextSamples) {
  auto a = dataset(1, 12), b = dataset(2, 20), c = dataset(3, 7);
  auto make = [&] { return blend({{a, 0.5}, {b, 0.3}, {c, 0.2}}); };
  BlendedSource uninterrupted = make();
  BatchStorage x(4, kSeq), y(4, kSeq);
  for (int i = 0; i < 25; ++i) uninterrupted.next(x);
  const DataState saved = uninterrupted.state();
  EXPECT_EQ(saved.next_sample, 100u);
  ASSERT_EQ(saved.blend_counts.size(), 3u);

  BlendedSource resumed = make();
  resumed.restore(saved);
  for (int i = 0; i < 40; ++i) {
    uninterrupted.next(x);
    resumed.next(y);
    ASSERT_TRUE(same(x, y)) << "batch " << i << " after the resume";
  }
}

TEST(BlendedSource, StateFromAnotherStreamIsRejected) {
  auto a = dataset(1, 12), b = dataset(2, 20);
  BlendedSource s1 = blend({{a, 0.5}, {b, 0.5}}), s2 = blend({{a, 0.5}, {b, 0.5}}, 99),
                s3 = blend({{a, 0.4}, {b, 0.6}});
  EXPECT_THROW(s2.restore(s1.state_at(8)), std::invalid_argument) << "other seed";
  EXPECT_THROW(s3.restore(s1.state_at(8)), std::invalid_argument) << "other weights";
  EXPECT_TRUE(testing::contains(testing::error_of([&] { s3.restore(s1.state_at(8)); }), "different stream"));
  EXPECT_NO_THROW(s1.restore(s1.state_at(8)));
}

TEST(BlendedSource, SeedChangesTheOrder) {
  auto a = dataset(1, 40);
  EXPECT_NE(heads(blend({{a, 1}}, 1), 0, 20), heads(blend({{a, 1}}, 2), 0, 20));
  EXPECT_EQ(heads(blend({{a, 1}}, 1), 0, 20), heads(blend({{a, 1}}, 1), 0, 20));
}

TEST(Prefetcher, HandsOutTheSameBatchesAsDirectReads) {
  auto a = dataset(1, 30), b = dataset(2, 50);
  BlendedSource s = blend({{a, 0.3}, {b, 0.7}});
  const StepSlicing sl{2, 3, 2, 1};
  Prefetcher p(s, sl, kSeq, /*first_step=*/5, /*depth=*/2);
  for (int64_t step = 5; step < 25; ++step) {
    const auto& mbs = p.next();
    ASSERT_EQ(mbs.size(), 3u);
    for (int64_t m = 0; m < 3; ++m) {
      BatchStorage direct(2, kSeq);
      s.fill(direct, sl.first_sample(step, m));
      ASSERT_TRUE(same(mbs[static_cast<size_t>(m)], direct)) << "step " << step << " micro " << m;
    }
  }
  EXPECT_GE(p.wait_seconds(), 0.0);
}

// A source that fails at one sample, as a corrupt shard would.
class FailingSource final : public DataSource {
 public:
  void fill(BatchStorage& out, uint64_t first) const override {
    if (first >= 6) throw std::runtime_error("shard.bin: token 70000 at token offset 123 is outside the vocabulary");
    for (auto& t : out.tokens) t = static_cast<int32_t>(first);
  }
  void next(BatchStorage&) override {}
  DataState state_at(uint64_t n) const override { return {n, 0, {}}; }
  uint64_t cursor() const override { return 0; }
  void restore(const DataState&) override {}
  std::string describe() const override { return "failing"; }
};

TEST(Prefetcher, ErrorReachesTheStepLoopWithItsMessage) {
  FailingSource s;
  Prefetcher p(s, StepSlicing{1, 2, 1, 0}, kSeq, 0);
  p.next();
  p.next();
  p.next();  // samples 0 … 5 are fine
  const std::string message = testing::error_of([&] { p.next(); });
  EXPECT_TRUE(testing::contains(message, "shard.bin: token 70000 at token offset 123"));
  EXPECT_THROW(p.next(), std::runtime_error) << "and stays failed";
}

}  // namespace
}  // namespace kiln
