// metrics.csv: one row every log_every steps and at each validation, rewritten atomically as it grows.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/ops/renorm.h"

namespace renorm {

struct MetricsRow {
  int64_t step = 0;
  double epoch = 0, train_loss = 0, train_acc = 0;
  bool evaluated = false;            // the row has a validation: val_loss and val_acc are its results
  double val_loss = 0, val_acc = 0;  // written as empty cells when !evaluated
  double rmax = 1, dmax = 0, clip_r = 0, clip_d = 0, lr = 0, elapsed_s = 0, images_per_s = 0;
  // At a validation, with norm layers (empty cells otherwise): the validation accuracy with the norm
  // layers normalizing over microbatches as in training (val_acc_train_mode), and per norm layer the
  // normalized gap between its training-mode and inference-mode outputs on one validation batch
  // (gap_norm1.., one column per norm position of the model: Model::train_inference_gaps).
  double val_acc_train_mode = 0;
  std::vector<double> gaps;
};

// A number as the CSV and the messages write it: %.*g with `digits` significant digits; NaN and the
// infinities as nan, inf, -inf (what Python's float() and pandas read back).
std::string format_number(double v, int digits = 6);
// The step in a CSV row's first cell (a non-negative count before the first comma); false if it is not one.
bool leading_step(const std::string& line, int64_t* step);
// The header, with `gap_columns` gap columns, and a row under it.
std::string metrics_header(int64_t gap_columns);
std::string csv_line(const MetricsRow& r, int64_t gap_columns);

// schedule.csv of a Batch Renorm run: "step,rmax,dmax", the bounds training step `step` (1-based) uses,
// for every step until both ramps have ended, then the last step: the schedule itself, which figures draw
// (the metrics rows sample it only every log_every steps).
std::string schedule_csv(const ClipSchedule& s, int64_t total_steps);

class MetricsLog {
 public:
  // "": kept in memory, never written. gap_columns: the model's norm positions (Model::norm_positions).
  MetricsLog(std::string path, int64_t gap_columns) : path_(std::move(path)), gaps_(gap_columns) {}
  void add(const MetricsRow& r);  // appends and rewrites the file (atomically)
  void write() const;             // (re)writes the file with the rows so far (the header alone at first)
  // The rows of an earlier run up to `step` (resume); IoError naming the file and line for a row that
  // is not one of ours (its step must be a count, in increasing order).
  void load(const std::string& file, int64_t step);

 private:
  std::string path_;
  int64_t gaps_;
  std::vector<std::string> lines_;
};

}  // namespace renorm
