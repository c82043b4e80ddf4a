#include "train/norm_stats.h"

#include <algorithm>
#include <sstream>

#include "runtime/error.h"
#include "runtime/file_io.h"
#include "train/metrics.h"

namespace renorm {

std::string norm_stats_header() {
  return "step,layer,rmax,dmax,r_dev_mean,r_dev_p90,d_abs_mean,d_abs_p90,clip_r,clip_d,lag_mean,lag_std,log_std_ratio";
}

std::string norm_stats_line(int64_t step, int64_t layer, float rmax, float dmax, const NormProbe& p) {
  std::string line = std::to_string(step) + "," + std::to_string(layer);
  for (double v : {double(rmax), double(dmax), p.r_dev_mean, p.r_dev_p90, p.d_abs_mean, p.d_abs_p90, p.clip_r, p.clip_d,
                   p.lag_mean, p.lag_std, p.log_std_ratio}) {
    line += ',';
    line += format_number(v);
  }
  return line;
}

void NormStatsLog::add(int64_t step, float rmax, float dmax, const std::vector<NormProbe>& layers) {
  for (size_t i = 0; i < layers.size(); ++i)
    lines_.push_back(norm_stats_line(step, int64_t(i) + 1, rmax, dmax, layers[i]));
  write();
}

void NormStatsLog::write() const {
  if (path_.empty()) return;
  std::string all = norm_stats_header() + "\n";
  for (const std::string& line : lines_) all += line + "\n";
  write_file_atomic(path_, all);
}

void NormStatsLog::load(const std::string& file, int64_t step) {
  std::istringstream in(read_file(file, "norm statistics log (norm_stats.csv)"));
  std::string line;
  if (!std::getline(in, line) || line != norm_stats_header())
    throw IoError(file + ": line 1 is not the norm_stats.csv header");
  int64_t previous = 0;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    int64_t row_step = -1;
    if (!leading_step(line, &row_step) || row_step < std::max<int64_t>(previous, 1))
      throw IoError(file + ": line " + std::to_string(number) + " does not start with a step of at least " +
                    std::to_string(std::max<int64_t>(previous, 1)) + ": '" + line.substr(0, 40) + "'");
    previous = row_step;
    if (row_step <= step) lines_.push_back(line);
  }
}

}  // namespace renorm
