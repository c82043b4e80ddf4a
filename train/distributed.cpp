#include "train/distributed.h"

#include <sstream>

#include "runtime/error.h"
#include "train/run_norm.h"

namespace renorm {

TrainConfig settings_for_ranks(TrainConfig c, int ranks) {
  if (ranks <= 1) return c;
  const NormGroup g = resolve_norm_group(c, ranks);
  c.norm_config.microbatch = g.sync ? 0 : g.microbatch;
  if (c.sampler == Sampler::NonIid && g.rank_batch % c.noniid_run != 0)
    throw ConfigError("--sampler noniid needs --noniid-run (" + std::to_string(c.noniid_run) +
                      ") to divide each rank's " + std::to_string(g.rank_batch) + " examples");
  return c;
}

void require_same_settings(const TrainConfig& c, Communicator& world) {
  const std::string mine = config_to_json(c, "", world.size());
  int64_t len = int64_t(mine.size());
  world.broadcast(&len, int64_t(sizeof len), 0);
  std::string root(size_t(len), '\0');
  if (world.rank() == 0) root = mine;
  world.broadcast(root.data(), len, 0);
  float differ = root != mine ? 1.f : 0.f;
  world.allreduce_sum(&differ, 1);
  if (differ == 0.f) return;
  std::string first = "its settings";
  std::istringstream a(root), b(mine);
  for (std::string la, lb; std::getline(a, la) && std::getline(b, lb);)
    if (la != lb) {
      // Appended piece by piece: "'" + std::string&&, or first = "'", trip GCC 12's bogus -Wrestrict (PRs 105651, 105329).
      first.assign(1, '\'');
      first += lb.substr(lb.find_first_not_of(' '));
      first += "' where rank 0 has '";
      first += la.substr(la.find_first_not_of(' '));
      first += '\'';
      break;
    }
  throw ConfigError(root != mine ? "this rank's settings differ from rank 0's: " + first
                                 : std::to_string(int(differ)) + " rank(s) run with settings that differ from rank 0's");
}

void keep_shard(Dataset& d, int rank, int ranks) {
  const int64_t n = d.size(), lo = n * rank / ranks, hi = n * (rank + 1) / ranks;
  d.labels = std::vector<uint8_t>(d.labels.begin() + lo, d.labels.begin() + hi);
  d.pixels = std::vector<uint8_t>(d.pixels.begin() + lo * d.image_bytes(), d.pixels.begin() + hi * d.image_bytes());
}

bool any_rank(bool mine, Communicator& world) {
  float v = mine ? 1.f : 0.f;
  if (world.size() > 1) world.allreduce_sum(&v, 1);
  return v > 0.f;
}

}  // namespace renorm
