// The numbers of a reproduction, from the runs in its folder: per configuration the final validation
// accuracy over seeds (mean, [min, max]); per comparison the paired difference A − B (same seed: same
// initialization and data order) in points, its standard deviation and t = mean / (sd / sqrt(n)).
// renorm-reproduce prints it and writes <out>/summary.md; runs.csv gains each run's final accuracy.
#pragma once
#include <string>
#include <vector>

#include "reproduce/plan.h"

namespace renorm {

// The final validation accuracy of the run in `dir` (the last metrics row with a validation); NaN when
// the run has none yet. IoError naming metrics.csv when it is not ours.
double final_val_acc(const std::string& dir);

struct Comparison {
  std::string title;       // "Batch Renorm − batchnorm, microbatch 2"
  std::string a, b;        // the configurations' labels (RunSpec::label): A − B
};
// The comparisons each experiment of `c` makes (Figure 2: Batch Renorm against batchnorm at M, batchnorm
// at M against B; Figure 3: Batch Renorm against batchnorm non-i.i.d., and against the i.i.d. baseline).
std::vector<Comparison> comparisons(const ReproduceConfig& c);

// final_val_acc of every run, in plan order (read once, for both files below).
std::vector<double> final_accuracies(const std::vector<RunSpec>& runs);
// runs.csv: one row per planned run, with its final accuracy from `acc` (empty cells when `acc` is empty
// or the run has none).
std::string runs_csv(const ReproduceConfig& c, const std::vector<RunSpec>& runs, const std::vector<double>& acc = {});
// summary.md: the two tables from `acc` (final_accuracies), with the preset, the data, the library
// version and the commit.
std::string summary_markdown(const ReproduceConfig& c, const std::vector<RunSpec>& runs, const std::vector<double>& acc);

}  // namespace renorm
