// The emulated device's account (emu/include/cuda_runtime.h): every counted call adds one, under a lock
// (emulated kernels run one at a time, but host threads of the data loader may copy meanwhile).
#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "emulator.h"

namespace renorm_emu {
namespace {
std::mutex g_account_mutex;
Account& ledger() {
  static Account* a = new Account();  // never destroyed: counted calls may come during exit
  return *a;
}
std::unordered_set<uintptr_t>& sectors_since_reset() {
  static auto* s = new std::unordered_set<uintptr_t>();
  return *s;
}
}  // namespace

Account account() {
  std::lock_guard<std::mutex> lock(g_account_mutex);
  return ledger();
}

void reset_account() {
  std::lock_guard<std::mutex> lock(g_account_mutex);
  ledger() = Account{};
  sectors_since_reset().clear();
}

void count(Counted what, const char* kernel) {
  std::lock_guard<std::mutex> lock(g_account_mutex);
  Account& a = ledger();
  switch (what) {
    case Counted::Launch: ++a.launches[kernel ? kernel : "?"]; break;
    case Counted::Memset: ++a.memsets; break;
    case Counted::Copy: ++a.copies; break;
    case Counted::PageableCopy: ++a.pageable_copies; break;
    case Counted::Sync: ++a.syncs; break;
    case Counted::Allocation: ++a.allocations; break;
    case Counted::LibraryCall: ++a.library_calls; break;
  }
}

void add_traffic(const char* kernel, const Traffic& t, const std::unordered_set<uintptr_t>& sectors) {
  std::lock_guard<std::mutex> lock(g_account_mutex);
  std::unordered_set<uintptr_t>& all = sectors_since_reset();
  for (const uintptr_t s : sectors) ledger().bytes_distinct_all += 32 * uint64_t(all.insert(s).second);
  Traffic& k = ledger().traffic[kernel];
  k.bytes_read += t.bytes_read, k.bytes_written += t.bytes_written;
  k.bytes_distinct += t.bytes_distinct, k.shared_bytes += t.shared_bytes;
  k.longest_chain = std::max(k.longest_chain, t.longest_chain);
}

}  // namespace renorm_emu
