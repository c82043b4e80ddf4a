#include "apps/reproduce_runner.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/exit_status.h"
#include "runtime/error.h"
#include "train/checkpoint.h"

#ifndef RENORM_SOURCE_DIR
#define RENORM_SOURCE_DIR "."
#endif

namespace renorm {

namespace fs = std::filesystem;

ReproduceConfig resolve(ReproduceConfig c) {
  if (c.experiment != "microbatch" && c.experiment != "noniid" && c.experiment != "all")
    throw ConfigError("--experiment: '" + c.experiment + "' is not one of microbatch, noniid, all");
  const bool quick = c.preset == "quick";
  if (!quick && c.preset != "full") throw ConfigError("--preset: '" + c.preset + "' is not one of quick, full");
  auto pick = [](auto& v, auto unset, auto value) {
    if (v == unset) v = value;
  };
  pick(c.batch, int64_t(0), TrainConfig{}.batch);
  pick(c.microbatch, int64_t(0), int64_t(4));
  pick(c.steps, int64_t(0), int64_t(quick ? 300 : 30000));
  pick(c.seeds, int64_t(0), int64_t(quick ? 2 : 3));
  pick(c.eval_every, int64_t(0), int64_t(quick ? 25 : 500));
  pick(c.alpha, 0.f, quick ? 0.05f : NormConfig{}.alpha);  // full: the default rate; quick: faster (docs/reproduction.md)
  pick(c.train_limit, int64_t(-1), int64_t(0));
  if (c.batch <= 0 || c.microbatch <= 0 || c.batch % c.microbatch != 0)
    throw ConfigError("--microbatch " + std::to_string(c.microbatch) + " must be >= 1 and divide --batch " +
                      std::to_string(c.batch));
  if (c.steps < 0 || c.seeds < 0 || c.eval_every < 0) throw ConfigError("--steps, --seeds and --eval-every must be > 0");
  NormConfig norm;
  norm.alpha = c.alpha;
  norm.validate();  // alpha's rule is NormConfig's
  if (c.data_dir.empty()) throw ConfigError("--data-dir: not given (nor $RENORM_DATA_DIR)");
  if (!fs::is_directory(c.data_dir)) throw IoError("--data-dir " + c.data_dir + ": no such folder");
  return c;
}

std::vector<RunSpec> plan(const ReproduceConfig& c) {
  const std::string m = std::to_string(c.microbatch), b = std::to_string(c.batch);
  struct Conf {
    const char *experiment, *norm, *sampler;
    bool micro;
    std::string label;
  };
  std::vector<Conf> confs;
  if (c.experiment != "noniid") {
    confs.push_back({"microbatch", "bn", "iid", false, "Batchnorm, minibatch " + b});
    confs.push_back({"microbatch", "bn", "iid", true, "Batchnorm, microbatch " + m});
    confs.push_back({"microbatch", "brn", "iid", true, "Batch Renorm, microbatch " + m});
    if (c.figure1) confs.push_back({"microbatch", "brn", "iid", false, "Batch Renorm, minibatch " + b});
  }
  if (c.experiment != "microbatch") {
    confs.push_back({"noniid", "bn", "noniid", true, "Batchnorm, non-i.i.d., microbatch " + m});
    confs.push_back({"noniid", "brn", "noniid", true, "Batch Renorm, non-i.i.d., microbatch " + m});
  }
  std::vector<RunSpec> runs;
  for (const Conf& k : confs)
    for (int64_t s = 1; s <= c.seeds; ++s) {
      RunSpec r;
      r.experiment = k.experiment;
      r.label = k.label;
      r.norm = k.norm;
      r.sampler = k.sampler;
      r.microbatch = k.micro ? c.microbatch : c.batch;
      r.seed = uint64_t(s);
      r.dir = c.out_dir + "/" + k.experiment + "/" + k.norm + "-m" + std::to_string(r.microbatch) + "-" + k.sampler +
              "-s" + std::to_string(s);
      runs.push_back(r);
    }
  return runs;
}

TrainConfig train_config(const ReproduceConfig& c, const RunSpec& r, int ranks) {
  TrainConfig t;
  t.dataset = DatasetKind::Cifar10;
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
  t.seed = r.seed;
  t.device = c.device;
  t.threads = c.threads;
  t.norm_config.alpha = c.alpha;
  t.augment = c.preset == "full";
  t.train_limit = c.train_limit;
  // The clipping schedule: the trainer's default, ClipSchedule::for_run(steps, alpha).
  t.progress = false;
  return t;
}

std::string plot_script_path() {
  if (const char* env = std::getenv("RENORM_PLOT_SCRIPT")) return env;
  return std::string(RENORM_SOURCE_DIR) + "/scripts/plot_curves.py";
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
enum RunState { kFresh = 0, kInterrupted = 1, kDone = 2 };

// Rank 0's view of a run's folder, shared with every rank (they must run the same runs).
int run_state(const RunSpec& r, Communicator& world) {
  int32_t state = fs::exists(r.dir + "/model.safetensors") ? kDone : fs::exists(r.dir + "/checkpoint.safetensors") ? kInterrupted : kFresh;
  world.broadcast(&state, int64_t(sizeof state), 0);
  return state;
}
}  // namespace

int reproduce(const ReproduceConfig& c, TrainObserver* observer, std::shared_ptr<Communicator> world) {
  if (!world) world = single_communicator();
  const bool lead = world->rank() == 0;
  const std::vector<RunSpec> runs = plan(c);
  fs::create_directories(c.out_dir);
  std::string index = "experiment,label,norm,microbatch,sampler,seed,dir\n";
  for (const RunSpec& r : runs)
    index += r.experiment + ",\"" + r.label + "\"," + r.norm + "," + std::to_string(r.microbatch) + "," + r.sampler + "," +
             std::to_string(r.seed) + "," + fs::relative(r.dir, c.out_dir).string() + "\n";
  if (lead) write_file_atomic(c.out_dir + "/runs.csv", index);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& r = runs[i];
    const int state = run_state(r, *world);
    if (state == kDone) {
      if (lead)
        std::printf("[%zu/%zu] %s, seed %llu: already done (%s)\n", i + 1, runs.size(), r.label.c_str(),
                    (unsigned long long)r.seed, r.dir.c_str());
      continue;
    }
    if (lead) std::printf("[%zu/%zu] %s, seed %llu\n", i + 1, runs.size(), r.label.c_str(), (unsigned long long)r.seed);
    std::fflush(stdout);
    TrainConfig t = train_config(c, r, world->size());
    if (state == kInterrupted) {  // an interrupted run: continue it exactly
      t = TrainConfig{};
      t.resume_dir = r.dir;
      t.progress = false;
    }
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
  std::printf("renorm-reproduce: %zu runs in %.1f minutes; results in %s\n", runs.size(), minutes, c.out_dir.c_str());
  const std::string script = plot_script_path(), python = python_with_matplotlib();
  const std::string cmd = (python.empty() ? "python3" : python) + " " + script + " " + c.out_dir;
  if (!c.plot) {
    std::printf("renorm-reproduce: to render the figures: %s\n", cmd.c_str());
    return app::kExitOk;
  }
  if (python.empty()) {
    std::printf("renorm-reproduce: no python3 with matplotlib found; to render the figures install "
                "python3-matplotlib and run: %s\n", cmd.c_str());
    return app::kExitOk;
  }
  std::fflush(stdout);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::fprintf(stderr, "renorm-reproduce: plotting failed (%s exited with %d)\n", cmd.c_str(), rc);
    return app::kExitPlotFailed;
  }
  return app::kExitOk;
}

}  // namespace renorm
