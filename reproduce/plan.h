// The paper reproduction's plan: which training runs, with which settings, in which folders.
//   microbatch (paper Figure 2): batchnorm over the whole minibatch (baseline), batchnorm over
//     microbatches of M, Batch Renorm over microbatches of M; optionally Batch Renorm over the whole
//     minibatch (Figure 1).
//   noniid (paper Figure 3): batchnorm vs Batch Renorm over microbatches of M', trained with the
//     non-i.i.d. sampler (pairs of same-class examples), validated on i.i.d. test data, against the
//     baseline the figure compares with: batchnorm over microbatches of M' of i.i.d. minibatches.
//   classes: the non-i.i.d. experiment against the number of classes per microbatch of M': runs of
//     k = M', M'/2, ..., 1 same-class examples, so a microbatch holds M'/k classes.
// Presets (kPresets in plan.cpp, one row of data each): smoke (every quick experiment for 10 steps, one
// seed: the fresh-machine check), quick (the README's main job, ~15 min on 2 CPU cores), long (about 2
// hours on 2 CPU cores), full (all of CIFAR-10, a GPU). docs/reproduction.md says why each preset's
// settings are what they are.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "models/model.h"
#include "runtime/named_enum.h"
#include "tensor/ops/renorm.h"
#include "train/config.h"

namespace renorm {

enum class Experiment { Microbatch, Noniid, Classes, All };  // All: microbatch and noniid
const EnumNames<Experiment>& enum_names(Experiment);        // "microbatch", "noniid", "classes", "all"

struct ReproduceConfig {
  Experiment experiment = Experiment::All;
  std::string preset = "quick";  // a row of kPresets: smoke | quick | long | full
  DatasetKind dataset = DatasetKind::Cifar10;
  ModelKind model = ModelKind::CifarCnn;
  Precision precision = Precision::Fp32;
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
  Experiment experiment = Experiment::Microbatch;
  NormKind norm = NormKind::BatchNorm;
  Sampler sampler = Sampler::Iid;
  std::string label, dir;
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

}  // namespace renorm
