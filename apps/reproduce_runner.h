// The paper reproduction: sets of training runs written into one folder, then plotted.
//   microbatch (paper Figure 2): batchnorm over the whole minibatch (baseline), batchnorm over
//     microbatches of M, Batch Renorm over microbatches of M; optionally Batch Renorm over the whole
//     minibatch (Figure 1).
//   noniid (paper Figure 3): batchnorm vs Batch Renorm over microbatches of M', trained with the
//     non-i.i.d. sampler (pairs of same-class examples), validated on i.i.d. test data, against the
//     baseline the figure compares with: batchnorm over microbatches of M' of i.i.d. minibatches.
//   classes: the non-i.i.d. experiment against the number of classes per microbatch of M': runs of
//     k = M', M'/2, ..., 1 same-class examples, so a microbatch holds M'/k classes.
// Presets (kPresets in the .cpp, the one table): smoke (every quick experiment for 10 steps, one seed:
// the fresh-machine check), quick (the README's main job, ~15 min on 2 CPU cores),
// long (about 2 hours on 2 CPU cores), full (all of CIFAR-10, a GPU). docs/reproduction.md says why each
// preset's settings are what they are.
// Layout: <out>/runs.csv (experiment,label,norm,microbatch,sampler,noniid_run,seed,dir,final_val_acc),
// <out>/summary.md (apps/reproduce_summary.h), one renorm-train folder per run; <out>/<experiment>.png and .svg from scripts/plot_curves.py, and for the
// classes experiment <out>/classes/sweep.png from scripts/plot_sweep.py.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/batch_renorm.h"
#include "train/trainer.h"

namespace renorm {

struct ReproduceConfig {
  std::string experiment = "all";  // microbatch | noniid | classes | all (microbatch and noniid)
  std::string preset = "quick";    // smoke | quick | long | full (kPresets)
  std::string dataset = "cifar10";  // cifar10 | fashion-mnist
  std::string model = "cifar-cnn";  // cifar-cnn | resnet20
  std::string data_dir, out_dir = "reproduction", device = "auto";
  // 0 / -1: the preset's value. microbatch: Figure 2's M; noniid_microbatch: M' of noniid and classes.
  int64_t batch = 0, microbatch = 0, noniid_microbatch = 0, steps = 0, seeds = 0, eval_every = 0, train_limit = -1;
  float alpha = 0;
  bool augment = false;  // set by resolve() from the preset
  bool figure1 = false;  // also Batch Renorm over the whole minibatch
  bool plot = true;
  bool overwrite = false;  // replace run folders made with other settings (else refused, before any run)
  int threads = 0;
};

struct RunSpec {
  std::string experiment, label, norm, sampler, dir;
  int64_t microbatch = 0, noniid_run = 2;  // noniid_run: the non-i.i.d. sampler's same-class run
  uint64_t seed = 1;
};

// The presets' names ("smoke, quick, long, full") and values ("smoke: ...; quick: ...; ..."), for --help,
// errors and the docs.
std::string preset_names();
std::string preset_summary();

// The preset's values for every setting left unset; throws ConfigError naming a bad flag.
ReproduceConfig resolve(ReproduceConfig c);
std::vector<RunSpec> plan(const ReproduceConfig& c);
// The run's settings; on `ranks` > 1 ranks the whole-minibatch baseline normalizes across the ranks
// (--sync-norm), so that every run means what it means on one process (docs/distributed.md).
TrainConfig train_config(const ReproduceConfig& c, const RunSpec& r, int ranks = 1);

// Holds <out> (runtime/folder_lock.h: a second reproduction there is refused), checks every planned run
// folder before running any (one made with other settings is refused naming the setting, unless
// --overwrite), runs every planned run that has not finished yet (a finished run has model.safetensors;
// an interrupted one is resumed), writes runs.csv and summary.md and prints the summary, and renders the
// figures when python3 with matplotlib is present. Returns an exit status
// (apps/exit_status.h): 0 on success, kExitInterrupted after a signal, kExitPlotFailed.
// With `world` of K > 1 ranks (renorm-reproduce under mpirun) every run is data-parallel; rank 0 decides
// which runs are done, prints and writes runs.csv and the figures.
int reproduce(const ReproduceConfig& c, TrainObserver* observer = nullptr,  // observer: each run's progress
              std::shared_ptr<Communicator> world = nullptr);

// A python3 that imports matplotlib: $RENORM_PYTHON, python3 on the PATH, or /usr/bin/python3; "" if none.
std::string python_with_matplotlib();

// Where a plot script is: the source tree's scripts/<name>; for plot_curves.py $RENORM_PLOT_SCRIPT first.
std::string plot_script_path(const std::string& name = "plot_curves.py");

}  // namespace renorm
