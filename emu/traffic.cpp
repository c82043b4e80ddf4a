// The bytes an emulated kernel moves (emu/include/cuda_runtime.h, Traffic). The kernel translation units
// are compiled with -fsanitize=kernel-address in outline mode (emu/CMakeLists.txt), so that every load
// and store calls one of the __asan_*_noabort hooks below with its address and size; this file is not
// instrumented. While a launch runs (begin_traffic .. end_traffic) the hooks sort each access: emulated
// device memory is global traffic (bytes and the distinct 32-byte sectors), the blocks' shared memory
// is shared traffic, anything else (the threads' own stacks, host memory) is not counted.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_set>

#include "emulator.h"

extern "C" char __start_renorm_emu_shared[] __attribute__((weak));
extern "C" char __stop_renorm_emu_shared[] __attribute__((weak));

namespace renorm_emu {
namespace {
struct Launch {
  Traffic t;
  std::unordered_set<uintptr_t> sectors;
  uintptr_t dyn_lo = 0, dyn_hi = 0;  // the launch's dynamic shared memory
  // The last device allocations accesses fell in (a kernel's accesses alternate among a few tensors).
  static constexpr int kHits = 4;
  uintptr_t hit_lo[kHits] = {}, hit_hi[kHits] = {};
  int next_hit = 0;
};
Launch* g_launch = nullptr;  // emulated kernels run one at a time (launch.cpp holds its lock)
}  // namespace

// One instrumented access of n bytes at a (the hooks below).
void record(uintptr_t a, size_t n, bool write) {
  Launch* l = g_launch;
  if (!l) return;
  const uintptr_t shared_lo = reinterpret_cast<uintptr_t>(__start_renorm_emu_shared);
  const uintptr_t shared_hi = reinterpret_cast<uintptr_t>(__stop_renorm_emu_shared);
  if ((a >= shared_lo && a < shared_hi) || (a >= l->dyn_lo && a < l->dyn_hi)) {
    l->t.shared_bytes += n;
    return;
  }
  if (is_template_shared(a)) {  // a __shared__ static outside the section (emu/shared.cpp)
    learn_shared(a, n);
    l->t.shared_bytes += n;
    return;
  }
  int h = 0;
  while (h < Launch::kHits && !(a >= l->hit_lo[h] && a + n <= l->hit_hi[h])) ++h;
  if (h == Launch::kHits) {
    uintptr_t base = 0;
    size_t bytes = 0;
    if (!device_allocation(reinterpret_cast<const void*>(a), &base, &bytes)) return;
    h = l->next_hit;
    l->next_hit = (l->next_hit + 1) % Launch::kHits;
    l->hit_lo[h] = base;
    l->hit_hi[h] = base + bytes;
  }
  memory_access(a, n, write, l->hit_lo[h], l->hit_hi[h] - l->hit_lo[h]);  // the memory model (emu/memory.cpp)
  (write ? l->t.bytes_written : l->t.bytes_read) += n;
  if (g_thread) l->t.longest_chain = std::max(l->t.longest_chain, ++g_thread->global_accesses);
  for (uintptr_t s = a >> 5; s <= (a + n - 1) >> 5; ++s) l->sectors.insert(s);
}

#if RENORM_EMU_TRAFFIC
bool traffic_counted() { return true; }
#else
bool traffic_counted() { return false; }
#endif

void begin_traffic(const void* dynamic_shared, size_t dynamic_bytes) {
  g_launch = new Launch();
  g_launch->dyn_lo = reinterpret_cast<uintptr_t>(dynamic_shared);
  g_launch->dyn_hi = g_launch->dyn_lo + (dynamic_shared ? dynamic_bytes : 0);
}

void end_traffic(const char* kernel) {
  Launch* l = g_launch;
  g_launch = nullptr;
  if (!l) return;
  l->t.bytes_distinct = 32 * uint64_t(l->sectors.size());
  if (traffic_counted()) add_traffic(kernel, l->t, l->sectors);
  delete l;
}

}  // namespace renorm_emu

// The instrumentation's entry points (GCC's names in outline mode, with -fsanitize-recover: _noabort).
// Only in the traffic build: under ASan these names are the sanitizer runtime's own.
#if RENORM_EMU_TRAFFIC
#define RENORM_EMU_HOOK(n)                                                                                      \
  extern "C" void __asan_load##n##_noabort(uintptr_t a) { renorm_emu::record(a, n, false); }                    \
  extern "C" void __asan_store##n##_noabort(uintptr_t a) { renorm_emu::record(a, n, true); }
RENORM_EMU_HOOK(1)
RENORM_EMU_HOOK(2)
RENORM_EMU_HOOK(4)
RENORM_EMU_HOOK(8)
RENORM_EMU_HOOK(16)
#undef RENORM_EMU_HOOK
extern "C" void __asan_loadN_noabort(uintptr_t a, size_t n) { renorm_emu::record(a, n, false); }
extern "C" void __asan_storeN_noabort(uintptr_t a, size_t n) { renorm_emu::record(a, n, true); }
extern "C" void __asan_handle_no_return() {}
extern "C" void __asan_before_dynamic_init(const char*) {}  // (dynamic initialization order: not checked here)
extern "C" void __asan_after_dynamic_init() {}
#endif  // RENORM_EMU_TRAFFIC
