// tests/emu/budgets.txt, read (the budget test and scripts/gpu-traffic.sh's table).
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace renorm::test {

struct NormBudget {
  uint64_t launches = 0;
  double distinct_passes = 0;  // distinct bytes / F; 0: none
};

struct Budgets {
  std::map<std::string, NormBudget> norm;  // forward, backward, moments, inference
  std::map<std::string, uint64_t> step;    // launches_and_library_calls, syncs, allocations, pageable_copies
};

// Throws std::runtime_error naming the file and the line for anything else than the format above.
inline Budgets read_budgets(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  Budgets b;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    std::istringstream f(line);
    std::string key, a, c, extra;
    if (!(f >> key) || key[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(no) + ": ";
    try {
      if (key.rfind("norm.", 0) == 0 && (f >> a >> c) && !(f >> extra)) {
        b.norm[key.substr(5)] = {std::stoull(a), c == "-" ? 0.0 : std::stod(c)};
      } else if (key.rfind("step.", 0) == 0 && (f >> a) && !(f >> extra)) {
        b.step[key.substr(5)] = std::stoull(a);
      } else {
        throw std::invalid_argument("format");
      }
    } catch (const std::logic_error&) {
      throw std::runtime_error(where + "expected 'norm.<op> <launches> <distinct/F|->' or 'step.<what> <n>': '" + line + "'");
    }
  }
  for (const char* op : {"forward", "backward", "moments", "inference"})
    if (!b.norm.count(op)) throw std::runtime_error(path + ": no budget for norm." + op);
  for (const char* what : {"launches_and_library_calls", "syncs", "allocations", "pageable_copies"})
    if (!b.step.count(what)) throw std::runtime_error(path + ": no budget for step." + what);
  return b;
}

}  // namespace renorm::test
