#include "train/metrics.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "train/checkpoint.h"

namespace renorm {

namespace {
const char* kMetricsHeader =
    "step,epoch,train_loss,train_acc,val_loss,val_acc,rmax,dmax,clip_r,clip_d,lr,elapsed_s,images_per_s";
}  // namespace

std::string format_number(double v, int digits) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string csv_line(const MetricsRow& r) {
  return std::to_string(r.step) + "," + format_number(r.epoch) + "," + format_number(r.train_loss) + "," +
         format_number(r.train_acc) + "," + format_number(r.val_loss) + "," + format_number(r.val_acc) + "," +
         format_number(r.rmax) + "," + format_number(r.dmax) + "," + format_number(r.clip_r) + "," +
         format_number(r.clip_d) + "," + format_number(r.lr) + "," + format_number(r.elapsed_s, 8) + "," +
         format_number(r.images_per_s);
}

void MetricsLog::add(const MetricsRow& r) {
  lines_.push_back(csv_line(r));
  std::string all = std::string(kMetricsHeader) + "\n";
  for (const std::string& line : lines_) all += line + "\n";
  write_file_atomic(path_, all);
}

void MetricsLog::load(const std::string& file, int64_t step) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line))
    if (!line.empty() && std::stoll(line.substr(0, line.find(','))) <= step) lines_.push_back(line);
}

}  // namespace renorm
