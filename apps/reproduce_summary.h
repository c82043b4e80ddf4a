// The numbers of a reproduction, from the runs in its folder: per configuration the final validation
// accuracy over seeds (mean, [min, max]); per comparison the paired difference A − B (same seed: same
// initialization and data order) in points, its standard deviation and t = mean / (sd / sqrt(n)).
// renorm-reproduce prints it and writes <out>/summary.md; runs.csv gains each run's final accuracy.
#pragma once
#include <string>
#include <vector>

#include "apps/reproduce_runner.h"

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

// runs.csv: one row per planned run, with its final accuracy when `with_results` (empty cells otherwise).
std::string runs_csv(const ReproduceConfig& c, const std::vector<RunSpec>& runs, bool with_results);
// summary.md: the two tables, with the preset, the data, the library version and the commit.
std::string summary_markdown(const ReproduceConfig& c, const std::vector<RunSpec>& runs);

}  // namespace renorm
