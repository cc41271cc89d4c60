// Checkpoint throughput: GB/s of save_checkpoint and load_checkpoint for one process holding a
// whole model's state (bf16 params + fp32 masters + Adam m + v = 14 bytes per parameter).
//
//   build/bench/checkpoint_bench [--layers 3] [--dir DIR] [--repeat 3]
//
// The model has the 1.6B config's layer shapes (d 2048, 32 heads, f 5632) with a 1,024-entry
// vocabulary and --layers layers, so the state can be sized to the memory at hand (3 layers:
// 155 M parameters, 2.2 GB; the real 1.64 B model's 23 GB does not fit this machine's RAM twice).
// Save includes every fsync. Before each cold load the checkpoint's pages are dropped from the
// page cache (posix_fadvise DONTNEED on the fsynced files), so the load reads the disk: first
// the verification pass (CRC of every array), then the copy pass, which then comes from the
// page cache. Also timed: verify_checkpoint alone (cold), a warm load, and a cold load into
// tp rank 0 of 2 (resharding). Not a test: prints numbers for docs/performance.md.
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ckpt/checkpoint.h"
#include "config/loader.h"
#include "tensor/bf16.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void drop_cache(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const int fd = ::open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct State {
  kiln::TpLayout layout;
  std::vector<std::byte> params;
  std::vector<float> masters, m, v;
  kiln::RankState rank;
  State(const kiln::ModelConfig& model, int tp_rank, int tp_size) : layout(model, tp_rank, tp_size) {
    const size_t n = static_cast<size_t>(layout.registry().total_numel());
    params.resize(n * 2);
    masters.resize(n);
    m.resize(n);
    v.resize(n);
    for (size_t i = 0; i < n; ++i) {  // not constant, so that nothing could compress it
      masters[i] = static_cast<float>(i % 1009) * 1e-3f;
      m[i] = masters[i] * 0.5f;
      v[i] = masters[i] * masters[i];
    }
    kiln::to_bf16(masters.data(), reinterpret_cast<kiln::bf16*>(params.data()), n);
    rank.layout = &layout;
    rank.tp_rank = tp_rank;
    rank.tp_size = tp_size;
    rank.shard_end = static_cast<int64_t>(n);
    rank.param_dtype = kiln::DType::bf16;
    rank.params = params;
    rank.masters = masters;
    rank.m = m;
    rank.v = v;
  }
  double bytes() const { return static_cast<double>(params.size() + 12 * masters.size()); }
};

}  // namespace

int main(int argc, char** argv) {
  int layers = 3, repeat = 3;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kiln-checkpoint-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--layers") layers = std::atoi(argv[i + 1]);
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: checkpoint_bench [--layers N] [--dir DIR] [--repeat N]\n");
      return 2;
    }
  }
  const std::string yaml = "model:\n  num_layers: " + std::to_string(layers) +
                           "\n  hidden_size: 2048\n  num_heads: 32\n  ffn_hidden_size: 5632\n  vocab_size: 1024\n"
                           "  vocab_pad_multiple: 64\n  seq_length: 4096\n  tied_embeddings: false\ntrain:\n  steps: 10\n";
  const kiln::ModelConfig model = kiln::load_config_tree(YAML::Load(yaml), "bench.yml", {}).config.model;
  std::filesystem::remove_all(dir);
  State state(model, 0, 1);
  const double gb = state.bytes() / 1e9;
  std::printf("state: %lld parameters, %.2f GB (bf16 params + fp32 masters, m, v) in %s\n",
              static_cast<long long>(state.layout.registry().param_count()), gb, dir.c_str());

  kiln::SelfCommunicator world("world");
  kiln::TrainerState ts;
  std::filesystem::path path;
  for (int r = 0; r < repeat; ++r) {
    ts.step = r + 1;
    const auto t0 = Clock::now();
    path = kiln::save_checkpoint({dir, 1}, ts, state.rank, world);
    const double s = seconds_since(t0);
    std::printf("save            %6.2f s  %6.2f GB/s\n", s, gb / s);
  }
  for (int r = 0; r < repeat; ++r) {
    drop_cache(dir);
    auto t0 = Clock::now();
    kiln::verify_checkpoint(path);
    const double sv = seconds_since(t0);
    drop_cache(dir);
    t0 = Clock::now();
    kiln::load_checkpoint(path, state.rank);
    const double sl = seconds_since(t0);
    t0 = Clock::now();
    kiln::load_checkpoint(path, state.rank);
    const double sw = seconds_since(t0);
    std::printf("verify (cold)   %6.2f s  %6.2f GB/s | load (cold) %6.2f s  %6.2f GB/s | load (warm) %6.2f s  %6.2f GB/s\n",
                sv, gb / sv, sl, gb / sl, sw, gb / sw);
  }
  {
    State half(model, 0, 2);
    drop_cache(dir);
    const auto t0 = Clock::now();
    kiln::load_checkpoint(path, half.rank);
    const double s = seconds_since(t0);
    std::printf("load into tp rank 0 of 2 (cold): %.2f s, %.2f GB of its state/s\n", s, half.bytes() / 1e9 / s);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
