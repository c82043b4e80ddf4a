// The training loop behind renorm-train and renorm-reproduce: data, model, optimizer, schedules,
// evaluation every N steps, metrics.csv, config.json, atomic safetensors checkpoints, exact resume.
// The library never prints: progress goes to a TrainObserver (train/observer.h) the caller provides.
#pragma once
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

#include "train/config.h"
#include "train/observer.h"

namespace renorm {

struct TrainResult {
  int64_t steps = 0;
  double final_val_loss = 0, final_val_acc = 0;
  double seconds = 0;
};

// Runs (or, with resume_dir, continues) a training run; writes everything into out_dir.
// Throws TrainingDiverged when the loss becomes NaN or Inf (the last good checkpoint is kept).
TrainResult train(const TrainConfig& config, TrainObserver* observer = nullptr);

struct TrainingDiverged : std::exception {
  std::string message;
  explicit TrainingDiverged(std::string m) : message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
};

}  // namespace renorm
