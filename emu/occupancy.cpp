// How many blocks of a kernel one emulated multiprocessor holds at once (cudaOccupancyMaxActiveBlocks-
// PerMultiprocessor, and the residency check of a cooperative launch). The device's limits — threads,
// blocks and shared memory per multiprocessor — bound every kernel; for renorm's own kernels the
// registers and static shared memory they were compiled with for sm_90 bound them too, read from the
// table scripts/check_kernel_resources.py --emit writes from librenorm.a at build time (the file
// RENORM_EMU_RESOURCES names), so that the cooperative plan refuses on the emulator the grids an H100 or
// H200 refuses. A kernel the table lacks (the emulator's own test kernels; a build without the CUDA
// toolkit) keeps the device's limits alone: an upper bound of what a GPU reports.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "emulator.h"

namespace renorm_emu {
namespace {
constexpr int kRegistersPerMultiprocessor = 65536, kRegisterUnit = 256;  // per warp, sm_90
constexpr size_t kReservedSharedPerBlock = 1024;                          // the system's share of each block

struct Table {
  std::mutex mutex;
  std::map<std::string, KernelResources> kernels;  // base name -> compiled resources
  std::map<const void*, std::string> names;         // kernel function -> its name (name_kernel)
  std::string source;                               // the file read, "" when none
};
Table& table() {
  static Table* t = [] {
    auto* t = new Table();
    const char* path = std::getenv("RENORM_EMU_RESOURCES");
    if (!path || !*path) return t;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream f(line);
      std::string name;
      KernelResources r;
      if (f >> name >> r.registers >> r.static_shared) t->kernels[name] = r;
    }
    if (!t->kernels.empty()) t->source = path;
    return t;
  }();
  return *t;
}
}  // namespace

// "forward_coop" from "{anonymous}::forward_coop" or "ns::affine_apply<1, 4, ...>": the last name, no template arguments.
std::string kernel_base_name(const std::string& kernel) {
  const std::string head = kernel.substr(0, kernel.find('<'));
  const size_t colons = head.rfind("::");
  return colons == std::string::npos ? head : head.substr(colons + 2);
}

bool kernel_resources(const std::string& kernel, KernelResources* out) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.kernels.find(kernel_base_name(kernel));
  if (it == t.kernels.end()) return false;
  *out = it->second;
  return true;
}

std::string kernel_resources_source() { return table().source; }

void name_kernel(const void* func, const char* name) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.names[func] = name;
}

std::string kernel_named(const void* func) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.names.find(func);
  return it == t.names.end() ? std::string() : it->second;
}

int resident_blocks_per_multiprocessor(unsigned threads, size_t dynamic_shared) {
  const cudaDeviceProp& p = device_config().prop;
  if (threads == 0 || threads > unsigned(p.maxThreadsPerBlock)) return 0;
  int blocks = std::min(p.maxBlocksPerMultiProcessor, p.maxThreadsPerMultiProcessor / int(threads));
  if (dynamic_shared) blocks = std::min(blocks, int(p.sharedMemPerMultiprocessor / dynamic_shared));
  return blocks;
}

int resident_blocks_of(const std::string& kernel, unsigned threads, size_t dynamic_shared) {
  int blocks = resident_blocks_per_multiprocessor(threads, dynamic_shared);
  KernelResources r;
  if (blocks == 0 || kernel.empty() || !kernel_resources(kernel, &r)) return blocks;
  const int warps = int((threads + 31) / 32);
  const int per_warp = (r.registers * 32 + kRegisterUnit - 1) / kRegisterUnit * kRegisterUnit;
  if (per_warp > 0) blocks = std::min(blocks, kRegistersPerMultiprocessor / (warps * per_warp));
  const size_t shared = r.static_shared + dynamic_shared + kReservedSharedPerBlock;
  return std::min(blocks, int(device_config().prop.sharedMemPerMultiprocessor / shared));
}

}  // namespace renorm_emu
