#include "reproduce/summary.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "train/hardware.h"
#include "renorm_commit.h"  // RENORM_COMMIT, generated at every build (cmake/RenormCommit.cmake)
#include "runtime/error.h"
#include "runtime/file_io.h"

#ifndef RENORM_VERSION
#define RENORM_VERSION "unknown"
#endif

namespace renorm {

namespace fs = std::filesystem;

double final_val_acc(const std::string& dir) {
  const std::string path = dir + "/metrics.csv";
  if (!fs::exists(path)) return NAN;
  std::istringstream in(read_file(path, "metrics", 1 << 28));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  for (std::istringstream h(line); std::getline(h, line, ',');) header.push_back(line);
  size_t col = 0;
  while (col < header.size() && header[col] != "val_acc") ++col;
  if (col == header.size()) throw IoError(path + ": no val_acc column");
  double last = NAN;
  while (std::getline(in, line)) {
    std::istringstream cells(line);
    std::string cell;
    for (size_t i = 0; i <= col && std::getline(cells, cell, ','); ++i) {
    }
    if (cell.empty()) continue;
    char* end = nullptr;
    const double v = std::strtod(cell.c_str(), &end);
    if (end == cell.c_str() || *end != '\0') throw IoError(path + ": val_acc '" + cell + "' is not a number");
    last = v;
  }
  return last;
}

namespace {
std::string label_of(const std::vector<RunSpec>& runs, Experiment exp, NormKind norm, int64_t m, Sampler sampler,
                     int64_t k = LoaderConfig{}.class_run) {
  for (const RunSpec& r : runs)
    if (r.experiment == exp && r.norm == norm && r.microbatch == m && r.sampler == sampler && r.noniid_run == k) return r.label;
  return "";
}
}  // namespace

std::vector<Comparison> comparisons(const ReproduceConfig& c) {
  const std::vector<RunSpec> runs = plan(c);
  const std::string m = std::to_string(c.microbatch), b = std::to_string(c.batch);
  const int64_t mn = c.noniid_microbatch;
  std::vector<Comparison> out;
  auto add = [&](std::string title, std::string a, std::string bl) {
    if (!a.empty() && !bl.empty()) out.push_back({std::move(title), std::move(a), std::move(bl)});
  };
  constexpr Experiment fig2 = Experiment::Microbatch, fig3 = Experiment::Noniid;
  constexpr NormKind bn = NormKind::BatchNorm, brn = NormKind::BatchRenorm;
  constexpr Sampler iid = Sampler::Iid, noniid = Sampler::NonIid;
  add("Batch Renorm − batchnorm, microbatch " + m, label_of(runs, fig2, brn, c.microbatch, iid),
      label_of(runs, fig2, bn, c.microbatch, iid));
  add("batchnorm: microbatch " + m + " − minibatch " + b, label_of(runs, fig2, bn, c.microbatch, iid),
      label_of(runs, fig2, bn, c.batch, iid));
  add("Batch Renorm − batchnorm, minibatch " + b, label_of(runs, fig2, brn, c.batch, iid), label_of(runs, fig2, bn, c.batch, iid));
  const std::string nm = std::to_string(mn);
  add("Batch Renorm − batchnorm, non-i.i.d., microbatch " + nm, label_of(runs, fig3, brn, mn, noniid),
      label_of(runs, fig3, bn, mn, noniid));
  add("batchnorm: non-i.i.d. − i.i.d., microbatch " + nm, label_of(runs, fig3, bn, mn, noniid), label_of(runs, fig3, bn, mn, iid));
  add("Batch Renorm non-i.i.d. − batchnorm i.i.d., microbatch " + nm, label_of(runs, fig3, brn, mn, noniid),
      label_of(runs, fig3, bn, mn, iid));
  for (int64_t k = mn; k >= 1; k /= 2)
    add("Batch Renorm − batchnorm, " + std::to_string(mn / k) + " classes per microbatch of " + nm,
        label_of(runs, Experiment::Classes, brn, mn, noniid, k), label_of(runs, Experiment::Classes, bn, mn, noniid, k));
  return out;
}

std::vector<double> final_accuracies(const std::vector<RunSpec>& runs) {
  std::vector<double> acc;
  for (const RunSpec& r : runs) acc.push_back(final_val_acc(r.dir));
  return acc;
}

std::string runs_csv(const ReproduceConfig& c, const std::vector<RunSpec>& runs, const std::vector<double>& acc) {
  // The hardware is every row's (one machine runs a reproduction); quoted: it holds commas.
  const std::string hardware = "\"" + hardware_description() + "\"";
  std::string out = "experiment,label,norm,microbatch,sampler,noniid_run,seed,dir,final_val_acc,hardware\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& r = runs[i];
    char cell[32] = "";
    if (i < acc.size() && !std::isnan(acc[i])) std::snprintf(cell, sizeof cell, "%.4f", acc[i]);
    out += enum_name(r.experiment) + ",\"" + r.label + "\"," + enum_name(r.norm) + "," + std::to_string(r.microbatch) + "," +
           enum_name(r.sampler) + "," +
           std::to_string(r.noniid_run) + "," + std::to_string(r.seed) + "," + fs::relative(r.dir, c.out_dir).string() +
           "," + cell + "," + hardware + "\n";
  }
  return out;
}

namespace {
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
}  // namespace

std::string summary_markdown(const ReproduceConfig& c, const std::vector<RunSpec>& runs, const std::vector<double>& finals) {
  std::map<std::string, std::map<uint64_t, double>> acc;  // label -> seed -> final accuracy
  std::vector<std::pair<std::string, std::string>> order;  // (experiment, label) in plan order
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& r = runs[i];
    if (acc.find(r.label) == acc.end()) order.emplace_back(enum_name(r.experiment), r.label);
    auto& by_seed = acc[r.label];
    if (i < finals.size() && !std::isnan(finals[i])) by_seed[r.seed] = finals[i];
  }
  std::string s = "# Reproduction summary\n\nPreset " + c.preset + ", " + enum_name(c.dataset) + " (" + c.data_dir + "), B " +
                  std::to_string(c.batch) + ", " + std::to_string(c.steps) + " steps, " + std::to_string(c.seeds) +
                  (c.seeds == 1 ? " seed" : " seeds") + "; renorm " + RENORM_VERSION + ", commit " + RENORM_COMMIT + "; " + hardware_description() + ". Final validation accuracy: the "
                  "last validation of each run (inference mode, i.i.d. test data).\n\n"
                  "| experiment | configuration | seeds | final accuracy, mean | [min, max] |\n|---|---|---|---|---|\n";
  for (const auto& [exp, label] : order) {
    const auto& v = acc[label];
    if (v.empty()) {
      s += "| " + exp + " | " + label + " | 0 | — | — |\n";
      continue;
    }
    double sum = 0, lo = 1e9, hi = -1e9;
    for (const auto& [seed, a] : v) sum += a, lo = std::min(lo, a), hi = std::max(hi, a);
    s += "| " + exp + " | " + label + " | " + std::to_string(v.size()) + " | " + fmt("%.4f", sum / double(v.size())) +
         " | [" + fmt("%.4f", lo) + ", " + fmt("%.4f", hi) + "] |\n";
  }
  s += "\n| comparison, A − B (paired by seed) | seeds | difference, points: mean ± sd | t |\n|---|---|---|---|\n";
  for (const Comparison& k : comparisons(c)) {
    std::vector<double> d;
    for (const auto& [seed, a] : acc[k.a])
      if (auto it = acc[k.b].find(seed); it != acc[k.b].end()) d.push_back(100.0 * (a - it->second));
    const double n = double(d.size());
    double mean = 0, ss = 0;
    for (double x : d) mean += x / n;
    for (double x : d) ss += (x - mean) * (x - mean);
    const double sd = d.size() > 1 ? std::sqrt(ss / (n - 1)) : NAN;
    const std::string diff = d.empty() ? "—" : fmt("%+.1f", mean) + (std::isnan(sd) ? "" : " ± " + fmt("%.1f", sd));
    const std::string t = std::isnan(sd) || sd == 0 ? "—" : fmt("%.1f", mean / (sd / std::sqrt(n)));
    s += "| " + k.title + " | " + std::to_string(d.size()) + " | " + diff + " | " + t + " |\n";
  }
  return s;
}

}  // namespace renorm
