// kiln-data sample-corpus: a deterministic English-like JSONL corpus for the quickstart, so the
// first training run needs no download (generator: sample_corpus.h).
#include <cmath>
#include <fstream>

#include <fmt/core.h>

#include "common.h"
#include "progress.h"
#include "sample_corpus.h"

namespace kiln::data_tools {

void add_sample_corpus_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("sample-corpus", "Write a deterministic sample corpus (JSONL, key \"text\")");
  struct Args {
    std::string output;
    double size_mb = 2;
    uint64_t seed = 1;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--output", args->output, "JSONL file to write")->required();
  cmd->add_option("--size-mb", args->size_mb, "Approximate size in megabytes (10^6 bytes)")
      ->check(CLI::Range(0.001, 100000.0))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Seed: the same seed gives the same bytes")->capture_default_str();
  cmd->callback([&action, args] {
    action = [args] {
      const std::filesystem::path out(args->output);
      if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
      // Written beside the destination and renamed, so an interrupted run leaves no half corpus.
      const std::filesystem::path tmp = out.string() + ".tmp";
      const auto target = static_cast<uint64_t>(std::llround(args->size_mb * 1e6));
      SampleCorpusStats stats;
      {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw std::runtime_error(tmp.string() + ": cannot create");
        stats = write_sample_corpus(f, target, args->seed);
        f.flush();
        if (!f) throw std::runtime_error(tmp.string() + ": write failed");
      }
      std::filesystem::rename(tmp, out);
      fmt::print("sample-corpus: {} documents, {} (seed {}) -> {}\n", format_thousands(stats.documents),
                 format_megabytes(stats.bytes), args->seed, out.string());
      return 0;
    };
  });
}

}  // namespace kiln::data_tools
