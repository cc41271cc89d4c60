// Tokenizer throughput: encodes a text file with N threads and prints MB/s and tokens/s.
//
//   tokenizer_bench <tokenizer.json | rank file> <text file> [threads=1] [repeats=3] [tiktoken pattern]
//   tokenizer_bench --train <text file> [vocab size=4096] [output tokenizer.json]
//
// The second form times BpeTrainer on the file's documents (added from one thread).
//
// The text is cut into documents of whole lines, each at least 4096 bytes (bench/tokenizer_vs_hf.sh
// cuts it the same way for Hugging Face), and threads take documents from a shared counter.
// Loading is not timed; the best of `repeats` passes is reported, each pass with cold caches
// being impossible to arrange fairly anyway (the first pass warms kiln's per-thread word caches
// just as it warms the reference's).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::string_view> documents(std::string_view text) {
  constexpr size_t kMinBytes = 4096;
  std::vector<std::string_view> docs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start + kMinBytes;
    if (end >= text.size()) {
      end = text.size();
    } else {
      end = text.find('\n', end);
      end = end == std::string_view::npos ? text.size() : end + 1;
    }
    docs.push_back(text.substr(start, end - start));
    start = end;
  }
  return docs;
}

std::string read_all(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int train(int argc, char** argv) {
  const std::string text = read_all(argv[2]);
  kiln::BpeTrainerOptions options;
  if (argc > 3) options.vocab_size = std::atoll(argv[3]);
  const auto t0 = std::chrono::steady_clock::now();
  kiln::BpeTrainer trainer(options);
  for (auto doc : documents(text)) trainer.add_text(doc);
  const auto t1 = std::chrono::steady_clock::now();
  const std::string json = trainer.to_json();
  const auto t2 = std::chrono::steady_clock::now();
  if (argc > 4) std::ofstream(argv[4], std::ios::binary) << json;
  std::printf("kiln: trained vocab %lld on %zu bytes: counting %.2f s, merging %.2f s\n",
              static_cast<long long>(options.vocab_size), text.size(),
              std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--train") {
    try {
      return train(argc, argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <tokenizer> <text file> [threads=1] [repeats=3] [tiktoken pattern]\n", argv[0]);
    return 2;
  }
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  kiln::TokenizerOptions options;
  if (argc > 5) options.tiktoken_pattern = argv[5];
  try {
    auto tok = kiln::Tokenizer::load(argv[1], options);
    const std::string text = read_all(argv[2]);
    const auto docs = documents(text);

    double best = 1e30;
    int64_t tokens = 0;
    for (int r = 0; r < repeats; ++r) {
      std::atomic<size_t> next{0};
      std::atomic<int64_t> total{0};
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
          std::vector<int32_t> ids;
          int64_t mine = 0;
          for (size_t i; (i = next.fetch_add(1)) < docs.size();) {
            ids.clear();
            tok->encode(docs[i], ids);
            mine += static_cast<int64_t>(ids.size());
          }
          total += mine;
        });
      }
      for (auto& th : pool) th.join();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, s);
      tokens = total;
    }
    std::printf("kiln: %s\n", tok->describe().c_str());
    std::printf("kiln: threads=%d documents=%zu bytes=%zu tokens=%lld best of %d: %.3f s  %.2f MB/s  %.0f tokens/s\n",
                threads, docs.size(), text.size(), static_cast<long long>(tokens), repeats, best,
                static_cast<double>(text.size()) / 1e6 / best, static_cast<double>(tokens) / best);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
