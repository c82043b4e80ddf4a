// renorm-emu-traffic: the GPU's account on the CUDA emulator (issue 23), for scripts/gpu-traffic.sh.
// The norm family at one shape — per op: launches, distinct global bytes (32-byte sectors any of its
// launches touched; a lower bound on DRAM traffic) against the least possible (the inputs read and the
// outputs written once) and tests/emu/budgets.txt, and the bytes accessed (every load and store, the
// cached coefficients included), the cooperative single launches too where the emulated device holds
// their grid; per kernel: launches, bytes read, written, distinct, shared, and the longest chain of
// global accesses by one thread — and one warm training step of the CIFAR CNN (brn over microbatches of
// 4, B 8: launches per kernel, library calls through the emulator's reference cuBLAS/cuDNN, memsets,
// copies, syncs, allocations).
//   renorm-emu-traffic [--shape B,H,W,C] [--microbatch M] [--json FILE]     (default 16,8,8,16, M 4)
// Exit status 0, or 2 with one line for a bad flag. Bytes need the traffic build (not the ASan preset).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/allocator.h"
#include "../budgets.h"
#include "support/cnn_step.h"
#include "../norm_ops.h"

namespace {
int bad(const std::string& line) {
  std::fprintf(stderr, "renorm-emu-traffic: %s\n", line.c_str());
  return 2;
}

struct Flags {
  long long b = 16, h = 8, w = 8, c = 16, m = 4;
  std::string json;
  std::string budgets = RENORM_BUDGETS_FILE;
};

bool parse(int argc, char** argv, Flags* f, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return *error = a + ": needs a value", false;
    const std::string v = argv[++i];
    if (a == "--shape") {
      char tail = 0;
      if (std::sscanf(v.c_str(), "%lld,%lld,%lld,%lld%c", &f->b, &f->h, &f->w, &f->c, &tail) != 4 || f->b < 1 || f->h < 1 ||
          f->w < 1 || f->c < 1)
        return *error = "--shape '" + v + "': expected B,H,W,C, each >= 1", false;
    } else if (a == "--microbatch") {
      char* end = nullptr;
      f->m = std::strtoll(v.c_str(), &end, 10);
      if (*end || f->m < 1) return *error = "--microbatch '" + v + "': expected an integer >= 1", false;
    } else if (a == "--json") {
      f->json = v;
    } else if (a == "--budgets") {
      f->budgets = v;
    } else {
      return *error = a + ": unknown flag (--shape, --microbatch, --json, --budgets)", false;
    }
  }
  if (f->b % f->m != 0) return *error = "--microbatch " + std::to_string(f->m) + " does not divide B " + std::to_string(f->b), false;
  return true;
}
using namespace renorm;

std::string json_kernel(const std::string& name, uint64_t launches, const renorm_emu::Traffic& t) {
  return "{\"name\": \"" + name + "\", \"launches\": " + std::to_string(launches) + ", \"bytes_read\": " +
         std::to_string(t.bytes_read) + ", \"bytes_written\": " + std::to_string(t.bytes_written) +
         ", \"bytes_distinct\": " + std::to_string(t.bytes_distinct) + ", \"shared_bytes\": " +
         std::to_string(t.shared_bytes) + ", \"longest_chain\": " + std::to_string(t.longest_chain) + "}";
}

struct Json {
  std::string kernels, norm, step;
};

// The norm family's tables; fills json.kernels and json.norm.
void norm_section(const Flags& f, const test::Budgets& budgets, Json* json) {
  test::NormOps norm(kernels::NormShape{f.b / f.m, f.m * f.h * f.w, f.c});
  const double pass = norm.pass_bytes();
  std::printf("norm family on the emulated CUDA device (%s), x %lldx%lldx%lldx%lld, microbatch %lld; F = %.0f bytes (one pass over x)\n",
              renorm_emu::traffic_counted() ? "bytes counted" : "launches only: this build counts no bytes", f.b, f.h, f.w,
              f.c, f.m, pass);
  std::printf("| op | launches | budget | distinct bytes | least | distinct / F | budget / F | accessed / F |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|\n");
  std::map<std::string, std::pair<uint64_t, renorm_emu::Traffic>> kernels;
  for (const test::NormOp& op : norm.ops(true)) {
    if (!op.run()) {  // warm
      std::printf("| %s | does not fit: the device cannot hold its grid at once | | | | | | |\n", op.name);
      continue;
    }
    renorm_emu::reset_account();
    op.run();
    const renorm_emu::Account a = renorm_emu::account();
    const test::NormBudget& budget = budgets.norm.at(op.name);
    const std::string per_f = budget.distinct_passes > 0 ? std::to_string(budget.distinct_passes).substr(0, 4) : "-";
    const renorm_emu::Traffic all = a.total_traffic();
    std::printf("| %s | %llu | %llu | %llu | %.0f | %.2f | %s | %.2f |\n", op.name, (unsigned long long)a.total_launches(),
                (unsigned long long)budget.launches, (unsigned long long)a.bytes_distinct_all, op.min_passes * pass,
                double(a.bytes_distinct_all) / pass, per_f.c_str(), double(all.bytes_read + all.bytes_written) / pass);
    json->norm += std::string(json->norm.empty() ? "" : ", ") + "\"" + op.name + "\": {\"launches\": " +
                  std::to_string(a.total_launches()) + ", \"bytes_distinct\": " + std::to_string(a.bytes_distinct_all) +
                  ", \"min_bytes\": " + std::to_string(uint64_t(op.min_passes * pass)) + "}";
    for (const auto& [k, n] : a.launches) {
      auto& row = kernels[test::shown_kernel(k)];
      row.first += n;
      const renorm_emu::Traffic kt = a.traffic.count(k) ? a.traffic.at(k) : renorm_emu::Traffic{};
      row.second.bytes_read += kt.bytes_read, row.second.bytes_written += kt.bytes_written;
      row.second.bytes_distinct += kt.bytes_distinct, row.second.shared_bytes += kt.shared_bytes;
      row.second.longest_chain = std::max(row.second.longest_chain, kt.longest_chain);
    }
  }
  std::printf("\n| kernel | launches | bytes read | bytes written | distinct bytes | shared bytes | longest chain |\n"
              "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [k, row] : kernels) {
    std::printf("| %s | %llu | %llu | %llu | %llu | %llu | %llu |\n", k.c_str(), (unsigned long long)row.first,
                (unsigned long long)row.second.bytes_read, (unsigned long long)row.second.bytes_written,
                (unsigned long long)row.second.bytes_distinct, (unsigned long long)row.second.shared_bytes,
                (unsigned long long)row.second.longest_chain);
    json->kernels += (json->kernels.empty() ? "" : ", ") + json_kernel(k, row.first, row.second);
  }
}

// One warm training step's account; fills json.step. Its launches per kernel, most first.
void step_section(const test::Budgets& budgets, Json* json) {
  renorm_emu::set_reference_libraries(true);
  test::CnnStep step(NormKind::BatchRenorm, 8, 4);
  step.run();  // warm
  step.run();
  renorm_emu::reset_account();
  step.run();
  renorm_emu::set_reference_libraries(false);
  const renorm_emu::Account a = renorm_emu::account();
  std::printf("\none warm training step, CIFAR CNN, brn over microbatches of 4, B 8: %llu launches + %llu library calls "
              "(budget %llu), %llu memsets, %llu copies (%llu pageable, budget %llu), %llu syncs (budget %llu), "
              "%llu allocations (budget %llu)\n",
              (unsigned long long)a.total_launches(), (unsigned long long)a.library_calls,
              (unsigned long long)budgets.step.at("launches_and_library_calls"), (unsigned long long)a.memsets,
              (unsigned long long)a.copies, (unsigned long long)a.pageable_copies,
              (unsigned long long)budgets.step.at("pageable_copies"), (unsigned long long)a.syncs,
              (unsigned long long)budgets.step.at("syncs"), (unsigned long long)a.allocations,
              (unsigned long long)budgets.step.at("allocations"));
  std::vector<std::pair<uint64_t, std::string>> rows;
  for (const auto& [k, n] : a.launches) rows.emplace_back(n, test::shown_kernel(k));
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  std::printf("| step kernel | launches |\n|---|---:|\n");
  std::string kernels;
  for (const auto& [n, k] : rows) {
    std::printf("| %s | %llu |\n", k.c_str(), (unsigned long long)n);
    const renorm_emu::Traffic kt = a.traffic.count(k) ? a.traffic.at(k) : renorm_emu::Traffic{};
    kernels += (kernels.empty() ? "" : ", ") + json_kernel(k, n, kt);
  }
  json->step = "{\"launches\": " + std::to_string(a.total_launches()) + ", \"library_calls\": " +
               std::to_string(a.library_calls) + ", \"memsets\": " + std::to_string(a.memsets) + ", \"copies\": " +
               std::to_string(a.copies) + ", \"pageable_copies\": " + std::to_string(a.pageable_copies) +
               ", \"syncs\": " + std::to_string(a.syncs) + ", \"allocations\": " +
               std::to_string(a.allocations) + ", \"kernels\": [" + kernels + "]}";
}

bool write_json(const Flags& f, const Json& j) {
  const std::string tmp = f.json + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"shape\": [" << f.b << ", " << f.h << ", " << f.w << ", " << f.c << "], \"microbatch\": " << f.m
        << ", \"multiprocessors\": " << ::renorm::cuda::multiprocessor_count()
        << ", \"bytes_counted\": " << (renorm_emu::traffic_counted() ? "true" : "false") << ", \"kernels\": ["
        << j.kernels << "], \"norm\": {" << j.norm << "}, \"step\": " << j.step << "}\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), f.json.c_str()) == 0;
}
}  // namespace

int main(int argc, char** argv) {
  Flags f;
  std::string error;
  if (!parse(argc, argv, &f, &error)) return bad(error);
  test::Budgets budgets;
  try {
    budgets = test::read_budgets(f.budgets);
  } catch (const std::runtime_error& e) {
    return bad(e.what());
  }
  renorm::set_exact_allocation(true);
  Json json;
  norm_section(f, budgets, &json);
  step_section(budgets, &json);
  if (!f.json.empty()) {
    if (!write_json(f, json)) return bad(f.json + ": cannot be written");
    std::printf("\nrenorm-emu-traffic: wrote %s\n", f.json.c_str());
  }
  return 0;
}
