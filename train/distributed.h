// What a data-parallel run (docs/distributed.md) adds to the training loop, apart from the gradient
// averaging (train/grad_reducer.h): the settings every rank must share, the per-rank normalization group,
// the validation shard, and collective decisions.
#pragma once
#include <string>

#include "data/dataset.h"
#include "runtime/comm.h"
#include "train/config.h"

namespace renorm {

// The settings of rank `rank` of `ranks`: checks that the ranks divide --batch and that --microbatch
// divides each rank's share; with --microbatch 0 each rank normalizes over its own share (the paper's
// setting: a worker's examples are its normalization group), written as that number so that config.json
// says what ran. With --sync-norm the group is the whole minibatch across the ranks (--microbatch 0 or B,
// written as 0). ConfigError naming the flag otherwise. One process: `c` unchanged.
TrainConfig settings_for_ranks(TrainConfig c, int ranks);

// ConfigError on every rank unless all ranks run with rank 0's settings (config.json's text compared);
// a rank that differs names the first setting that does.
void require_same_settings(const TrainConfig& c, Communicator& world);

// Keeps the examples [rank·N/ranks, (rank+1)·N/ranks) of `d`: this rank's share of the validation set.
void keep_shard(Dataset& d, int rank, int ranks);

// True on every rank when `mine` is true on any (one float all-reduced: for a signal that reached some).
bool any_rank(bool mine, Communicator& world);

}  // namespace renorm
