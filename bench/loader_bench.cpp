// Loader throughput: tokens per second one process gets out of the shard loader.
//
//   build/bench/loader_bench [--tokens N] [--seq 4096] [--micro 8] [--format mmap|hdf5] [--dir DIR]
//
// Writes two shards of random documents (N tokens in all, vocab 100,352 so tokens are int32 as
// for Arcade100k; uint16 with --vocab 50304), blends them 70/30, and times (1) fill() called
// directly, the work the prefetch thread does per step, and (2) the step loop's view through the
// Prefetcher with no compute in between, the worst case for waiting. The page cache is warm (the
// shards were just written), as it is for a run past its first epoch; a cold first read is bound
// by the file system instead. Not a test: prints numbers for docs/performance.md.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/blended_source.h"
#include "data/formats/document_store.h"
#include "data/packed_documents.h"
#include "data/prefetcher.h"

namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void write_shard(const std::filesystem::path& path, kiln::ShardFormat format, uint64_t tokens, int64_t vocab,
                 uint64_t seed) {
  auto writer = kiln::create_document_writer(path, format, vocab);
  std::vector<int32_t> doc;
  uint64_t written = 0, s = seed;
  while (written < tokens) {
    const uint64_t len = 50 + splitmix(s) % 4000;  // documents of 50 … 4049 tokens
    doc.resize(len);
    for (auto& t : doc) t = static_cast<int32_t>(splitmix(s) % static_cast<uint64_t>(vocab));
    writer->add(doc);
    written += len;
  }
  writer->finish();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t total = 200'000'000;
  int seq = 4096, micro = 8;
  int64_t vocab = 100352;
  std::string format_name = "mmap";
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kiln-loader-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--tokens") total = std::stoull(v);
    else if (a == "--seq") seq = std::stoi(v);
    else if (a == "--micro") micro = std::stoi(v);
    else if (a == "--vocab") vocab = std::stoll(v);
    else if (a == "--format") format_name = v;
    else if (a == "--dir") dir = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const kiln::ShardFormat format = format_name == "hdf5" ? kiln::ShardFormat::hdf5 : kiln::ShardFormat::mmap;
  std::filesystem::create_directories(dir);
  const std::string ext = format == kiln::ShardFormat::hdf5 ? ".h5" : "";
  const auto a_path = dir / ("a" + ext), b_path = dir / ("b" + ext);
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  write_shard(a_path, format, total * 7 / 10, vocab, 1);
  write_shard(b_path, format, total * 3 / 10, vocab, 2);
  std::printf("wrote %llu tokens (%s, vocab %lld) in %.1f s\n", static_cast<unsigned long long>(total),
              format_name.c_str(), static_cast<long long>(vocab),
              std::chrono::duration<double>(clock::now() - t0).count());

  std::vector<kiln::BlendedDataset> blend;
  for (const auto& [path, weight] : {std::pair{a_path, 0.7}, std::pair{b_path, 0.3}}) {
    std::shared_ptr<const kiln::DocumentStore> store = kiln::open_document_store(path, format);
    blend.push_back({std::make_shared<kiln::PackedDocuments>(store, kiln::DocumentRange{0, store->num_documents()},
                                                             seq, vocab, kiln::DocumentMasking{true, true}, "train"),
                     weight});
  }
  kiln::BlendedSource source(blend, seq, 1234, kiln::Split::train);
  const uint64_t batches = std::max<uint64_t>(1, total / 2 / (static_cast<uint64_t>(seq) * micro));

  kiln::BatchStorage batch(micro, seq);
  t0 = clock::now();
  for (uint64_t i = 0; i < batches; ++i) source.fill(batch, i * static_cast<uint64_t>(micro));
  double s = std::chrono::duration<double>(clock::now() - t0).count();
  const double tokens = static_cast<double>(batches) * micro * seq;
  std::printf("fill():     %llu batches of %d × %d in %.2f s: %.1f M tokens/s\n",
              static_cast<unsigned long long>(batches), micro, seq, s, tokens / s / 1e6);

  kiln::Prefetcher prefetcher(source, kiln::StepSlicing{micro, 1, 1, 0}, seq, static_cast<int64_t>(batches));
  t0 = clock::now();
  for (uint64_t i = 0; i < batches; ++i) prefetcher.next();
  s = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("prefetched: %llu steps in %.2f s: %.1f M tokens/s (waited %.2f s)\n",
              static_cast<unsigned long long>(batches), s, tokens / s / 1e6, prefetcher.wait_seconds());
  std::filesystem::remove_all(dir);
  return 0;
}
