#include "reproduce/plan.h"

#include <filesystem>

#include "runtime/error.h"
#include "train/metrics.h"
#include "train/run_norm.h"

namespace renorm {

namespace fs = std::filesystem;

const EnumNames<Experiment>& enum_names(Experiment) {
  static const EnumNames<Experiment> names = {{"microbatch", Experiment::Microbatch},
                                              {"noniid", Experiment::Noniid},
                                              {"classes", Experiment::Classes},
                                              {"all", Experiment::All}};
  return names;
}

namespace {
// The presets, one row each (docs/reproduction.md gives the evidence behind each choice). Figure 2's
// microbatch is where the effect shows at the preset's length: M = 2 on the subset (the microbatch sweep);
// the full preset tests the paper's own M = 4 at full scale. The non-i.i.d. experiments use the paper's 4.
struct Preset {
  const char* name;
  int64_t microbatch, noniid_microbatch, steps, seeds, eval_every;
  float alpha;  // quick: faster moving averages so that the schedule's 3/alpha warmup fits 300 steps
  bool augment;
};
constexpr Preset kPresets[] = {
    {.name = "smoke", .microbatch = 2, .noniid_microbatch = 4, .steps = 10, .seeds = 1, .eval_every = 5, .alpha = 0.05f, .augment = false},
    {.name = "quick", .microbatch = 2, .noniid_microbatch = 4, .steps = 250, .seeds = 3, .eval_every = 50, .alpha = 0.05f, .augment = false},
    {.name = "long", .microbatch = 2, .noniid_microbatch = 4, .steps = 1500, .seeds = 3, .eval_every = 100, .alpha = 0.01f, .augment = true},
    {.name = "full", .microbatch = 4, .noniid_microbatch = 4, .steps = 30000, .seeds = 3, .eval_every = 500, .alpha = 0.01f, .augment = true},
};

const Preset& find_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p;
  throw ConfigError("--preset: '" + name + "' is not one of " + preset_names());
}

// M divides B: resolve_norm_group's rule and message, for this flag.
void check_microbatch(const char* flag, int64_t m, int64_t batch) {
  TrainConfig t;
  t.batch = batch;
  t.norm_config.microbatch = m;
  if (m == 0) throw ConfigError(std::string(flag) + " must be >= 1, got 0");
  (void)resolve_norm_group(t, 1, flag);
}

bool runs(Experiment chosen, Experiment e) { return chosen == e || (chosen == Experiment::All && e != Experiment::Classes); }
}  // namespace

std::string preset_names() {
  std::string s;
  for (const Preset& p : kPresets) s += std::string(s.empty() ? "" : ", ") + p.name;
  return s;
}

std::string preset_summary() {
  std::string s;
  for (const Preset& p : kPresets)
    s += std::string(s.empty() ? "" : "; ") + p.name + ": " + std::to_string(p.steps) + " steps, " +
         std::to_string(p.seeds) + " seeds, M " + std::to_string(p.microbatch) + ", non-i.i.d. M " +
         std::to_string(p.noniid_microbatch) + ", eval every " + std::to_string(p.eval_every) + ", alpha " +
         format_number(p.alpha) + (p.augment ? ", augmentation" : "");
  return s;
}

ReproduceConfig resolve(ReproduceConfig c) {
  const Preset& p = find_preset(c.preset);
  auto pick = [](auto& v, auto unset, auto value) {
    if (v == unset) v = value;
  };
  pick(c.batch, int64_t(0), TrainConfig{}.batch);
  pick(c.microbatch, int64_t(0), p.microbatch);
  pick(c.noniid_microbatch, int64_t(0), p.noniid_microbatch);
  pick(c.steps, int64_t(0), p.steps);
  pick(c.seeds, int64_t(0), p.seeds);
  pick(c.eval_every, int64_t(0), p.eval_every);
  pick(c.alpha, 0.f, p.alpha);
  pick(c.train_limit, int64_t(-1), int64_t(0));
  c.augment = p.augment;
  check_microbatch("--microbatch", c.microbatch, c.batch);
  check_microbatch("--noniid-microbatch", c.noniid_microbatch, c.batch);
  if (c.steps < 0 || c.seeds < 0 || c.eval_every < 0) throw ConfigError("--steps, --seeds and --eval-every must be > 0");
  NormConfig norm;
  norm.alpha = c.alpha;
  validate_norm(norm);  // alpha's rule is NormConfig's
  if (c.data_dir.empty()) throw ConfigError("--data-dir: not given (nor $RENORM_DATA_DIR)");
  if (!fs::is_directory(c.data_dir)) throw IoError("--data-dir " + c.data_dir + ": no such folder");
  return c;
}

namespace {
struct Conf {
  Experiment experiment;
  NormKind norm;
  Sampler sampler;
  int64_t microbatch, noniid_run;
  std::string label;
};

std::vector<Conf> configurations(const ReproduceConfig& c) {
  const std::string m = std::to_string(c.microbatch), b = std::to_string(c.batch), mn = std::to_string(c.noniid_microbatch);
  const int64_t pairs = LoaderConfig{}.class_run;
  constexpr NormKind bn = NormKind::BatchNorm, brn = NormKind::BatchRenorm;
  constexpr Sampler iid = Sampler::Iid, noniid = Sampler::NonIid;
  std::vector<Conf> confs;
  if (runs(c.experiment, Experiment::Microbatch)) {
    constexpr Experiment e = Experiment::Microbatch;
    confs.push_back({e, bn, iid, c.batch, pairs, "Batchnorm, minibatch " + b});
    confs.push_back({e, bn, iid, c.microbatch, pairs, "Batchnorm, microbatch " + m});
    confs.push_back({e, brn, iid, c.microbatch, pairs, "Batch Renorm, microbatch " + m});
    if (c.figure1) confs.push_back({e, brn, iid, c.batch, pairs, "Batch Renorm, minibatch " + b});
  }
  if (runs(c.experiment, Experiment::Noniid)) {
    constexpr Experiment e = Experiment::Noniid;
    confs.push_back({e, bn, iid, c.noniid_microbatch, pairs, "Batchnorm, i.i.d., microbatch " + mn + " (baseline)"});
    confs.push_back({e, bn, noniid, c.noniid_microbatch, pairs, "Batchnorm, non-i.i.d., microbatch " + mn});
    confs.push_back({e, brn, noniid, c.noniid_microbatch, pairs, "Batch Renorm, non-i.i.d., microbatch " + mn});
  }
  if (c.experiment == Experiment::Classes)  // runs of k = M', M'/2, ..., 1: M'/k classes per microbatch (where k divides M')
    for (int64_t k = c.noniid_microbatch; k >= 1; k /= 2) {
      if (c.noniid_microbatch % k != 0) continue;
      const std::string classes = std::to_string(c.noniid_microbatch / k) + " classes per microbatch of " + mn;
      confs.push_back({Experiment::Classes, bn, noniid, c.noniid_microbatch, k, "Batchnorm, " + classes});
      confs.push_back({Experiment::Classes, brn, noniid, c.noniid_microbatch, k, "Batch Renorm, " + classes});
    }
  return confs;
}

std::string run_folder(const ReproduceConfig& c, const Conf& k, uint64_t seed) {
  const std::string s = "-s" + std::to_string(seed), norm = enum_name(k.norm);
  if (k.experiment == Experiment::Classes)  // the names scripts/plot_sweep.py --by runs reads
    return c.out_dir + "/classes/" + norm + "-k" + std::to_string(k.noniid_run) + s;
  return c.out_dir + "/" + enum_name(k.experiment) + "/" + norm + "-m" + std::to_string(k.microbatch) + "-" +
         enum_name(k.sampler) + s;
}
}  // namespace

std::vector<RunSpec> plan(const ReproduceConfig& c) {
  std::vector<RunSpec> runs;
  for (const Conf& k : configurations(c))
    for (int64_t s = 1; s <= c.seeds; ++s)
      runs.push_back(RunSpec{.experiment = k.experiment, .norm = k.norm, .sampler = k.sampler, .label = k.label,
                             .dir = run_folder(c, k, uint64_t(s)), .microbatch = k.microbatch,
                             .noniid_run = k.noniid_run, .seed = uint64_t(s)});
  return runs;
}

TrainConfig train_config(const ReproduceConfig& c, const RunSpec& r, int ranks) {
  // The clipping schedule: the trainer's default, ClipSchedule::for_run(steps, alpha) (resolve_norm).
  return TrainConfig{.dataset = c.dataset, .data_dir = c.data_dir, .model = c.model, .precision = c.precision,
                     .norm = r.norm, .batch = c.batch, .steps = c.steps, .norm_config = {.microbatch = r.microbatch, .alpha = c.alpha},
                     .sync_norm = ranks > 1 && r.microbatch == c.batch, .eval_every = c.eval_every,
                     .log_every = c.eval_every, .sampler = r.sampler, .noniid_run = r.noniid_run, .augment = c.augment,
                     .device = c.device, .seed = r.seed, .threads = c.threads, .train_limit = c.train_limit,
                     .out_dir = r.dir, .progress = false};
}

}  // namespace renorm
