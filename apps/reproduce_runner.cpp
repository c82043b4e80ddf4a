#include "apps/reproduce_runner.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/exit_status.h"
#include "apps/reproduce_summary.h"
#include "runtime/file_io.h"
#include "runtime/folder_lock.h"
#include "train/distributed.h"
#include "runtime/error.h"
#include "train/checkpoint.h"

#ifndef RENORM_SOURCE_DIR
#define RENORM_SOURCE_DIR "."
#endif

namespace renorm {

namespace fs = std::filesystem;

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
    {"smoke", 2, 4, 10, 1, 5, 0.05f, false},  // every quick experiment, a few steps: is the path whole?
    {"quick", 2, 4, 250, 3, 50, 0.05f, false},
    {"long", 2, 4, 1500, 3, 100, 0.01f, true},
    {"full", 4, 4, 30000, 3, 500, 0.01f, true},
};

const Preset& find_preset(const std::string& name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return p;
  throw ConfigError("--preset: '" + name + "' is not one of " + preset_names());
}

void check_microbatch(const char* flag, int64_t m, int64_t batch) {
  if (m <= 0 || batch % m != 0)
    throw ConfigError(std::string(flag) + " " + std::to_string(m) + " must be >= 1 and divide --batch " +
                      std::to_string(batch));
}
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
         (p.alpha == 0.05f ? "0.05" : "0.01") + (p.augment ? ", augmentation" : "");
  return s;
}

ReproduceConfig resolve(ReproduceConfig c) {
  if (c.experiment != "microbatch" && c.experiment != "noniid" && c.experiment != "classes" && c.experiment != "all")
    throw ConfigError("--experiment: '" + c.experiment + "' is not one of microbatch, noniid, classes, all");
  (void)enum_parse<DatasetKind>(c.dataset, "--dataset");
  (void)enum_parse<ModelKind>(c.model, "--model");
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
  norm.validate();  // alpha's rule is NormConfig's
  if (c.data_dir.empty()) throw ConfigError("--data-dir: not given (nor $RENORM_DATA_DIR)");
  if (!fs::is_directory(c.data_dir)) throw IoError("--data-dir " + c.data_dir + ": no such folder");
  return c;
}

namespace {
struct Conf {
  const char *experiment, *norm, *sampler;
  int64_t microbatch, noniid_run;
  std::string label;
};

std::vector<Conf> configurations(const ReproduceConfig& c) {
  const std::string m = std::to_string(c.microbatch), b = std::to_string(c.batch), mn = std::to_string(c.noniid_microbatch);
  const int64_t pairs = LoaderConfig{}.class_run;
  std::vector<Conf> confs;
  if (c.experiment == "microbatch" || c.experiment == "all") {
    confs.push_back({"microbatch", "bn", "iid", c.batch, pairs, "Batchnorm, minibatch " + b});
    confs.push_back({"microbatch", "bn", "iid", c.microbatch, pairs, "Batchnorm, microbatch " + m});
    confs.push_back({"microbatch", "brn", "iid", c.microbatch, pairs, "Batch Renorm, microbatch " + m});
    if (c.figure1) confs.push_back({"microbatch", "brn", "iid", c.batch, pairs, "Batch Renorm, minibatch " + b});
  }
  if (c.experiment == "noniid" || c.experiment == "all") {
    confs.push_back({"noniid", "bn", "iid", c.noniid_microbatch, pairs, "Batchnorm, i.i.d., microbatch " + mn + " (baseline)"});
    confs.push_back({"noniid", "bn", "noniid", c.noniid_microbatch, pairs, "Batchnorm, non-i.i.d., microbatch " + mn});
    confs.push_back({"noniid", "brn", "noniid", c.noniid_microbatch, pairs, "Batch Renorm, non-i.i.d., microbatch " + mn});
  }
  if (c.experiment == "classes")  // runs of k = M', M'/2, ..., 1: M'/k classes per microbatch (where k divides M')
    for (int64_t k = c.noniid_microbatch; k >= 1; k /= 2) {
      if (c.noniid_microbatch % k != 0) continue;
      const std::string classes = std::to_string(c.noniid_microbatch / k) + " classes per microbatch of " + mn;
      confs.push_back({"classes", "bn", "noniid", c.noniid_microbatch, k, "Batchnorm, " + classes});
      confs.push_back({"classes", "brn", "noniid", c.noniid_microbatch, k, "Batch Renorm, " + classes});
    }
  return confs;
}

std::string run_folder(const ReproduceConfig& c, const Conf& k, uint64_t seed) {
  const std::string s = "-s" + std::to_string(seed);
  if (std::string(k.experiment) == "classes")  // the names scripts/plot_sweep.py --by runs reads
    return c.out_dir + "/classes/" + k.norm + "-k" + std::to_string(k.noniid_run) + s;
  return c.out_dir + "/" + k.experiment + "/" + k.norm + "-m" + std::to_string(k.microbatch) + "-" + k.sampler + s;
}
}  // namespace

std::vector<RunSpec> plan(const ReproduceConfig& c) {
  std::vector<RunSpec> runs;
  for (const Conf& k : configurations(c))
    for (int64_t s = 1; s <= c.seeds; ++s) {
      RunSpec r;
      r.experiment = k.experiment;
      r.label = k.label;
      r.norm = k.norm;
      r.sampler = k.sampler;
      r.microbatch = k.microbatch;
      r.noniid_run = k.noniid_run;
      r.seed = uint64_t(s);
      r.dir = run_folder(c, k, r.seed);
      runs.push_back(r);
    }
  return runs;
}

TrainConfig train_config(const ReproduceConfig& c, const RunSpec& r, int ranks) {
  TrainConfig t;
  t.dataset = enum_parse<DatasetKind>(c.dataset, "dataset");
  t.model = enum_parse<ModelKind>(c.model, "model");
  t.data_dir = c.data_dir;
  t.out_dir = r.dir;
  t.norm = parse_norm(r.norm);
  t.batch = c.batch;
  t.norm_config.microbatch = r.microbatch;
  t.sync_norm = ranks > 1 && r.microbatch == c.batch;
  t.steps = c.steps;
  t.eval_every = c.eval_every;
  t.log_every = c.eval_every;
  t.sampler = enum_parse<Sampler>(r.sampler, "sampler");
  t.noniid_run = r.noniid_run;
  t.seed = r.seed;
  t.device = c.device;
  t.threads = c.threads;
  t.norm_config.alpha = c.alpha;
  t.augment = c.augment;
  t.train_limit = c.train_limit;
  // The clipping schedule: the trainer's default, ClipSchedule::for_run(steps, alpha).
  t.progress = false;
  return t;
}

std::string plot_script_path(const std::string& name) {
  if (const char* env = std::getenv("RENORM_PLOT_SCRIPT"); env && name == "plot_curves.py") return env;
  return std::string(RENORM_SOURCE_DIR) + "/scripts/" + name;
}

std::string python_with_matplotlib() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("RENORM_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");  // Debian's, where python3-matplotlib installs
  for (const std::string& py : candidates)
    if (std::system((py + " -c 'import matplotlib' >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

namespace {
enum RunState : int32_t { kFresh = 0, kStarted = 1, kInterrupted = 2, kDone = 3 };

// What is in a planned run's folder (rank 0 looks). A run made with other settings or other data (its
// fingerprint) than planned is an error, unless --overwrite: then it starts afresh, as kStarted. Else
// kStarted: begun as planned but stopped before its first checkpoint (it starts again, replacing its
// own files).
RunState look(const ReproduceConfig& c, const RunSpec& r, int ranks, const std::string& data_fingerprint) {
  const std::string config = r.dir + "/config.json";
  if (!fs::exists(config)) return kFresh;
  const std::string text = read_file(config, "run configuration (config.json)", 1 << 20);
  const TrainConfig planned = settings_for_ranks(train_config(c, r, ranks), ranks);
  std::string changed = changed_setting(config_from_json(text, config), planned);
  if (changed.empty() && data_fingerprint_of(text, config) != data_fingerprint)
    changed = "--data-dir: " + c.data_dir + " holds other data than the run's";
  if (!changed.empty() && c.overwrite) return kStarted;
  if (!changed.empty())
    throw ConfigError("--out " + c.out_dir + ": " + r.dir + " holds a run made with other settings (" + changed +
                      "); use another --out, or --overwrite to replace such runs");
  return fs::exists(r.dir + "/model.safetensors") ? kDone : fs::exists(r.dir + "/checkpoint.safetensors") ? kInterrupted : kStarted;
}

// Every run's state, decided by rank 0 before any run starts and shared with every rank (they must run
// the same runs).
std::vector<int32_t> run_states(const ReproduceConfig& c, const std::vector<RunSpec>& runs, Communicator& world) {
  std::vector<int32_t> states(runs.size(), kFresh);
  if (world.rank() == 0) {
    const std::string fingerprint = dataset_fingerprint(enum_parse<DatasetKind>(c.dataset, "--dataset"), c.data_dir);
    for (size_t i = 0; i < runs.size(); ++i) states[i] = look(c, runs[i], world.size(), fingerprint);
  }
  if (!states.empty()) world.broadcast(states.data(), int64_t(states.size() * sizeof(int32_t)), 0);
  return states;
}
}  // namespace

int reproduce(const ReproduceConfig& c, TrainObserver* observer, std::shared_ptr<Communicator> world) {
  if (!world) world = single_communicator();
  const bool lead = world->rank() == 0;
  const std::vector<RunSpec> runs = plan(c);
  const FolderLock lock = lead ? FolderLock(c.out_dir, "--out " + c.out_dir, "renorm-reproduce") : FolderLock{};
  const std::vector<int32_t> states = run_states(c, runs, *world);
  if (lead) write_file_atomic(c.out_dir + "/runs.csv", runs_csv(c, runs));
  const auto t0 = std::chrono::steady_clock::now();
  size_t ran = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& r = runs[i];
    if (states[i] == kDone) {
      if (lead)
        std::printf("[%zu/%zu] %s, seed %llu: already done (%s)\n", i + 1, runs.size(), r.label.c_str(),
                    (unsigned long long)r.seed, r.dir.c_str());
      continue;
    }
    if (lead) std::printf("[%zu/%zu] %s, seed %llu\n", i + 1, runs.size(), r.label.c_str(), (unsigned long long)r.seed);
    std::fflush(stdout);
    TrainConfig t = train_config(c, r, world->size());
    t.overwrite = states[i] == kStarted;  // its own files (the same settings), or --overwrite
    if (states[i] == kInterrupted) {  // an interrupted run: continue it exactly
      t = TrainConfig{};
      t.resume_dir = r.dir;
      t.data_dir = c.data_dir;  // where the data is now (checked against the run's fingerprint)
      t.progress = false;
    }
    ++ran;
    const TrainResult res = train(t, observer, world);
    if (res.interrupted) {
      if (lead)
        std::fprintf(stderr, "renorm-reproduce: stopped by a signal after step %lld of %s (checkpoint %s written); "
                     "run the same command again to continue\n", (long long)res.steps, r.dir.c_str(), res.checkpoint.c_str());
      return app::kExitInterrupted;
    }
    if (lead) std::printf("    validation accuracy %.4f after %lld steps\n", res.final_val_acc, (long long)res.steps);
  }
  if (!lead) return app::kExitOk;
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;
  std::printf("renorm-reproduce: %zu of %zu runs in %.1f minutes (%zu already done); results in %s\n", ran, runs.size(),
              minutes, runs.size() - ran, c.out_dir.c_str());
  const std::vector<double> finals = final_accuracies(runs);
  write_file_atomic(c.out_dir + "/runs.csv", runs_csv(c, runs, finals));
  const std::string summary = summary_markdown(c, runs, finals);
  write_file_atomic(c.out_dir + "/summary.md", summary);
  std::printf("\n%s\nrenorm-reproduce: this summary is %s/summary.md\n", summary.c_str(), c.out_dir.c_str());
  const std::string python = python_with_matplotlib(), py = python.empty() ? "python3" : python;
  std::vector<std::string> cmds = {py + " " + plot_script_path() + " " + c.out_dir};  // curves per experiment
  if (c.experiment == "classes")  // final accuracy and gap against the same-class run k, over seeds
    cmds.push_back(py + " " + plot_script_path("plot_sweep.py") + " " + c.out_dir + "/classes --by runs");
  for (const std::string& cmd : cmds) {
    if (!c.plot || python.empty()) {
      std::printf("renorm-reproduce: %sto render the figures: %s\n",
                  c.plot ? "no python3 with matplotlib found; install python3-matplotlib and, " : "", cmd.c_str());
      continue;
    }
    std::fflush(stdout);
    if (const int rc = std::system(cmd.c_str()); rc != 0) {
      std::fprintf(stderr, "renorm-reproduce: plotting failed (%s exited with %d)\n", cmd.c_str(), rc);
      return app::kExitPlotFailed;
    }
  }
  return app::kExitOk;
}

}  // namespace renorm
