// renorm-reproduce: the paper's small-microbatch (Figure 2) and non-i.i.d. (Figure 3) experiments on
// CIFAR-10 (or Fashion-MNIST), several seeds per configuration, one output folder, figures at the end.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "apps/exit_status.h"
#include "apps/main_guard.h"
#include "apps/mpi_launch.h"
#include "apps/progress.h"
#include "reproduce/runner.h"
#include "runtime/error.h"

namespace {
// The terminal display: each run's line, its progress (ConsoleProgress) and its final accuracy.
class ConsoleReproduce : public renorm::ReproduceObserver {
 public:
  void run_begins(size_t i, size_t n, const renorm::RunSpec& r, bool done) override {
    std::printf("[%zu/%zu] %s, seed %llu%s\n", i + 1, n, r.label.c_str(), (unsigned long long)r.seed,
                done ? (": already done (" + r.dir + ")").c_str() : "");
    std::fflush(stdout);
  }
  void run_ends(const renorm::RunSpec&, const renorm::TrainResult& res) override {
    std::printf("    validation accuracy %.4f after %lld steps\n", res.final_val_acc, (long long)res.steps);
  }
  void started(const renorm::RunStart& s) override { run_.started(s); }
  void row(const renorm::MetricsRow& r, int64_t total, bool evaluated, double eta_s) override { run_.row(r, total, evaluated, eta_s); }
  void finished() override { run_.finished(); }
  bool stop_requested() override { return run_.stop_requested(); }

 private:
  renorm::app::ConsoleProgress run_{false};
};

// What renorm-reproduce prints at the end, and the figures (python3 with matplotlib): an exit status.
int report(const renorm::ReproduceConfig& c, const renorm::ReproduceResult& r) {
  using namespace renorm::app;
  if (r.interrupted) {
    std::fprintf(stderr, "renorm-reproduce: stopped by a signal after step %lld of %s (checkpoint %s written); "
                 "run the same command again to continue\n", (long long)r.stopped_result.steps, r.stopped.dir.c_str(),
                 r.stopped_result.checkpoint.c_str());
    return kExitInterrupted;
  }
  std::printf("renorm-reproduce: %zu of %zu runs in %.1f minutes (%zu already done); results in %s\n", r.ran, r.planned,
              r.minutes, r.planned - r.ran, c.out_dir.c_str());
  std::printf("\n%s\nrenorm-reproduce: this summary is %s/summary.md\n", r.summary.c_str(), c.out_dir.c_str());
  const std::string python = renorm::python_with_matplotlib();
  for (const std::string& cmd : renorm::plot_commands(c, python.empty() ? "python3" : python)) {
    if (!c.plot || python.empty()) {
      std::printf("renorm-reproduce: %sto render the figures: %s\n",
                  c.plot ? "no python3 with matplotlib found; install python3-matplotlib and, " : "", cmd.c_str());
      continue;
    }
    std::fflush(stdout);
    if (const int rc = std::system(cmd.c_str()); rc != 0) {
      std::fprintf(stderr, "renorm-reproduce: plotting failed (%s exited with %d)\n", cmd.c_str(), rc);
      return kExitPlotFailed;
    }
  }
  return kExitOk;
}
}  // namespace

int main(int argc, char** argv) {
  renorm::ReproduceConfig c;
  std::string experiment = "all", dataset = "cifar10", model = "cifar-cnn";
  if (const char* env = std::getenv("RENORM_DATA_DIR")) c.data_dir = env;
  CLI::App app{"renorm-reproduce: Batch Renorm (Ioffe 2017) Figure 2 (microbatches) and Figure 3 (non-i.i.d.) on "
               "CIFAR-10.\nPresets: smoke (10 steps, one seed: does the whole path work?), quick (about 15 minutes on 2 CPU cores, the 5085-image subset), long (about 2 hours on "
               "2 CPU cores, the subset), full (all of CIFAR-10, a GPU); docs/reproduction.md.\n" +
               renorm::preset_summary()};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--experiment", experiment, "microbatch | noniid | all (the two) | classes (non-i.i.d. against "
                 "classes per microbatch)")->capture_default_str();
  app.add_option("--preset", c.preset, renorm::preset_names())->capture_default_str();
  app.add_option("--dataset", dataset, "cifar10 | fashion-mnist")->capture_default_str();
  app.add_option("--model", model, "cifar-cnn | resnet20 (He et al. 2016, option-A shortcuts)")->capture_default_str();
  std::string precision = renorm::enum_name(c.precision);
  app.add_option("--precision", precision, renorm::kPrecisionHelp)
      ->capture_default_str();
  app.add_option("--data-dir", c.data_dir, "the dataset's folder (default: $RENORM_DATA_DIR)");
  app.add_option("--out", c.out_dir, "output folder")->capture_default_str();
  app.add_option("--device", c.device, "auto | cpu | cuda")->capture_default_str();
  app.add_option("--batch", c.batch, "minibatch size (preset: 128)");
  app.add_option("--microbatch", c.microbatch, "Figure 2's microbatch size M (preset's)");
  app.add_option("--noniid-microbatch", c.noniid_microbatch, "the non-i.i.d. experiments' microbatch size (preset's)");
  app.add_option("--steps", c.steps, "training steps per run (preset's)");
  app.add_option("--seeds", c.seeds, "seeds per configuration (preset's)");
  app.add_option("--eval-every", c.eval_every, "steps between validations (preset's)");
  app.add_option("--alpha", c.alpha, "moving-average rate (preset's)");
  app.add_option("--train-limit", c.train_limit, "use only the first N training images (0: all)");
  app.add_option("--threads", c.threads, "CPU threads (0: all)");
  app.add_flag("--figure1", c.figure1, "also Batch Renorm over the whole minibatch (paper Figure 1)");
  int ranks = 0;
  app.add_option("--ranks", ranks, "run every experiment data-parallel on K ranks: starts mpirun -np K (printed), "
                                   "each rank normalizing over its own examples (docs/distributed.md)");
  app.add_flag("--overwrite", c.overwrite, "replace run folders in --out made with other settings (without it such a "
                                          "folder is refused, before any run starts)");
  bool no_plot = false;
  app.add_flag("--no-plot", no_plot, "do not render the figures (prints the command that does)");
  if (const int rc = renorm::app::parse_flags(app, "renorm-reproduce", argc, argv); rc >= 0) return rc;
  c.plot = !no_plot;
  return renorm::app::guarded_main("renorm-reproduce", [&] {
    c.experiment = renorm::enum_parse<renorm::Experiment>(experiment, "--experiment");
    c.dataset = renorm::enum_parse<renorm::DatasetKind>(dataset, "--dataset");
    c.model = renorm::enum_parse<renorm::ModelKind>(model, "--model");
    c.precision = renorm::enum_parse<renorm::Precision>(precision, "--precision");
    const renorm::ReproduceConfig resolved = renorm::resolve(c);  // flags checked before any launch
    renorm::app::launch_ranks("renorm-reproduce", ranks, argc, argv);
    renorm::app::install_stop_handlers();
    ConsoleReproduce display;
    const std::shared_ptr<renorm::Communicator> world = renorm::world_communicator();
    const renorm::ReproduceResult r = renorm::reproduce(resolved, &display, world);
    if (world->rank() != 0) return int(r.interrupted ? renorm::app::kExitInterrupted : renorm::app::kExitOk);
    return report(resolved, r);
  });
}
