// renorm-train: trains a model (--model: the CIFAR CNN or ResNet-20; none / batchnorm / Batch Renorm) on CIFAR-10 or Fashion-MNIST.
// Every flag is validated before training starts; a bad value gets one line naming it and exit status 2.
// Exit statuses: apps/main_guard.h, docs/robustness.md.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "apps/main_guard.h"
#include "apps/progress.h"
#include "runtime/error.h"
#include "train/run_norm.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  renorm::TrainConfig cfg;
  CLI::App app{"renorm-train: train the CIFAR CNN or ResNet-20 with no norm, batchnorm or Batch Renorm (Ioffe 2017).\n"
               "Writes config.json, metrics.csv, checkpoint.safetensors and model.safetensors into --out."};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later flag overrides
  cfg.visit([&](const char* name, auto& field, const char* help) {
    using T = std::decay_t<decltype(field)>;
    const std::string flag = std::string("--") + name;
    if constexpr (std::is_same_v<T, bool>) {
      app.add_flag(flag, field, help);
    } else if constexpr (std::is_enum_v<T>) {  // by name; a bad name is a ConfigError naming the flag
      const auto set = [&field, flag](const std::string& s) { field = renorm::enum_parse<T>(s, flag); };
      app.add_option_function<std::string>(flag, set, help)->type_name("TEXT")->default_str(renorm::enum_name(field));
    } else {
      app.add_option(flag, field, help)->capture_default_str();
    }
  });
  app.add_option("--out", cfg.out_dir, "output folder, created (default: runs/<dataset>-<norm>-m<M>-s<seed>)");
  app.add_option("--resume", cfg.resume_dir, "continue the run in this folder with its own settings (config.json) "
                 "from its checkpoint; --out defaults to it; --data-dir points at moved data (checked against the "
                 "run's fingerprint), --device and --threads may change; any other setting given that differs from "
                 "the run's is refused");
  app.add_flag("--overwrite", cfg.overwrite, "replace the run already in --out (its files; without this flag a "
                                             "folder holding a run is refused)");
  app.add_option("--stop-after", cfg.stop_after, "stop after this step as if interrupted (for testing --resume)");
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress, "plain log lines even on a terminal");
  if (const int rc = renorm::app::parse_flags(app, "renorm-train", argc, argv); rc >= 0) return rc;
  cfg.progress = !no_progress;
  cfg.visit([&](const char* name, auto&, const char*) {  // what --resume must not silently drop
    if (app.count(std::string("--") + name) > 0) cfg.explicit_settings.push_back(name);
  });
  if (const char* env = std::getenv("RENORM_DATA_DIR"); env && app.count("--data-dir") == 0)
    (cfg.resume_dir.empty() ? cfg.data_dir : cfg.data_dir_fallback) = env;  // resume: the run's own folder first
  return renorm::app::guarded_main("renorm-train", [&] {
    if (cfg.resume_dir.empty() && cfg.out_dir.empty())
      cfg.out_dir = renorm::default_out_dir(cfg, renorm::resolve_norm_group(cfg, renorm::world_communicator()->size()));
    renorm::app::install_stop_handlers();
    renorm::app::ConsoleProgress progress(cfg.progress);
    // Under mpirun/srun: one rank of a data-parallel run (docs/distributed.md); else one process.
    const renorm::TrainResult r = renorm::train(cfg, &progress, renorm::world_communicator());
    const bool lead = renorm::world_communicator()->rank() == 0;  // rank 0 speaks for a data-parallel run
    if (r.interrupted) {
      if (!lead) return int(renorm::app::kExitInterrupted);
      const std::string dir = cfg.out_dir.empty() ? cfg.resume_dir : cfg.out_dir;
      renorm::app::say("renorm-train", std::string("stopped by ") + renorm::app::stop_signal_name() + " after step " +
                                           std::to_string(r.steps) + "; checkpoint " + r.checkpoint +
                                           " written; continue with: renorm-train --resume " + dir);
      return int(renorm::app::kExitInterrupted);
    }
    if (lead)
      std::printf("renorm-train: done, %lld steps in %.1f s, validation accuracy %s\n", (long long)r.steps, r.seconds,
                renorm::format_number(r.final_val_acc, 4).c_str());
    return int(renorm::app::kExitOk);
  });
}
