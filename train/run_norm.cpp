#include "train/run_norm.h"

#include "runtime/error.h"

namespace renorm {

NormGroup resolve_norm_group(const TrainConfig& c, int ranks, const char* flag) {
  const std::string k = std::to_string(ranks), b = std::to_string(c.batch), m = std::to_string(c.norm_config.microbatch);
  if (c.batch <= 0) throw ConfigError("--batch must be > 0, got " + b);
  if (ranks < 1 || c.batch % ranks != 0)
    throw ConfigError("--batch " + b + " is not divisible by the " + k +
                      " ranks of this run (each rank takes B/K examples of every minibatch)");
  NormGroup g{.rank_batch = c.batch / ranks, .ranks = ranks, .sync = c.sync_norm && ranks > 1};
  if (c.norm_config.microbatch < 0) throw ConfigError(std::string(flag) + " must be >= 1 (or 0: the whole minibatch), got " + m);
  if (g.sync) {
    if (c.norm_config.microbatch != 0 && c.norm_config.microbatch != c.batch)
      throw ConfigError("--sync-norm normalizes over the whole minibatch across ranks: " + std::string(flag) +
                        " must be 0 or " + b + ", got " + m);
    g.microbatch = g.rank_batch;
    g.group = c.batch;
    return g;
  }
  g.microbatch = c.norm_config.microbatch == 0 ? g.rank_batch : c.norm_config.microbatch;
  if (g.rank_batch % g.microbatch != 0)
    throw ConfigError(std::string(flag) + " " + m + " does not divide " +
                      (ranks == 1 ? "--batch " + b : "each rank's " + std::to_string(g.rank_batch) + " examples (--batch " + b + " over " + k + " ranks)"));
  g.group = g.microbatch;
  return g;
}

void validate_norm(const NormConfig& n) {
  try {
    n.validate();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    for (const char* prefix : {"norm: ", "clip schedule: "})
      if (m.rfind(prefix, 0) == 0) m = "--" + m.substr(std::string(prefix).size());
    throw ConfigError(m);
  }
}

RunNorm resolve_norm(const TrainConfig& c, int ranks, int64_t total_steps) {
  RunNorm r{.kind = c.norm, .group = resolve_norm_group(c, ranks), .config = c.norm_config};
  r.config.microbatch = r.group.sync ? 0 : r.group.microbatch;
  r.config.schedule = c.norm_config.schedule.completed(total_steps, c.norm_config.alpha);
  validate_norm(r.config);  // the given values and the completed schedule's order, once
  return r;
}

std::string default_out_dir(const TrainConfig& c, const NormGroup& g) {
  return "runs/" + enum_name(c.dataset) + "-" + enum_name(c.norm) + "-m" + std::to_string(g.group) + "-s" +
         std::to_string(c.seed);
}

}  // namespace renorm
