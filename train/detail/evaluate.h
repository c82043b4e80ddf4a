// Validation of a training run (train/trainer.cpp's): the inference-mode loss and accuracy, and the
// mechanism behind Figure 2 (issue 14): the accuracy with the norm layers normalizing as in training,
// and each norm layer's train/inference gap. Library-internal (not installed).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "data/loader.h"
#include "models/model.h"
#include "runtime/comm.h"

namespace renorm {

struct Eval {
  double loss = NAN, acc = NAN;
  double acc_train_mode = NAN;  // the mechanism (issue 14): with the batch's statistics, as in training
  std::vector<double> gaps{};   // per norm layer: train/inference gap on one validation batch ({}: -Wextra)
};

// Inference-mode loss and accuracy over `val` (this rank's share), reduced over the ranks.
Eval evaluate(Model& model, DataLoader& val, Communicator& world);

// The validation set through the norm layers' training-mode normalization (microbatches of M of b = B/K
// examples, r and d at this step; dropout off, nothing moved): the accuracy over the first `batches`
// whole batches of this rank's share (the same count on every rank, so that --sync-norm's collectives
// line up), reduced over the ranks; and the per-layer gaps on the first batch, averaged over the ranks.
void evaluate_train_mode(Model& model, DataLoader& groups, int64_t batches, Communicator& world, Eval* ev);

}  // namespace renorm
