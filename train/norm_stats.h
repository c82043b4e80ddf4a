// norm_stats.csv (--norm-stats on): one row per norm layer (in forward order) at each log step, from
// BatchRenorm::probe() (layers/norm_probe.h): what r and d were before clipping, how many the step's
// bounds clipped, and how far the moving averages lagged behind the minibatch's own statistics.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "layers/norm_probe.h"

namespace renorm {

std::string norm_stats_header();
std::string norm_stats_line(int64_t step, int64_t layer, float rmax, float dmax, const NormProbe& p);

class NormStatsLog {
 public:
  explicit NormStatsLog(std::string path) : path_(std::move(path)) {}  // "": nothing written
  // The rows of one log step (layers 1..n), then the file rewritten atomically.
  void add(int64_t step, float rmax, float dmax, const std::vector<NormProbe>& layers);
  void write() const;
  // --resume: the rows of an earlier run up to `step`; IoError naming the file and line for a row whose
  // step is not a count in non-decreasing order.
  void load(const std::string& file, int64_t step);

 private:
  std::string path_;
  std::vector<std::string> lines_;
};

}  // namespace renorm
