// A run's folder: who owns it (the lock) and whether a fresh run may write into it (train/trainer.h).
#include <errno.h>  // program_invocation_short_name (glibc)

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/folder_lock.h"
#include "train/trainer.h"

namespace renorm {

namespace fs = std::filesystem;

const std::vector<std::string>& run_files() {
  static const std::vector<std::string> files = {"config.json", "metrics.csv", "schedule.csv", "checkpoint.safetensors",
                                                 "model.safetensors"};
  return files;
}

FolderLock claim_run_folder(const TrainConfig& c) {
  FolderLock lock(c.out_dir, "--out " + c.out_dir, program_invocation_short_name);
  std::error_code ec;
  const bool continues = !c.resume_dir.empty() && fs::equivalent(c.resume_dir, c.out_dir, ec);
  if (continues) return lock;
  for (const std::string& name : run_files()) {
    const std::string path = c.out_dir + "/" + name;
    if (!fs::exists(path)) continue;
    if (!c.overwrite)
      throw ConfigError("--out " + c.out_dir + ": holds a run already (" + name + "); continue it with --resume " +
                        c.out_dir + ", replace it with --overwrite, or choose another --out");
    if (!fs::remove(path, ec) && ec) throw IoError(path + ": cannot be removed (--overwrite): " + ec.message());
  }
  return lock;
}

}  // namespace renorm
