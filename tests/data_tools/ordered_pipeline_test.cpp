// The ordered pipeline: output order and content independent of the thread count, errors in
// input order, consumer errors stop everything.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "ordered_pipeline.h"
#include "support/error_text.h"

namespace kiln::data_tools {
namespace {

using kiln::testing::error_of;

// Batches of "doc N" texts, `per_batch` each, `batches` in all.
ProduceFn counting_producer(int batches, int per_batch, std::atomic<int>& made, int fail_at = -1) {
  return [=, &made](TextBatch& b) {
    const int k = made.fetch_add(1);
    if (k == fail_at) throw std::runtime_error("bad input in batch " + std::to_string(k));
    if (k >= batches) return false;
    for (int i = 0; i < per_batch; ++i) {
      b.texts.push_back("doc " + std::to_string(k * per_batch + i));
      b.origins.push_back("f:" + std::to_string(k * per_batch + i + 1));
    }
    b.input_bytes = static_cast<uint64_t>(k + 1) * 100;
    return true;
  };
}

// Encodes a text as its bytes, with uneven work so workers finish out of order.
void bytes_encoder(std::string_view text, std::vector<int32_t>& out) {
  if (text.back() % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  for (char c : text) out.push_back(c);
  out.push_back(-1);
}

std::vector<int32_t> run_all(int threads, int batches, int per_batch) {
  std::atomic<int> made{0};
  std::vector<int32_t> all;
  uint64_t last_bytes = 0;
  size_t docs = 0;
  run_ordered_pipeline({.threads = threads}, counting_producer(batches, per_batch, made), bytes_encoder,
                       [&](TokenBatch&& b) {
                         EXPECT_GT(b.input_bytes, last_bytes);  // batches arrive in production order
                         last_bytes = b.input_bytes;
                         docs += b.documents();
                         EXPECT_EQ(b.doc_ends.back(), b.tokens.size());
                         all.insert(all.end(), b.tokens.begin(), b.tokens.end());
                       });
  EXPECT_EQ(docs, static_cast<size_t>(batches * per_batch));
  return all;
}

TEST(OrderedPipeline, SameOutputForAnyThreadCount) {
  const auto one = run_all(1, 40, 7);
  EXPECT_EQ(one, run_all(2, 40, 7));
  EXPECT_EQ(one, run_all(5, 40, 7));
  std::vector<int32_t> expected;
  for (int i = 0; i < 280; ++i) bytes_encoder("doc " + std::to_string(i), expected);
  EXPECT_EQ(one, expected);
}

TEST(OrderedPipeline, EmptyInput) { EXPECT_TRUE(run_all(3, 0, 1).empty()); }

TEST(OrderedPipeline, ProducerErrorAfterEarlierBatchesAreConsumed) {
  for (int threads : {1, 4}) {
    std::atomic<int> made{0};
    int consumed = 0;
    const std::string err = error_of([&] {
      run_ordered_pipeline({.threads = threads}, counting_producer(100, 3, made, 10), bytes_encoder,
                           [&](TokenBatch&&) { ++consumed; });
    });
    EXPECT_EQ(err, "bad input in batch 10");
    EXPECT_EQ(consumed, 10) << threads << " threads";
  }
}

TEST(OrderedPipeline, EncodeErrorNamesTheOriginAndIsTheFirstInOrder) {
  for (int threads : {1, 4}) {
    std::atomic<int> made{0};
    const std::string err = error_of([&] {
      run_ordered_pipeline(
          {.threads = threads}, counting_producer(50, 4, made),
          [](std::string_view text, std::vector<int32_t>&) {
            // Documents 37 and 150 fail; 150 may finish first with several threads.
            if (text == "doc 37" || text == "doc 150") throw std::invalid_argument("cannot encode");
          },
          [](TokenBatch&&) {});
    });
    EXPECT_EQ(err, "f:38: cannot encode");
  }
}

TEST(OrderedPipeline, ConsumerErrorStopsTheThreads) {
  std::atomic<int> made{0};
  EXPECT_THROW(run_ordered_pipeline({.threads = 3}, counting_producer(1'000'000, 1, made), bytes_encoder,
                                    [](TokenBatch&& b) {
                                      if (b.input_bytes == 500) throw std::runtime_error("disk full");
                                    }),
               std::runtime_error);
  EXPECT_LT(made.load(), 100) << "the producer stops when the consumer fails";
}

TEST(OrderedPipeline, BoundedInFlight) {
  std::atomic<int> made{0};
  int consumed = 0;
  run_ordered_pipeline({.threads = 2, .max_in_flight = 3}, counting_producer(30, 1, made), bytes_encoder,
                       [&](TokenBatch&&) {
                         ++consumed;
                         EXPECT_LE(made.load() - consumed, 3 + 1);  // the producer waits for space
                       });
  EXPECT_EQ(consumed, 30);
}

}  // namespace
}  // namespace kiln::data_tools
