// renorm-emu-traffic: the norm family's account on the CUDA emulator for one shape (issue 23), for
// scripts/gpu-traffic.sh. Per op: launches, distinct global bytes (32-byte sectors touched; a lower bound
// on DRAM traffic) against the least possible (reading the inputs and writing the outputs once) and
// issue 23's budget; per kernel: launches, bytes read, written and distinct. Counted once warm.
//   renorm-emu-traffic [--shape B,H,W,C] [--microbatch M] [--json FILE]     (default 16,8,8,16, M 4)
// Exit status 0, or 2 with one line for a bad flag. Bytes need the traffic build (not the ASan preset).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "runtime/allocator.h"
#include "../norm_ops.h"

namespace {
int bad(const std::string& line) {
  std::fprintf(stderr, "renorm-emu-traffic: %s\n", line.c_str());
  return 2;
}

struct Flags {
  long long b = 16, h = 8, w = 8, c = 16, m = 4;
  std::string json;
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
    } else {
      return *error = a + ": unknown flag (--shape, --microbatch, --json)", false;
    }
  }
  if (f->b % f->m != 0) return *error = "--microbatch " + std::to_string(f->m) + " does not divide B " + std::to_string(f->b), false;
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  Flags f;
  std::string error;
  if (!parse(argc, argv, &f, &error)) return bad(error);
  using namespace renorm;
  renorm::set_exact_allocation(true);
  test::NormOps norm(kernels::NormShape{f.b / f.m, f.m * f.h * f.w, f.c});
  const double pass = norm.pass_bytes();
  std::printf("norm family on the emulated CUDA device (%s), x %lldx%lldx%lldx%lld, microbatch %lld; F = %.0f bytes (one pass over x)\n",
              renorm_emu::traffic_counted() ? "bytes counted" : "launches only: this build counts no bytes", f.b, f.h, f.w,
              f.c, f.m, pass);
  std::printf("| op | launches | budget | distinct bytes | least | distinct / F | budget / F |\n|---|---:|---:|---:|---:|---:|---:|\n");
  std::ostringstream norm_json, kernel_json;
  std::map<std::string, std::pair<uint64_t, renorm_emu::Traffic>> kernels;
  for (const test::NormOp& op : norm.ops()) {
    op.run();  // warm
    renorm_emu::reset_account();
    op.run();
    const renorm_emu::Account a = renorm_emu::account();
    const renorm_emu::Traffic t = a.total_traffic();
    std::printf("| %s | %llu | %llu | %llu | %.0f | %.2f | %s |\n", op.name, (unsigned long long)a.total_launches(),
                (unsigned long long)op.launch_budget, (unsigned long long)t.bytes_distinct, op.min_passes * pass,
                double(t.bytes_distinct) / pass, op.byte_budget > 0 ? std::to_string(op.byte_budget).substr(0, 4).c_str() : "-");
    norm_json << (norm_json.tellp() > 0 ? ", " : "") << "\"" << op.name << "\": {\"launches\": " << a.total_launches()
              << ", \"bytes_distinct\": " << t.bytes_distinct << ", \"min_bytes\": " << uint64_t(op.min_passes * pass) << "}";
    for (const auto& [k, n] : a.launches) {
      auto& row = kernels[k.rfind("{anonymous}::", 0) == 0 ? k.substr(13) : k];
      row.first += n;
      const renorm_emu::Traffic& kt = a.traffic.count(k) ? a.traffic.at(k) : renorm_emu::Traffic{};
      row.second.bytes_read += kt.bytes_read, row.second.bytes_written += kt.bytes_written;
      row.second.bytes_distinct += kt.bytes_distinct;
    }
  }
  std::printf("\n| kernel | launches | bytes read | bytes written | distinct bytes |\n|---|---:|---:|---:|---:|\n");
  for (const auto& [k, row] : kernels) {
    std::printf("| %s | %llu | %llu | %llu | %llu |\n", k.c_str(), (unsigned long long)row.first,
                (unsigned long long)row.second.bytes_read, (unsigned long long)row.second.bytes_written,
                (unsigned long long)row.second.bytes_distinct);
    kernel_json << (kernel_json.tellp() > 0 ? ", " : "") << "{\"name\": \"" << k << "\", \"launches\": " << row.first
                << ", \"bytes_read\": " << row.second.bytes_read << ", \"bytes_written\": " << row.second.bytes_written
                << ", \"bytes_distinct\": " << row.second.bytes_distinct << "}";
  }
  if (!f.json.empty()) {
    const std::string tmp = f.json + ".tmp";
    {
      std::ofstream out(tmp);
      out << "{\"shape\": [" << f.b << ", " << f.h << ", " << f.w << ", " << f.c << "], \"microbatch\": " << f.m
          << ", \"bytes_counted\": " << (renorm_emu::traffic_counted() ? "true" : "false") << ", \"kernels\": ["
          << kernel_json.str() << "], \"norm\": {" << norm_json.str() << "}, \"step\": null}\n";
      if (!out) return bad(f.json + ": cannot be written");
    }
    if (std::rename(tmp.c_str(), f.json.c_str()) != 0) return bad(f.json + ": cannot be written");
    std::printf("\nrenorm-emu-traffic: wrote %s (\"step\": null: the training step's account is not built yet)\n", f.json.c_str());
  }
  return 0;
}
