// Sweep files: expansion (product order, names, list entries, `set`) and validation, no compute.
#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "sweep/sweep.h"

namespace kiln::sweep {
namespace {

using testing::TempDir;

std::string tiny() { return std::string(KILN_SOURCE_DIR) + "/configs/tiny-synthetic.yml"; }

std::string value_of(const SweepRun& run, const std::string& key) {
  std::string found;
  for (const auto& o : run.overrides)
    if (o.key == key) found = o.value;  // the last one wins, as with --set
  return found;
}

std::string all_messages(const ConfigError& e) {
  std::string out;
  for (const auto& d : e.diagnostics()) out += d.text() + "\n";
  return out;
}

TEST(Sweep, GridIsTheProductInOrderWithNamesAndSet) {
  TempDir dir;
  const auto f = dir.write("s.yml", "base: " + tiny() +
                                        "\nname: sched\noutput_dir: " + (dir.path() / "runs").string() +
                                        "\nset: {train.steps: 200}\n"
                                        "grid:\n  schedule.style: [cosine, rsqrt, hyb]\n  optimizer.lr: [1e-3, 3e-3]\n");
  const Sweep s = load_sweep(f);
  ASSERT_EQ(s.runs.size(), 6u);
  EXPECT_EQ(s.runs[0].name, "sched-schedule.style=cosine-optimizer.lr=1e-3");
  EXPECT_EQ(s.runs[1].name, "sched-schedule.style=cosine-optimizer.lr=3e-3");
  EXPECT_EQ(s.runs[2].name, "sched-schedule.style=rsqrt-optimizer.lr=1e-3");
  EXPECT_EQ(s.runs[5].name, "sched-schedule.style=hyb-optimizer.lr=3e-3");
  for (const auto& run : s.runs) {
    EXPECT_EQ(run.config.train.steps, 200);
    EXPECT_EQ(run.config.train.name.value(), run.name);
    EXPECT_EQ(run.config.train.output_dir, (dir.path() / "runs").string());
    EXPECT_EQ(value_of(run, "train.steps"), "200");
  }
  EXPECT_DOUBLE_EQ(s.runs[1].config.optimizer.lr, 3e-3);
  EXPECT_EQ(value_of(s.runs[2], "schedule.style"), "rsqrt");
  EXPECT_EQ(s.base, std::filesystem::path(tiny()).lexically_normal());
}

TEST(Sweep, ListEntriesWithAndWithoutNamesAndBaseRelativeToTheSweepFile) {
  TempDir dir;
  dir.write("configs/base.yml", "base: " + tiny() + "\ntrain:\n  steps: 100\n");
  const auto f = dir.write("sweeps/s.yml",
                           "base: ../configs/base.yml\nname: bs\n"
                           "grid:\n  optimizer.lr: [1e-3]\n"
                           "list:\n  - {name: big-batch, batch.micro_batch: 8}\n  - {optimizer.weight_decay: 0.0}\n");
  const Sweep s = load_sweep(f);
  ASSERT_EQ(s.runs.size(), 3u);
  EXPECT_EQ(s.runs[0].name, "bs-optimizer.lr=1e-3");
  EXPECT_EQ(s.runs[1].name, "big-batch");
  EXPECT_EQ(s.runs[1].config.batch.micro_batch, 8);
  EXPECT_EQ(value_of(s.runs[1], "name"), "");  // `name` is the run's name, not an override
  EXPECT_EQ(s.runs[2].name, "bs-optimizer.weight_decay=0.0");
  EXPECT_EQ(s.runs[2].config.train.steps, 100);
  EXPECT_EQ(s.base, (dir.path() / "configs/base.yml").lexically_normal());
}

TEST(Sweep, NamesAreSanitised) {
  EXPECT_EQ(sanitize_run_name("a-b.c=[1, 2]/x"), "a-b.c=_1__2__x");
}

TEST(Sweep, EveryProblemIsReportedWithItsRun) {
  TempDir dir;
  const auto f = dir.write("s.yml", "base: " + tiny() +
                                        "\nname: x\n"
                                        "set: {optimizer.lrr: 1e-3}\n"
                                        "grid:\n  model.num_heads: [4, 3]\n"
                                        "list:\n  - {name: same, train.steps: 5}\n  - {name: same, train.steps: 6}\n");
  try {
    load_sweep(f);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string text = all_messages(e);
    EXPECT_NE(text.find("duplicate run name 'same'"), std::string::npos) << text;
  }
  // Without the duplicate, every run's config is checked and every problem named with its run.
  const auto g = dir.write("t.yml", "base: " + tiny() +
                                        "\nname: x\n"
                                        "set: {optimizer.lrr: 1e-3}\n"
                                        "grid:\n  model.num_heads: [4, 3]\n");
  try {
    load_sweep(g);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string text = all_messages(e);
    EXPECT_NE(text.find("run 'x-model.num_heads=4': unknown key 'optimizer.lrr'; did you mean 'optimizer.lr'?"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("run 'x-model.num_heads=3': unknown key 'optimizer.lrr'"), std::string::npos) << text;
  }
  const auto h = dir.write("u.yml", "base: " + tiny() + "\nname: x\ngrid:\n  model.num_heads: [4, 3]\n");
  try {
    load_sweep(h);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string text = all_messages(e);
    EXPECT_NE(text.find("run 'x-model.num_heads=3': model.hidden_size = 64"), std::string::npos) << text;
    EXPECT_NE(text.find("not divisible by model.num_heads = 3"), std::string::npos) << text;
    EXPECT_EQ(text.find("num_heads=4"), std::string::npos) << "the valid run is not reported: " << text;
  }
}

TEST(Sweep, SweepFileStructureErrors) {
  TempDir dir;
  const auto f = dir.write("s.yml", "base: " + tiny() + "\ngrd:\n  optimizer.lr: [1e-3]\n");
  try {
    load_sweep(f);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string text = all_messages(e);
    EXPECT_NE(text.find(f.string() + ":2:1: unknown sweep key 'grd'; did you mean 'grid'?"), std::string::npos) << text;
  }
  const auto g = dir.write("t.yml", "base: " + tiny() + "\ngrid:\n  optimizer.lr: 1e-3\n");
  EXPECT_THROW(load_sweep(g), ConfigError);
}

TEST(Sweep, SlurmScriptHasOneArrayIndexPerRun) {
  TempDir dir;
  const auto f = dir.write("s.yml", "base: " + tiny() + "\nname: s\ngrid:\n  optimizer.lr: [1e-3, 3e-3]\n");
  const std::string script = slurm_script(load_sweep(f), "/opt/kiln", "/work");
  EXPECT_NE(script.find("#SBATCH --array=0-1\n"), std::string::npos) << script;
  EXPECT_NE(script.find("  1) # s-optimizer.lr=3e-3\n    exec \"$KILN\" train '" +
                        std::filesystem::path(tiny()).lexically_normal().string() +
                        "' --set 'optimizer.lr=3e-3' --set 'train.name=s-optimizer.lr=3e-3' ;;"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("cd '/work'"), std::string::npos) << script;
}

}  // namespace
}  // namespace kiln::sweep
