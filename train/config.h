// The settings of a training run: one table (visit) shared by the command line, config.json and --resume;
// one validate() that names the flag at fault. Settings with a fixed set of values are enums whose
// names (runtime/named_enum.h) the command line and config.json use.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/loader.h"
#include "models/model.h"
#include "tensor/ops/renorm.h"
#include "train/optim.h"

namespace renorm {

// A switch given as on | off.
enum class OnOff { Off, On };
const EnumNames<OnOff>& enum_names(OnOff);  // "off", "on"

struct TrainConfig {
  DatasetKind dataset = DatasetKind::Cifar10;
  std::string data_dir;
  ModelKind model = ModelKind::CifarCnn;
  Precision precision = Precision::Fp32;
  NormKind norm = NormKind::BatchRenorm;
  int64_t batch = 128;
  int64_t epochs = 0;      // exactly one of epochs, steps
  int64_t steps = 0;
  OptimizerKind optimizer = OptimizerKind::Sgd;
  float lr = 0.01f;
  LrSchedule::Kind lr_schedule = LrSchedule::Kind::Cosine;
  int64_t lr_warmup = 0;
  int64_t lr_step_size = 0;  // step schedule: 0 means a third of the run
  float lr_gamma = 0.1f;
  float momentum = SgdOptions{}.momentum;  // SGD momentum / Adam beta1
  bool nesterov = false;
  float weight_decay = 5e-4f;
  // The norm layers' settings as given (microbatch, eps, alpha, the clipping schedule's bounds and steps,
  // -1 where the run's length decides): their defaults and checks are NormConfig's; resolve_norm
  // (train/run_norm.h) makes them concrete for a run.
  NormConfig norm_config;
  bool sync_norm = false;  // data parallel: normalize over the whole minibatch across ranks
  int64_t eval_every = 0;  // steps between validations; 0: once per epoch
  int64_t log_every = 50;
  Sampler sampler = Sampler::Iid;
  int64_t noniid_run = LoaderConfig{}.class_run;  // non-i.i.d. sampler: examples of one class in a row
  bool augment = false;
  std::string device = "auto";
  // CUDA, one process: the training step (forward, backward, optimizer, the sums) captured once as a
  // CUDA graph after warm-up steps and replayed every step; the same numbers as eager steps, bit for bit.
  OnOff cuda_graph = OnOff::On;
  // norm_stats.csv (train/norm_stats.h): per norm layer at each log step, r and d before clipping, the
  // clip fractions and the moving averages' lag; the log step then runs eager (never under a graph).
  OnOff norm_stats = OnOff::Off;
  uint64_t seed = 1;
  int threads = 0;  // 0: OpenMP's default
  int64_t train_limit = 0, val_limit = 0;  // use only the first N examples (0: all)
  // What a run is given besides its settings (none of these is in config.json):
  std::string out_dir;
  std::string resume_dir;
  bool overwrite = false;  // a fresh run may replace the run already in out_dir (else that is refused)
  // --resume: the settings the caller set explicitly (visit's names, as the command line gave them); one
  // whose value differs from the run's own is refused, not ignored (resolve_resume).
  std::vector<std::string> explicit_settings;
  std::string data_dir_fallback;  // --resume: where else the data may be ($RENORM_DATA_DIR; resolve_resume)
  bool progress = true;  // a progress bar when stdout is a terminal
  int64_t stop_after = 0;  // stop after this step, as if interrupted (tests of --resume); 0: never

  // Calls f(name, field, help) for every setting (flags, config.json and resume share this table).
  template <class F>
  void visit(F&& f);
};

// Checks every setting that can be checked without reading data; throws ConfigError/IoError whose
// message names the flag (or the folder) at fault.
void validate(const TrainConfig& c);

// config.json: every setting, the library version, the device, the hardware (train/hardware.h) and the
// number of ranks (data parallel; information only: reading back ignores them), the data's fingerprint (data/dataset.h; --resume checks
// it; "" leaves it out); and back.
std::string config_to_json(TrainConfig c, const std::string& device_name, int world_size = 1,
                           const std::string& data_fingerprint = "");
// Reading back is strict (config.json is untrusted input): every setting present, of its type and range
// (integers as JSON integers, floats finite); an IoError names the file and the setting otherwise.
TrainConfig config_from_json(const std::string& text, const std::string& source);  // the fuzzer's entry point
TrainConfig config_from_json_file(const std::string& path);
// The data fingerprint config.json holds ("" when it has none: written before fingerprints were).
std::string data_fingerprint_of(const std::string& config_json_text, const std::string& source);

// The first setting (visit's order) whose value in `given` differs from the run's, as
// "--lr: 5 given, 0.01 in the run"; "" when none does. `only`: just these names (null: every setting). How
// a run is carried out, not what it computes, never counts: data-dir (checked by fingerprint instead),
// device, threads, cuda-graph, norm-stats.
std::string changed_setting(const TrainConfig& run, const TrainConfig& given, const std::vector<std::string>* only = nullptr);

// The settings a run continues with under --resume: the run's own (its config.json), with the output
// folder, overwrite, the display and stop_after from `flags`, and --device/--threads/--cuda-graph/--norm-stats
// when given. The data folder: flags.data_dir when given, else the run's own, else data_dir_fallback; whichever it is must
// hold the data the run trained on (its fingerprint), else ConfigError naming it. A setting in
// explicit_settings whose value differs from the run's: ConfigError naming it. Without resume_dir,
// `flags` unchanged.
TrainConfig resolve_resume(const TrainConfig& flags);


template <class F>
void TrainConfig::visit(F&& f) {
  f("dataset", dataset, "cifar10 | fashion-mnist");
  f("data-dir", data_dir, "folder of the dataset files (default: $RENORM_DATA_DIR)");
  f("model", model, "cifar-cnn (the paper reproduction's CNN) | resnet20 (He et al. 2016, option-A shortcuts)");
  f("precision", precision, kPrecisionHelp);
  f("norm", norm, "none | bn (batchnorm) | brn (Batch Renorm)");
  f("batch", batch, "minibatch size B");
  f("microbatch", norm_config.microbatch, "examples per normalization group M (must divide B; 0: M = B; "
                                          "under mpirun 0 means each rank's own B/K examples)");
  f("sync-norm", sync_norm, "under mpirun: normalize over the whole minibatch across the ranks (moments merged "
                            "over ranks; needs --microbatch 0 or B)");
  f("epochs", epochs, "epochs to train (or --steps)");
  f("steps", steps, "steps to train (or --epochs)");
  f("optimizer", optimizer, "sgd | adam");
  f("lr", lr, "base learning rate");
  f("lr-schedule", lr_schedule, "constant | step | cosine");
  f("lr-warmup", lr_warmup, "linear warmup steps");
  f("lr-step-size", lr_step_size, "step schedule: steps between decays (0: a third of the run)");
  f("lr-gamma", lr_gamma, "step schedule: decay factor");
  f("momentum", momentum, "SGD momentum / Adam beta1");
  f("nesterov", nesterov, "Nesterov momentum (SGD)");
  f("weight-decay", weight_decay, "L2 weight decay");
  f("rmax", norm_config.schedule.rmax_final, "Batch Renorm: final rmax (>= 1)");
  f("dmax", norm_config.schedule.dmax_final, "Batch Renorm: final dmax (>= 0)");
  f("clip-warmup", norm_config.schedule.warmup_steps, "steps with rmax = 1, dmax = 0 (-1: the paper's 5k/160k of the run, at least 3/alpha)");
  f("rmax-steps", norm_config.schedule.rmax_steps, "step at which rmax reaches --rmax (-1: the paper's 40k/160k, after that warmup)");
  f("dmax-steps", norm_config.schedule.dmax_steps, "step at which dmax reaches --dmax (-1: the paper's 25k/160k, after that warmup)");
  f("alpha", norm_config.alpha, "moving-average rate of the norm layers, in (0, 1]");
  f("eps", norm_config.eps, "epsilon of the norm layers (> 0)");
  f("eval-every", eval_every, "validate every so many steps (0: once per epoch)");
  f("log-every", log_every, "a metrics row every so many steps");
  f("sampler", sampler, "iid | noniid (B/2 pairs of same-class examples per minibatch)");
  f("noniid-run", noniid_run, "noniid sampler: same-class examples in a row (2: the paper's pairs; a microbatch "
                              "of M then holds M/run classes)");
  f("augment", augment, "random crop (padding 4) and horizontal flip");
  f("device", device, "auto | cpu | cuda");
  f("cuda-graph", cuda_graph, "on | off: on CUDA (one process), the training step captured as one CUDA graph and "
                              "replayed (the same numbers as off); ignored on the CPU and under mpirun");
  f("norm-stats", norm_stats, "on | off: norm_stats.csv, per norm layer at each log step: r and d before clipping, "
                              "their clip fractions, the moving averages' lag behind the minibatch's statistics");
  f("seed", seed, "seed of initialization, data order, augmentation and dropout");
  f("threads", threads, "CPU threads (0: all)");
  f("train-limit", train_limit, "use only the first N training examples (0: all)");
  f("val-limit", val_limit, "use only the first N validation examples (0: all)");
}

}  // namespace renorm
