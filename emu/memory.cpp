// The emulator's model of CUDA's memory between blocks (issue 38). Blocks run one after another in one
// memory, so without this every later block would see every earlier block's writes and fences would
// order nothing. Two modes (RENORM_EMU_MEMORY, emulator.h MemoryMode), both fed by the instrumented
// loads and stores of the kernel translation units (emu/traffic.cpp) and by the device side's fences,
// atomics, barriers and grid barriers (renorm_emu/device.h):
//
// check — happens-before for global memory. Every store of a launch tags its words with the writer: block,
//   thread, the thread's epoch (its __threadfence count) and the grid phase (grid.sync count). A fence
//   closes the thread's epoch, releasing its earlier writes, and makes what its atomics read since its
//   last fence its own knowledge; __syncthreads joins the block's threads' knowledge and takes a snapshot
//   of their epochs; an atomic appends its thread's released writes — its own before its last fence, the
//   block's as of its last barrier — to the address's log and takes home what the log held, to be known
//   at the thread's next fence (one hop: write → fence → atomic → fence → read; knowledge is not passed
//   on through a second atomic). A read of a word another block wrote in this launch is
//   an error (the launch traps, naming kernel, block, thread, address and writer) when (a) it is an __ldg
//   load (the read-only path is not coherent within a kernel), or a plain load with no grid.sync between
//   (an L1 may hold an older line) — rather than __ldcg or an atomic — or (b) no chain write → fence →
//   atomic → fence → read connects them and no grid.sync lies between.
//
// defer — deferred visibility. A thread's plain stores stay private to its block until the thread's next
//   __threadfence or a grid.sync: when the block ends (or waits at the grid barrier) the bytes of its
//   unpublished stores are put back as they were, and the new bytes are written at the end of the kernel,
//   the blocks in a seeded order. A merge whose writer skipped the fence reads stale partials, and the
//   tests fail on values. Atomics are never deferred.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "emulator.h"

namespace renorm_emu {
namespace {

MemoryMode parse_mode() {
  MemoryMode m;
  const char* e = std::getenv("RENORM_EMU_MEMORY");
  const std::string spec = e ? e : traffic_counted() ? "check" : "off";
  std::stringstream items(spec);
  for (std::string item; std::getline(items, item, ',');) {
    if (item == "check") {
      m.check = true;
    } else if (item.rfind("defer", 0) == 0 || item.rfind("interleave", 0) == 0) {
      const bool defer = item[0] == 'd';
      const size_t word = defer ? 5 : 10;
      (defer ? m.defer : m.interleave) = true;
      uint64_t& seed = defer ? m.seed : m.interleave_seed;
      char* end = nullptr;
      if (item.size() > word + 1 && item[word] == ':') seed = std::strtoull(item.c_str() + word + 1, &end, 10);
      if (item.size() != word && (item.size() <= word + 1 || item[word] != ':' || *end))
        m.error = "RENORM_EMU_MEMORY='" + spec + "': " + item.substr(0, word) + " takes ':SEED' (an integer)";
    } else if (item != "off") {
      m.error = "RENORM_EMU_MEMORY='" + spec + "' is not a list of check, defer[:SEED], interleave[:SEED] or off";
    }
  }
  // Every mode needs the instrumented loads and stores (traffic.cpp), which the ASan build has not: check
  // and defer would judge, or withhold, only the accesses made through device.h's helpers, and interleaved
  // blocks would share the __shared__ arrays of templates, which shared.cpp finds through those accesses.
  if (m.error.empty() && (m.check || m.defer || m.interleave) && !traffic_counted())
    m.error = "RENORM_EMU_MEMORY='" + spec + "': check, defer and interleave need the instrumented emulator, "
              "which an AddressSanitizer build (RENORM_SANITIZE) has not; use off";
  return m;
}

// An atomic address's releases, in the order its atomics ran: each the releasing block and the fence
// counts of its threads whose earlier writes it released (the block's epochs at its last barrier, the
// atomic's own thread's now), indexed by block.
using Epochs = std::vector<uint32_t>;
using EpochsP = std::shared_ptr<const Epochs>;
struct AtomicLog {
  std::vector<EpochsP> releases;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_block;  // block -> its positions in releases
};
// What a thread may read of other blocks: for each atomic address it took home, how many of its releases
// (a prefix of the log: what the address held when the atomic ran). Small, immutable, shared.
using Knowledge = std::vector<std::pair<const AtomicLog*, uint32_t>>;
using KnowledgeP = std::shared_ptr<const Knowledge>;

KnowledgeP join(const KnowledgeP& a, const KnowledgeP& b) {
  if (!a || a == b) return b ? b : a;
  if (!b) return a;
  auto out = std::make_shared<Knowledge>(*a);
  for (const auto& [log, n] : *b) {
    auto it = std::find_if(out->begin(), out->end(), [log = log](const auto& e) { return e.first == log; });
    if (it == out->end()) out->emplace_back(log, n);
    else it->second = std::max(it->second, n);
  }
  return out;
}

// Whether `k` holds a release by `block` of its thread's writes of epoch `epoch`.
bool covers(const KnowledgeP& k, uint64_t block, uint32_t thread, uint32_t epoch) {
  if (!k) return false;
  for (const auto& [log, n] : *k) {
    auto it = log->by_block.find(block);
    if (it == log->by_block.end()) continue;
    const std::vector<uint32_t>& pos = it->second;  // increasing; a block's releases only grow
    auto last = std::lower_bound(pos.begin(), pos.end(), n);
    if (last == pos.begin()) continue;
    const Epochs& e = *log->releases[*(last - 1)];
    if (thread < e.size() && e[thread] > epoch) return true;
  }
  return false;
}

// A store a thread has not published (defer): where, how many bytes (at most 16), what they were.
struct Unpublished {
  uintptr_t address;
  uint32_t bytes;
  uint8_t old[16];
};
// A store of a block withheld at its end, to be written at the kernel's end: its new bytes.
struct Hidden {
  uintptr_t address;
  uint32_t bytes;
  uint8_t value[16];
};

struct ThreadMem {
  uint32_t epoch = 0;
  KnowledgeP known, pending;
  int64_t write_index = -1;  // this thread's entry in LaunchMem::writes for its epoch and phase; -1: none yet
  std::vector<Unpublished> unpublished;  // in program order
};
struct BlockMem {
  std::vector<ThreadMem> threads;
  EpochsP snapshot;  // the threads' epochs at the last __syncthreads
  bool dirty = false;
  std::vector<Hidden> hidden;
};
// What wrote a word: block, thread, that thread's epoch, the grid phase.
struct Writer {
  uint64_t block;
  uint32_t thread, epoch, phase;
};

struct LaunchMem {
  std::string kernel;
  uint32_t gen = 0, phase = 0;
  dim3 grid, block;
  uint64_t seed = 0;
  std::vector<Writer> writes;
  std::unordered_map<uint64_t, std::unique_ptr<BlockMem>> live;
  BlockMem* current = nullptr;
  uint64_t current_block = 0;
  std::unordered_map<uintptr_t, AtomicLog> atomics;
  std::vector<std::pair<uint64_t, std::vector<Hidden>>> ended;  // blocks ended with stores to publish
  std::string error;
};

LaunchMem* g_mem = nullptr;  // the running launch (one at a time: launch.cpp holds its lock)
uint32_t g_generation = 0;
// Per device allocation, each 4-byte word's last writer in a launch: generation << 32 | (writes index + 1);
// the last few allocations' tag arrays at hand.
std::unordered_map<uintptr_t, std::vector<uint64_t>> g_tags;
struct TagHit {
  uintptr_t base = 0;
  uint64_t* words = nullptr;
};
TagHit g_tag_hits[4];
int g_next_tag_hit = 0;

std::string block_name(uint64_t linear, dim3 grid) {
  const uint64_t gx = grid.x, gy = grid.y;
  return "block (" + std::to_string(linear % gx) + "," + std::to_string(linear / gx % gy) + "," +
         std::to_string(linear / (gx * gy)) + ")";
}
std::string thread_name(uint32_t linear, dim3 block) {
  return "thread (" + std::to_string(linear % block.x) + "," + std::to_string(linear / block.x % block.y) + "," +
         std::to_string(linear / (block.x * block.y)) + ")";
}
std::string hex(uintptr_t a) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(a));
  return buf;
}

ThreadMem& me() { return g_mem->current->threads[g_thread->linear]; }

// The tag words of the allocation [base, base + size), made on first use.
uint64_t* tags_for(uintptr_t base, size_t size) {
  for (const TagHit& h : g_tag_hits)
    if (h.base == base) return h.words;
  std::vector<uint64_t>& v = g_tags[base];
  if (v.size() < (size + 3) / 4) v.resize((size + 3) / 4, 0);
  TagHit& h = g_tag_hits[g_next_tag_hit];
  g_next_tag_hit = (g_next_tag_hit + 1) % 4;
  h = TagHit{base, v.data()};
  return h.words;
}

void report(const std::string& what) {
  if (g_mem->error.empty()) g_mem->error = what;
}

void check_read(uintptr_t a, size_t n, Access kind, uintptr_t base, size_t size) {
  const uint64_t* tags = tags_for(base, size);
  for (uintptr_t w = (a - base) / 4; w <= (a + n - 1 - base) / 4; ++w) {
    const uint64_t tag = tags[w];
    if (tag >> 32 != g_mem->gen || !(tag & 0xffffffffu)) continue;
    const Writer& wr = g_mem->writes[(tag & 0xffffffffu) - 1];
    if (wr.block == g_mem->current_block) continue;
    const ThreadMem& t = me();
    const std::string who = "kernel " + g_mem->kernel + ", " + block_name(g_mem->current_block, g_mem->grid) + ", " +
                            thread_name(g_thread->linear, g_mem->block) + ": ";
    const std::string whose = " written in this launch by " + block_name(wr.block, g_mem->grid) + ", " +
                              thread_name(wr.thread, g_mem->block);
    if (kind == Access::Ldg || kind == Access::Plain) {
      report(who + (kind == Access::Ldg ? "__ldg" : "plain load") + " of " + hex(a) + whose +
             ": another block's write must be read with __ldcg (an L1 or the read-only path may hold an older line)");
      return;
    }
    if (wr.phase < g_mem->phase) continue;  // a grid.sync lies between
    if (!covers(t.known, wr.block, wr.thread, wr.epoch)) {
      report(who + "__ldcg of " + hex(a) + whose + " (epoch " + std::to_string(wr.epoch) +
             "), and no chain write -> __threadfence -> atomic -> __threadfence -> read orders the write before it");
      return;
    }
  }
}

void tag_write(uintptr_t a, size_t n, uintptr_t base, size_t size) {
  uint64_t* tags = tags_for(base, size);
  ThreadMem& t = me();
  if (t.write_index < 0) {
    g_mem->writes.push_back(Writer{g_mem->current_block, g_thread->linear, t.epoch, g_mem->phase});
    t.write_index = int64_t(g_mem->writes.size()) - 1;
  }
  const uint64_t tag = uint64_t(g_mem->gen) << 32 | uint64_t(t.write_index + 1);
  for (uintptr_t w = (a - base) / 4; w <= (a + n - 1 - base) / 4; ++w) tags[w] = tag;
}

// defer: the bytes [a, a + n) as they are before this thread's store, kept until it publishes them.
void remember_old(uintptr_t a, size_t n) {
  auto& unpublished = me().unpublished;
  for (size_t done = 0; done < n; done += 16) {  // the hooks' accesses are at most 16 bytes; N-byte ones split
    Unpublished u{a + done, uint32_t(std::min<size_t>(16, n - done)), {}};
    std::memcpy(u.old, reinterpret_cast<const void*>(u.address), u.bytes);
    unpublished.push_back(u);
  }
}

// defer: the block's unpublished bytes put back (latest store first, so the oldest bytes stay); their
// new values kept in the block's hidden list, in program order. The stores stay unpublished: a block that
// resumes (interleaved) gets its own bytes back, and hides them again when it stops.
void hide(BlockMem& b) {
  for (ThreadMem& t : b.threads) {
    for (const Unpublished& u : t.unpublished) {
      Hidden h{u.address, u.bytes, {}};
      std::memcpy(h.value, reinterpret_cast<const void*>(u.address), u.bytes);
      b.hidden.push_back(h);
    }
    for (auto it = t.unpublished.rbegin(); it != t.unpublished.rend(); ++it)
      std::memcpy(reinterpret_cast<void*>(it->address), it->old, it->bytes);
  }
}

void publish(const std::vector<Hidden>& hidden) {
  for (const Hidden& h : hidden) std::memcpy(reinterpret_cast<void*>(h.address), h.value, h.bytes);
}

}  // namespace

namespace {
MemoryMode& mode() {
  static MemoryMode m = parse_mode();
  return m;
}
}  // namespace

const MemoryMode& memory_mode() { return mode(); }
void set_memory_mode(const MemoryMode& m) { mode() = m; }

void memory_begin_launch(const char* kernel, dim3 grid, dim3 block) {
  const MemoryMode& m = memory_mode();
  if (!m.check && !m.defer) return;
  g_mem = new LaunchMem();
  g_mem->kernel = kernel;
  g_mem->gen = ++g_generation;
  g_mem->grid = grid, g_mem->block = block;
  g_mem->seed = m.seed * 0x9e3779b97f4a7c15ull + g_generation;
}

std::string memory_end_launch() {
  LaunchMem* l = g_mem;
  g_mem = nullptr;
  if (!l) return "";
  for (auto& [block, b] : l->live) l->ended.emplace_back(block, std::move(b->hidden));  // (hidden when they stopped)
  // The blocks' withheld stores reach memory now, the blocks in a seeded order.
  uint64_t state = l->seed;
  for (size_t i = l->ended.size(); i > 1; --i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(l->ended[i - 1], l->ended[(state >> 33) % i]);
  }
  for (const auto& [block, hidden] : l->ended) publish(hidden);
  const std::string error = l->error;
  delete l;
  return error;
}

void memory_block_in(uint64_t linear) {
  if (!g_mem) return;
  auto& b = g_mem->live[linear];
  if (!b) {
    b = std::make_unique<BlockMem>();
    b->threads.resize(size_t(g_mem->block.x) * g_mem->block.y * g_mem->block.z);
  }
  publish(b->hidden);  // a block that resumes sees its own stores again
  b->hidden.clear();
  g_mem->current = b.get();
  g_mem->current_block = linear;
}

void memory_block_out(bool ended) {
  if (!g_mem || !g_mem->current) return;
  BlockMem* b = g_mem->current;
  g_mem->current = nullptr;
  if (memory_mode().defer) hide(*b);
  if (!ended) return;
  g_mem->ended.emplace_back(g_mem->current_block, std::move(b->hidden));
  g_mem->live.erase(g_mem->current_block);
}

bool memory_failed() { return g_mem && !g_mem->error.empty(); }
std::string memory_error() { return g_mem ? g_mem->error : ""; }

void memory_access(uintptr_t a, size_t n, bool write, uintptr_t base, size_t size) {
  if (!g_mem || !g_mem->current || !g_thread) return;
  const Access kind = g_access;
  if (kind == Access::Atomic) return;  // atomics: memory_atomic
  const MemoryMode& m = memory_mode();
  if (!write) {
    if (m.check) check_read(a, n, kind, base, size);
    return;
  }
  if (m.check) tag_write(a, n, base, size);
  if (m.defer) remember_old(a, n);  // record() calls this for device memory only
}

void memory_fence() {
  if (!g_mem || !g_mem->current || !g_thread) return;
  ThreadMem& t = me();
  ++t.epoch;
  t.write_index = -1;
  t.known = join(t.known, t.pending);
  t.pending = nullptr;
  t.unpublished.clear();  // defer: published
  g_mem->current->dirty = true;
}

void memory_barrier() {
  if (!g_mem || !g_mem->current) return;
  BlockMem& b = *g_mem->current;
  if (b.dirty || !b.snapshot) {
    auto e = std::make_shared<Epochs>(b.threads.size());
    for (size_t i = 0; i < b.threads.size(); ++i) (*e)[i] = b.threads[i].epoch;
    b.snapshot = e;
    b.dirty = false;
  }
  KnowledgeP known, pending;
  for (const ThreadMem& t : b.threads) known = join(known, t.known), pending = join(pending, t.pending);
  for (ThreadMem& t : b.threads) t.known = known, t.pending = pending;
}

void memory_grid_sync() {
  if (!g_mem) return;
  ++g_mem->phase;
  for (auto& [block, b] : g_mem->live) {
    publish(b->hidden);
    b->hidden.clear();
    for (ThreadMem& t : b->threads) t.write_index = -1, t.unpublished.clear();
  }
}

void memory_atomic(const void* p) {
  if (!g_mem || !g_mem->current || !g_thread || !memory_mode().check) return;
  ThreadMem& t = me();
  BlockMem& b = *g_mem->current;
  // Released by this atomic: the thread's writes before its last fence, its block's as of the last barrier.
  EpochsP own = b.snapshot;
  const uint32_t u = g_thread->linear;
  if (!own || (*own)[u] != t.epoch) {
    auto e = own ? std::make_shared<Epochs>(*own) : std::make_shared<Epochs>(b.threads.size(), 0u);
    (*e)[u] = t.epoch;
    own = e;
  }
  AtomicLog& log = g_mem->atomics[reinterpret_cast<uintptr_t>(p)];
  // Taken home: the releases the address held before this one (the thread's own block's are its own).
  t.pending = join(t.pending, std::make_shared<Knowledge>(Knowledge{{&log, uint32_t(log.releases.size())}}));
  log.by_block[g_mem->current_block].push_back(uint32_t(log.releases.size()));
  log.releases.push_back(own);
}

void memory_forget(const void* base) {
  g_tags.erase(reinterpret_cast<uintptr_t>(base));
  for (TagHit& h : g_tag_hits) h = TagHit{};
}

}  // namespace renorm_emu
