// A run's norm settings, resolved once: resolve_norm turns the flags (--norm, --microbatch, --sync-norm,
// --eps, --alpha, --rmax, --dmax, --clip-warmup, --rmax-steps, --dmax-steps) and the number of ranks into
// the object every consumer reads — the model's norm layers, the observer, the run folder's default name,
// schedule.csv, the reproduction. Each rule (M divides each rank's examples, --sync-norm's group, the
// schedule's order) is checked here once, with one message naming the flag.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/ops/renorm.h"
#include "train/config.h"

namespace renorm {

// Who normalizes over which examples (known before any data is read).
struct NormGroup {
  int64_t microbatch = 0;  // this rank's M (>= 1): its examples per normalization group
  int64_t group = 0;       // examples per normalization group of the run: M, or all ranks' B with --sync-norm
  int64_t rank_batch = 0;  // B/K: each rank's examples of every minibatch
  int ranks = 1;
  bool sync = false;       // one group across the ranks (--sync-norm): the op merges their moments
};

struct RunNorm {
  NormKind kind = NormKind::BatchRenorm;
  NormGroup group;
  NormConfig config;  // microbatch concrete (this rank's: group.microbatch; 0 with --sync-norm), schedule complete
};

// The group alone: ConfigError naming `flag` (--microbatch, or the reproduction's --noniid-microbatch)
// when M does not divide each rank's examples, or --sync-norm is given a group other than the minibatch.
NormGroup resolve_norm_group(const TrainConfig& c, int ranks, const char* flag = "--microbatch");

// Everything, for a run of `total_steps`: the group, NormConfig validated (its messages naming the
// flag), the clipping schedule completed for the run (ClipSchedule::completed) and checked.
RunNorm resolve_norm(const TrainConfig& c, int ranks, int64_t total_steps);

// NormConfig's rules, its messages naming renorm-train's flags ("norm: eps ..." as "--eps ...").
void validate_norm(const NormConfig& n);

// runs/<dataset>-<norm>-m<group>-s<seed>: renorm-train's --out when none is given.
std::string default_out_dir(const TrainConfig& c, const NormGroup& g);

}  // namespace renorm
