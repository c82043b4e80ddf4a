// renorm-reproduce: the paper's small-microbatch (Figure 2) and non-i.i.d. (Figure 3) experiments on
// CIFAR-10 (or Fashion-MNIST), several seeds per configuration, one output folder, figures at the end.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "apps/main_guard.h"
#include "apps/mpi_launch.h"
#include "apps/progress.h"
#include "runtime/error.h"
#include "apps/reproduce_runner.h"

int main(int argc, char** argv) {
  renorm::ReproduceConfig c;
  if (const char* env = std::getenv("RENORM_DATA_DIR")) c.data_dir = env;
  CLI::App app{"renorm-reproduce: Batch Renorm (Ioffe 2017) Figure 2 (microbatches) and Figure 3 (non-i.i.d.) on "
               "CIFAR-10.\nPresets: smoke (10 steps, one seed: does the whole path work?), quick (about 15 minutes on 2 CPU cores, the 5085-image subset), long (about 2 hours on "
               "2 CPU cores, the subset), full (all of CIFAR-10, a GPU); docs/reproduction.md.\n" +
               renorm::preset_summary()};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--experiment", c.experiment, "microbatch | noniid | all (the two) | classes (non-i.i.d. against "
                 "classes per microbatch)")->capture_default_str();
  app.add_option("--preset", c.preset, renorm::preset_names())->capture_default_str();
  app.add_option("--dataset", c.dataset, "cifar10 | fashion-mnist")->capture_default_str();
  app.add_option("--model", c.model, "cifar-cnn | resnet20 (He et al. 2016, option-A shortcuts)")->capture_default_str();
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
    const renorm::ReproduceConfig resolved = renorm::resolve(c);  // flags checked before any launch
    renorm::app::launch_ranks("renorm-reproduce", ranks, argc, argv);
    renorm::app::install_stop_handlers();
    renorm::app::ConsoleProgress progress(false);
    return renorm::reproduce(resolved, &progress, renorm::world_communicator());
  });
}
