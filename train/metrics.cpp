#include "train/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace renorm {

namespace {
// The columns before val_acc_train_mode and the gaps were added (2026-12-01): such a file still resumes.
const char* kMetricsHeaderV1 =
    "step,epoch,train_loss,train_acc,val_loss,val_acc,rmax,dmax,clip_r,clip_d,lr,elapsed_s,images_per_s";
}  // namespace

std::string metrics_header(int64_t gap_columns) {
  std::string h = std::string(kMetricsHeaderV1) + ",val_acc_train_mode";
  for (int64_t i = 1; i <= gap_columns; ++i) h += ",gap_norm" + std::to_string(i);
  return h;
}

std::string format_number(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

namespace {
// val_acc_train_mode and the gap columns: empty cells without a validation or norm layers.
std::string mechanism_cells(const MetricsRow& r, int64_t gap_columns) {
  const bool measured = r.evaluated && !r.gaps.empty();
  // Appended cell by cell: "," + std::string&& trips GCC 12's bogus -Wrestrict (GCC PR 105651).
  std::string out = ",";
  if (measured) out += format_number(r.val_acc_train_mode);
  for (int64_t i = 0; i < gap_columns; ++i) {
    out += ',';
    if (measured && size_t(i) < r.gaps.size()) out += format_number(r.gaps[size_t(i)]);
  }
  return out;
}
}  // namespace

std::string csv_line(const MetricsRow& r, int64_t gap_columns) {
  std::string line = std::to_string(r.step) + "," + format_number(r.epoch) + "," + format_number(r.train_loss) + "," +
                     format_number(r.train_acc) + ",";
  line += r.evaluated ? format_number(r.val_loss) + "," + format_number(r.val_acc) : std::string(",");  // appended: PR 105651
  return line + "," + format_number(r.rmax) + "," + format_number(r.dmax) + "," + format_number(r.clip_r) + "," +
         format_number(r.clip_d) + "," + format_number(r.lr) + "," + format_number(r.elapsed_s, 8) + "," +
         format_number(r.images_per_s) + mechanism_cells(r, gap_columns);
}

bool leading_step(const std::string& line, int64_t* step) {
  const char *first = line.data(), *comma = first + std::min(line.find(','), line.size());
  const auto [end, ec] = std::from_chars(first, comma, *step);
  return comma != first + line.size() && ec == std::errc() && end == comma && *step >= 0;
}

void MetricsLog::add(const MetricsRow& r) {
  lines_.push_back(csv_line(r, gaps_));
  write();
}

void MetricsLog::write() const {
  if (path_.empty()) return;
  std::string all = metrics_header(gaps_) + "\n";
  for (const std::string& line : lines_) all += line + "\n";
  write_file_atomic(path_, all);
}

void MetricsLog::load(const std::string& file, int64_t step) {
  std::istringstream in(read_file(file, "metrics log (metrics.csv)"));
  std::string line;
  if (!std::getline(in, line) || (line != metrics_header(gaps_) && line != kMetricsHeaderV1))
    throw IoError(file + ": line 1 is not the metrics.csv header of this model (" + std::to_string(gaps_) +
                  " norm positions)");
  const std::string pad = line == kMetricsHeaderV1 ? std::string(size_t(1 + gaps_), ',') : "";  // the new cells, empty
  int64_t previous = 0;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    int64_t row_step = -1;
    if (!leading_step(line, &row_step) || row_step <= previous)
      throw IoError(file + ": line " + std::to_string(number) + " does not start with a step after " +
                    std::to_string(previous) + ": '" + line.substr(0, 40) + "'");
    previous = row_step;
    if (row_step <= step) lines_.push_back(line + pad);
  }
}

std::string schedule_csv(const ClipSchedule& s, int64_t total_steps) {
  std::string out = "step,rmax,dmax\n";
  const int64_t ramps_end = std::max({s.warmup_steps, s.rmax_steps, s.dmax_steps}) + 1;
  for (int64_t k = 0; k < total_steps; ++k)
    if (k <= ramps_end || k == total_steps - 1)
      out += std::to_string(k + 1) + "," + format_number(s.rmax(k)) + "," + format_number(s.dmax(k)) + "\n";
  return out;
}

}  // namespace renorm
