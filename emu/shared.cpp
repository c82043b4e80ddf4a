// The blocks' __shared__ memory. renorm_emu/device.h's __shared__ puts a static in the section
// renorm_emu_shared, which GCC honours for a non-template function's static but ignores for a template's:
// those land in .bss among the program's other statics (merge_lanes<T>'s lanes, block_sum<N>'s sums, a
// templated kernel's own arrays). So the emulator also learns their bytes as kernels touch them: an
// instrumented access (traffic.cpp) during a launch to the program's writable data, other than the
// emulator's own globals the built-in variables read, is a __shared__ static's. Each block's start
// poisons, and each block's own copy (cooperative and interleaved launches keep several alive) holds, the
// section and every byte learned so far. A template's array is learned at its first access, so the first
// block to touch it sees it unpoisoned; the ASan build has no access hooks and learns nothing.
#include <link.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "emulator.h"

extern "C" char __start_renorm_emu_shared[] __attribute__((weak));
extern "C" char __stop_renorm_emu_shared[] __attribute__((weak));

namespace renorm_emu {
namespace {
struct Learned {
  std::mutex mutex;
  std::map<uintptr_t, uintptr_t> ranges;  // lo -> hi, disjoint
};
Learned& learned() {
  static auto* l = new Learned();
  return *l;
}

// The main program's writable segment (its .data and .bss), found once.
struct Segment {
  uintptr_t lo = 0, hi = 0;
};
const Segment& program_data() {
  static const Segment s = [] {
    Segment seg;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* out) {
          auto* s = static_cast<Segment*>(out);
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
            const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
            if (!s->lo || lo < s->lo) s->lo = lo;
            s->hi = std::max(s->hi, uintptr_t(lo + ph.p_memsz));
          }
          return 1;  // the first object is the program itself
        },
        &seg);
    return seg;
  }();
  return s;
}

bool excluded(uintptr_t a) {  // the emulator's globals that threadIdx, blockIdx and friends read
  const auto t = reinterpret_cast<uintptr_t>(&g_thread), b = reinterpret_cast<uintptr_t>(&g_block);
  return (a >= t && a < t + sizeof g_thread) || (a >= b && a < b + sizeof g_block);
}

char* section() { return __start_renorm_emu_shared; }
size_t section_bytes() { return size_t(__stop_renorm_emu_shared - __start_renorm_emu_shared); }
}  // namespace

bool is_template_shared(uintptr_t a) {
  const Segment& s = program_data();
  const auto sec = reinterpret_cast<uintptr_t>(section());
  return a >= s.lo && a < s.hi && !(a >= sec && a < sec + section_bytes()) && !excluded(a);
}

void learn_shared(uintptr_t a, size_t n) {
  Learned& l = learned();
  std::lock_guard<std::mutex> lock(l.mutex);
  uintptr_t lo = a, hi = a + n;
  auto it = l.ranges.upper_bound(lo);
  if (it != l.ranges.begin() && std::prev(it)->second >= lo) --it;
  while (it != l.ranges.end() && it->first <= hi) {
    lo = std::min(lo, it->first), hi = std::max(hi, it->second);
    it = l.ranges.erase(it);
  }
  l.ranges[lo] = hi;
}

SharedCopy save_shared() {
  SharedCopy c;
  c.fresh = false;
  c.section.assign(section(), section() + section_bytes());
  Learned& l = learned();
  std::lock_guard<std::mutex> lock(l.mutex);
  for (const auto& [lo, hi] : l.ranges)
    c.learned.emplace_back(lo, std::vector<unsigned char>(reinterpret_cast<const unsigned char*>(lo),
                                                          reinterpret_cast<const unsigned char*>(hi)));
  return c;
}

void restore_shared(const SharedCopy& c) {
  if (!c.fresh) {
    std::memcpy(section(), c.section.data(), c.section.size());
    for (const auto& [lo, bytes] : c.learned) std::memcpy(reinterpret_cast<void*>(lo), bytes.data(), bytes.size());
    return;
  }
  // A block's first turn: garbage, as a GPU's uninitialized shared memory (all-ones bytes: NaN, -1).
  if (section_bytes()) std::memset(section(), 0xff, section_bytes());
  Learned& l = learned();
  std::lock_guard<std::mutex> lock(l.mutex);
  for (const auto& [lo, hi] : l.ranges) std::memset(reinterpret_cast<void*>(lo), 0xff, hi - lo);
}

}  // namespace renorm_emu
