// The training loop behind renorm-train and renorm-reproduce: data, model, optimizer, schedules,
// evaluation every N steps, metrics.csv, config.json, atomic safetensors checkpoints, exact resume.
// The library never prints: progress goes to a TrainObserver (train/observer.h) the caller provides.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/comm.h"
#include "runtime/folder_lock.h"
#include "train/config.h"
#include "train/observer.h"

namespace renorm {

struct TrainResult {
  int64_t steps = 0;  // the steps done (with those of a resumed run)
  double final_val_loss = 0, final_val_acc = 0;
  double seconds = 0;
  bool interrupted = false;  // the observer asked to stop (a signal): `checkpoint` holds step `steps`
  std::string checkpoint;
};

// Runs (or, with resume_dir, continues) a training run; writes everything into out_dir.
// With `world` of K > 1 ranks (runtime/comm.h; every rank calls train with the same settings) the run is
// data-parallel (docs/distributed.md): rank r trains on examples [rB/K, (r+1)B/K) of every minibatch,
// normalizing over its own examples (microbatches of --microbatch within them); gradients and the
// norm layers' moving averages are averaged across ranks every step (GPU: NCCL, one GPU per rank);
// validation is sharded and reduced; rank 0 alone writes files and calls the observer's display
// callbacks. Null: one process.
// Throws TrainingDiverged when the training or validation loss becomes NaN or Inf, or when a parameter, buffer or
// optimizer state is not finite at a checkpoint or at the end: no checkpoint or model with a non-finite
// value is ever written, and the message names the last good checkpoint. When the observer's
// stop_requested() says so, finishes the step, writes a checkpoint and returns with `interrupted`.
TrainResult train(const TrainConfig& config, TrainObserver* observer = nullptr,
                  std::shared_ptr<Communicator> world = nullptr);

// The files a run writes into its folder (config.json, metrics.csv, schedule.csv, the checkpoint and
// the model): a folder holding any of them holds a run.
const std::vector<std::string>& run_files();

// Takes c.out_dir for this run: creates it and locks it (runtime/folder_lock.h: FolderBusy naming the
// holder's pid while another process runs there), then refuses (ConfigError) a folder that already
// holds a run, unless this run continues it (resume_dir is out_dir) or c.overwrite, which removes that
// run's files first (and nothing else). train() calls it on the rank that writes, before writing.
FolderLock claim_run_folder(const TrainConfig& c);

struct TrainingDiverged : std::exception {
  std::string message;
  explicit TrainingDiverged(std::string m) : message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

}  // namespace renorm
