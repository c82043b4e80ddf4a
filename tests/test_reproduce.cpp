// The reproduction runner on a tiny configuration (a few steps on generated data): every run's files,
// runs.csv, and the plot script's exit status and figures.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "runtime/error.h"
#include "apps/main_guard.h"
#include "reproduce/runner.h"
#include "reproduce/summary.h"
#include "runtime/folder_lock.h"
#include "support/synthetic_data.h"

using namespace renorm;
namespace fs = std::filesystem;

TEST_CASE("reproduce: presets, the run plan and the clipping-schedule rule", "[reproduce]") {
  const std::string data = test::make_synthetic_cifar("plan", 4, 4);
  ReproduceConfig c;
  c.data_dir = data;
  const ReproduceConfig q = resolve(c);
  CHECK(q.steps == 250);
  CHECK(q.alpha == 0.05f);
  CHECK(q.microbatch == 2);
  CHECK(q.noniid_microbatch == 4);
  CHECK_FALSE(q.augment);
  const std::vector<RunSpec> runs = plan(q);
  REQUIRE(runs.size() == 18);  // (3 microbatch + 3 non-iid configurations) x 3 seeds
  CHECK(runs[3].microbatch == 2);
  CHECK(runs[9].microbatch == 4);  // Figure 3's i.i.d. baseline: batchnorm over microbatches of 4, i.i.d.
  CHECK(runs[9].norm == NormKind::BatchNorm);
  CHECK(runs[9].sampler == Sampler::Iid);
  CHECK(runs[12].sampler == Sampler::NonIid);
  CHECK(runs[12].noniid_run == 2);
  CHECK(train_config(q, runs[12]).noniid_run == 2);
  c.figure1 = true;
  c.experiment = Experiment::Microbatch;
  CHECK(plan(resolve(c)).size() == 12);
  c.experiment = Experiment::Classes;  // runs of 4, 2, 1 same-class examples in microbatches of 4
  const std::vector<RunSpec> classes = plan(resolve(c));
  REQUIRE(classes.size() == 18);
  CHECK(classes[0].noniid_run == 4);
  CHECK(classes[17].noniid_run == 1);
  CHECK(classes[17].dir == "reproduction/classes/brn-k1-s3");
  c.experiment = Experiment::Microbatch;
  c.preset = "long";
  CHECK(resolve(c).steps == 1500);
  CHECK(resolve(c).augment);
  c.preset = "full";
  CHECK(resolve(c).steps == 30000);
  CHECK(resolve(c).alpha == 0.01f);
  CHECK(resolve(c).microbatch == 4);
  c.dataset = DatasetKind::FashionMnist;
  CHECK(train_config(resolve(c), plan(resolve(c))[0]).dataset == DatasetKind::FashionMnist);
  c.preset = "fast";
  CHECK_THROWS_WITH(resolve(c), Catch::Contains("--preset: 'fast' is not one of smoke, quick, long, full"));
  // The smoke preset (scripts/check-fresh-machine.sh): the quick preset's six configurations, one seed, 10 steps.
  ReproduceConfig smoke;
  smoke.data_dir = data;
  smoke.preset = "smoke";
  const ReproduceConfig sm = resolve(smoke);
  CHECK(sm.steps == 10);
  CHECK(sm.eval_every == 5);
  const std::vector<RunSpec> smoke_runs = plan(sm);
  REQUIRE(smoke_runs.size() == 6);
  for (size_t i = 0; i < smoke_runs.size(); ++i) {
    CHECK(smoke_runs[i].label == runs[i * 3].label);  // quick's runs: each configuration's 3 seeds in a row
    CHECK(smoke_runs[i].seed == 1);
  }
  c.preset = "full";
  c.dataset = DatasetKind::Cifar10;
  // The paper's schedule at its own length; the warmup floor of 3/alpha for short runs.
  const ClipSchedule paper = ClipSchedule::for_run(160000, 0.01f);
  CHECK(paper.warmup_steps == 5000);
  CHECK(paper.rmax_steps == 40000);
  CHECK(paper.dmax_steps == 25000);
  const ClipSchedule quick = ClipSchedule::for_run(300, 0.05f);
  CHECK(quick.warmup_steps == 60);
  CHECK(quick.rmax_steps == 60 + 54);
  CHECK(quick.dmax_steps == 60 + 31);
  CHECK_THROWS_WITH(enum_parse<Experiment>("figure9", "--experiment"),
                    "--experiment: 'figure9' is not one of microbatch, noniid, classes, all");
  CHECK(enum_name(Experiment::Noniid) == "noniid");
  c.experiment = Experiment::All;
  c.microbatch = 5;
  CHECK_THROWS_WITH(resolve(c), Catch::Contains("--microbatch 5"));
  c.microbatch = 0;
  c.noniid_microbatch = 3;
  CHECK_THROWS_WITH(resolve(c), Catch::Contains("--noniid-microbatch 3"));
  c.noniid_microbatch = 0;
  c.data_dir = "/nonexistent";
  CHECK_THROWS_WITH(resolve(c), Catch::Contains("--data-dir /nonexistent"));
}

namespace {
// A tiny resolved configuration on generated data: batch 16, 2 seeds, CPU, no figures.
ReproduceConfig tiny(const std::string& name, Experiment experiment, int64_t steps) {
  const std::string data = test::make_synthetic_cifar(name, 16, 32);
  ReproduceConfig c;
  c.experiment = experiment;
  c.data_dir = data;
  c.out_dir = data + "/rep";
  c.steps = steps;
  c.eval_every = 2;
  c.batch = 16;
  c.seeds = 2;
  c.device = "cpu";
  c.plot = false;
  return resolve(c);
}

int line_count(const std::string& path) {
  std::ifstream f(path);
  int lines = 0;
  for (std::string line; std::getline(f, line);) ++lines;
  return lines;
}
}  // namespace

TEST_CASE("reproduce: a tiny run writes every run's files, runs.csv and the figures", "[reproduce][slow]") {
  const ReproduceConfig c = tiny("repro", Experiment::All, 4);
  const std::string out = c.out_dir;
  REQUIRE(reproduce(c).ran == plan(c).size());
  CHECK(line_count(out + "/runs.csv") == 1 + 12);
  {  // every row names the machine (train/hardware.h): the digits of a CPU run depend on it
    std::ifstream runs(out + "/runs.csv");
    std::string header, row;
    std::getline(runs, header);
    std::getline(runs, row);
    CHECK(header.size() > 9);
    CHECK(header.substr(header.size() - 9) == ",hardware");
    CHECK(row.find(",\"CPU ") != std::string::npos);
    CHECK(row.find("; renorm ISA ") != std::string::npos);
  }
  for (const RunSpec& r : plan(c)) {
    for (const char* f : {"config.json", "metrics.csv", "model.safetensors"}) CHECK(fs::exists(r.dir + "/" + f));
    const double acc = final_val_acc(r.dir);
    CHECK((acc >= 0 && acc <= 1));
  }
  // The summary: every configuration with its 2 seeds, every comparison paired over both.
  std::ifstream summary_file(out + "/summary.md");
  const std::string summary((std::istreambuf_iterator<char>(summary_file)), std::istreambuf_iterator<char>());
  CHECK_THAT(summary, Catch::Contains("; CPU "));  // the machine, beside the commit
  CHECK_THAT(summary, Catch::Contains("| microbatch | Batch Renorm, microbatch 2 | 2 | "));
  CHECK_THAT(summary, Catch::Contains("| noniid | Batchnorm, i.i.d., microbatch 4 (baseline) | 2 | "));
  CHECK_THAT(summary, Catch::Contains("| Batch Renorm − batchnorm, non-i.i.d., microbatch 4 | 2 | "));
  CHECK_THAT(summary, Catch::Contains("| Batch Renorm non-i.i.d. − batchnorm i.i.d., microbatch 4 | 2 | "));
  CHECK(comparisons(c).size() == 5);
  struct Recorder : ReproduceObserver {  // what a display is told
    std::vector<bool> done;
    int ends = 0;
    void run_begins(size_t, size_t, const RunSpec&, bool d) override { done.push_back(d); }
    void run_ends(const RunSpec&, const TrainResult&) override { ++ends; }
  } rec;
  const ReproduceResult again = reproduce(c, &rec);
  CHECK(again.ran == 0);  // finished runs are skipped, not redone
  CHECK(again.planned == 12);
  CHECK(rec.done == std::vector<bool>(12, true));
  CHECK(rec.ends == 0);
  CHECK(again.summary == summary);
  REQUIRE(plot_commands(c, "py").size() == 1);
  CHECK(plot_commands(c, "py")[0] == "py " + plot_script_path() + " " + out);
  const std::string py = python_with_matplotlib();
  if (py.empty()) {
    std::cout << "SKIPPED: no python3 with matplotlib for the plot script" << std::endl;
  } else {
    CHECK(std::system((py + " " + plot_script_path() + " " + out).c_str()) == 0);
    for (const char* f : {"microbatch.png", "microbatch.svg", "noniid.png", "noniid.svg"}) CHECK(fs::exists(out + "/" + f));
    CHECK(std::system((py + " " + plot_script_path() + " /nonexistent 2>/dev/null").c_str()) != 0);
    CHECK(std::system((py + " " + plot_script_path("plot_sweep.py") + " " + out + " >/dev/null").c_str()) == 0);  // by M
  }
  {  // one owner: a reproduction in the same folder is refused while another holds it
    const FolderLock held(out, "test", "test");
    CHECK_THROWS_AS(reproduce(c), FolderBusy);
  }
  ReproduceConfig longer = c;  // the same folder, other settings: refused before any run, naming the setting
  longer.steps = 6;
  CHECK_THROWS_WITH(reproduce(longer), Catch::Contains("--steps: 6 given, 4 in the run"));
  ReproduceConfig other_data = c;  // the same settings on other data: refused too (the runs' fingerprints)
  other_data.data_dir = test::make_synthetic_cifar("repro-other", 16, 33);
  CHECK_THROWS_WITH(reproduce(other_data), Catch::Contains("holds other data than the run's"));
  CHECK(fs::exists(plan(c)[0].dir + "/model.safetensors"));
  longer.experiment = Experiment::Microbatch;  // --overwrite replaces them (3 configurations x 2 seeds, 6 steps each)
  longer.overwrite = true;
  REQUIRE(reproduce(longer).ran == 6);
  CHECK(config_from_json_file(plan(c)[0].dir + "/config.json").steps == 6);
}

TEST_CASE("reproduce: the classes experiment runs k = M'...1 and its sweep figure is drawn", "[reproduce][slow]") {
  const ReproduceConfig c = tiny("repro-classes", Experiment::Classes, 2);
  const std::string out = c.out_dir;
  REQUIRE(reproduce(c).ran == plan(c).size());
  CHECK(plot_commands(c, "py").size() == 2);  // the curves, and the sweep against k
  for (const char* run : {"bn-k4-s1", "brn-k4-s2", "bn-k2-s1", "brn-k1-s2"})
    CHECK(fs::exists(out + "/classes/" + run + "/metrics.csv"));
  const std::string py = python_with_matplotlib();
  if (py.empty()) {
    std::cout << "SKIPPED: no python3 with matplotlib for the plot script" << std::endl;
    return;
  }
  REQUIRE(std::system((py + " " + plot_script_path("plot_sweep.py") + " " + out + "/classes --by runs >/dev/null").c_str()) == 0);
  CHECK(line_count(out + "/classes/sweep.csv") == 1 + 6);  // header + (bn, brn) x k in {1, 2, 4}
  CHECK(fs::exists(out + "/classes/sweep.png"));
}

TEST_CASE("apps: copies of one stop signal count once - asking again later ends the process", "[signals]") {
  CHECK_FALSE(app::asks_again(0, app::kRepeatWindowNs - 1));
  CHECK(app::asks_again(0, app::kRepeatWindowNs));
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child: async-signal-safe calls only
    app::install_stop_handlers();
    std::raise(SIGINT);   // the terminal's copy to the process group,
    std::raise(SIGTERM);  // a launcher's forwarded one,
    std::raise(SIGINT);   // and another: one request
    if (app::stop_signal != SIGINT) _exit(10);
    const timespec past_window{1, 200'000'000};
    nanosleep(&past_window, nullptr);
    std::raise(SIGINT);  // the user asking again: the default action, at once
    _exit(11);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));  // not exit 10 (a copy ended it, or the first was lost) nor 11 (ignored)
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGINT));
}

TEST_CASE("folder lock: one holder - released with it", "[train]") {
  const std::string dir = test::make_synthetic_cifar("lock", 1, 1) + "/held";
  {
    const FolderLock a(dir, "--out held", "test");
    CHECK_THROWS_WITH(FolderLock(dir, "--out held", "test"), Catch::Contains("pid " + std::to_string(getpid()) + " (test)"));
  }
  CHECK_NOTHROW(FolderLock(dir, "--out held", "test"));
  CHECK_THROWS_AS(FolderLock("/proc/renorm-no/x", "--out /proc/renorm-no/x", "test"), IoError);
}
