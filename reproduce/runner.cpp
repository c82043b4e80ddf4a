#include "reproduce/runner.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "reproduce/summary.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/folder_lock.h"
#include "train/checkpoint.h"
#include "train/distributed.h"

#ifndef RENORM_SOURCE_DIR
#define RENORM_SOURCE_DIR "."
#endif

namespace renorm {

namespace fs = std::filesystem;

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
    const std::string fingerprint = dataset_fingerprint(c.dataset, c.data_dir);
    for (size_t i = 0; i < runs.size(); ++i) states[i] = look(c, runs[i], world.size(), fingerprint);
  }
  if (!states.empty()) world.broadcast(states.data(), int64_t(states.size() * sizeof(int32_t)), 0);
  return states;
}
}  // namespace

ReproduceResult reproduce(const ReproduceConfig& c, ReproduceObserver* observer, std::shared_ptr<Communicator> world) {
  ReproduceObserver quiet;
  ReproduceObserver& obs = observer ? *observer : quiet;
  if (!world) world = single_communicator();
  const bool lead = world->rank() == 0;
  const std::vector<RunSpec> runs = plan(c);
  const FolderLock lock = lead ? FolderLock(c.out_dir, "--out " + c.out_dir, "renorm-reproduce") : FolderLock{};
  const std::vector<int32_t> states = run_states(c, runs, *world);
  if (lead) write_file_atomic(c.out_dir + "/runs.csv", runs_csv(c, runs));
  const auto t0 = std::chrono::steady_clock::now();
  ReproduceResult out{.planned = runs.size()};
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& r = runs[i];
    if (lead) obs.run_begins(i, runs.size(), r, states[i] == kDone);
    if (states[i] == kDone) continue;
    TrainConfig t = train_config(c, r, world->size());
    t.overwrite = states[i] == kStarted;  // its own files (the same settings), or --overwrite
    if (states[i] == kInterrupted) {  // an interrupted run: continue it exactly
      t = TrainConfig{};
      t.resume_dir = r.dir;
      t.data_dir = c.data_dir;  // where the data is now (checked against the run's fingerprint)
      t.progress = false;
    }
    ++out.ran;
    const TrainResult res = train(t, &obs, world);
    if (res.interrupted) {
      out.interrupted = true;
      out.stopped = r;
      out.stopped_result = res;
      return out;
    }
    if (lead) obs.run_ends(r, res);
  }
  out.minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0;
  if (!lead) return out;
  const std::vector<double> finals = final_accuracies(runs);
  write_file_atomic(c.out_dir + "/runs.csv", runs_csv(c, runs, finals));
  out.summary = summary_markdown(c, runs, finals);
  write_file_atomic(c.out_dir + "/summary.md", out.summary);
  return out;
}

std::vector<std::string> plot_commands(const ReproduceConfig& c, const std::string& python) {
  std::vector<std::string> cmds = {python + " " + plot_script_path() + " " + c.out_dir};  // curves per experiment
  if (c.experiment == Experiment::Classes)  // final accuracy and gap against the same-class run k, over seeds
    cmds.push_back(python + " " + plot_script_path("plot_sweep.py") + " " + c.out_dir + "/classes --by runs");
  return cmds;
}

}  // namespace renorm
