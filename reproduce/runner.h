// The paper reproduction's runner: the plan's runs (reproduce/plan.h) trained into one folder, resumed
// where they stopped, summarized. Layout: <out>/runs.csv (experiment,label,norm,microbatch,sampler,
// noniid_run,seed,dir,final_val_acc), <out>/summary.md (reproduce/summary.h), one renorm-train folder per
// run; the figures come from the commands plot_commands() names (renorm-reproduce runs them):
// <out>/<experiment>.png and .svg from scripts/plot_curves.py, and for the classes experiment
// <out>/classes/sweep.png from scripts/plot_sweep.py. Like the trainer, it never prints: it reports to a
// ReproduceObserver.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "reproduce/plan.h"
#include "runtime/comm.h"
#include "train/observer.h"
#include "train/trainer.h"

namespace renorm {

// What a reproduction reports: each run's progress (TrainObserver's callbacks) and the plan's.
class ReproduceObserver : public TrainObserver {
 public:
  // Run i of n (from 0) is about to train, or (`done`) finished earlier and is skipped.
  virtual void run_begins(size_t i, size_t n, const RunSpec& r, bool done) {}
  virtual void run_ends(const RunSpec& r, const TrainResult& result) {}
};

struct ReproduceResult {
  size_t planned = 0, ran = 0;  // runs in the plan; runs trained by this call (the rest were done)
  double minutes = 0;
  bool interrupted = false;   // stopped by the observer (a signal) inside `stopped`, which wrote a checkpoint
  RunSpec stopped;
  TrainResult stopped_result;
  std::string summary;        // summary.md's text (rank 0, when not interrupted)
};

// Holds <out> (runtime/folder_lock.h: a second reproduction there is refused), checks every planned run
// folder before running any (one made with other settings is refused naming the setting, unless
// --overwrite), runs every planned run that has not finished yet (a finished run has model.safetensors;
// an interrupted one is resumed), writes runs.csv and summary.md.
// With `world` of K > 1 ranks (renorm-reproduce under mpirun) every run is data-parallel; rank 0 decides
// which runs are done and writes runs.csv and summary.md.
ReproduceResult reproduce(const ReproduceConfig& c, ReproduceObserver* observer = nullptr,
                          std::shared_ptr<Communicator> world = nullptr);

// The commands that draw the figures of a finished reproduction, with `python` (a python3 with
// matplotlib): the curves per experiment, and for the classes experiment the sweep against k.
std::vector<std::string> plot_commands(const ReproduceConfig& c, const std::string& python);

// A python3 that imports matplotlib: $RENORM_PYTHON, python3 on the PATH, or /usr/bin/python3; "" if none.
std::string python_with_matplotlib();

// Where a plot script is: the source tree's scripts/<name>; for plot_curves.py $RENORM_PLOT_SCRIPT first.
std::string plot_script_path(const std::string& name = "plot_curves.py");

}  // namespace renorm
