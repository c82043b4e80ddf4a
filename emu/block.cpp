// The emulator's kernel scheduler. Blocks run one after another on the calling thread; the threads of a
// block are fibers (Boost.Context) switched only inside __syncthreads and the warp collectives. After
// every round (each runnable thread runs until it waits or ends) the scheduler completes what can be
// completed: a warp collective once every lane of its mask waits at it, then the block barrier once
// every thread waits there. In a cooperative launch a block whose threads all wait at the grid barrier
// returns to the launch (emu/launch.cpp), which runs the other blocks up to it and then releases all. A thread that ends while others wait for it, a lane that reads a lane
// outside the mask or the block, divergent collectives or a deadlock trap the launch with a message
// naming the kernel, the block and the thread.
#include "block.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define RENORM_EMU_ASAN 1
#else
#define RENORM_EMU_ASAN 0
#endif

namespace renorm_emu {
namespace {
// Fiber stacks, reused across blocks and launches. The first mapping holds 1024 stacks with a guard page
// below each (a block has at most 1024 threads); a cooperative launch, which keeps every block's threads
// alive, maps more in runs of 1024 without guard pages (each guard splits the mapping, and the kernel's
// vm.max_map_count of about 65530 would end a grid of 30k threads).
class StackPool {
 public:
  static constexpr size_t kStack = size_t(1) << 17;  // 128 KiB: debug and sanitizer frames are large
  static constexpr size_t kPerMapping = 1024;
  StackPool() : page_(size_t(sysconf(_SC_PAGESIZE))) { grow(true); }
  char* take() {
    if (free_.empty()) grow(false);
    char* s = free_.back();
    free_.pop_back();
    return s;
  }
  void give(char* s) { free_.push_back(s); }

 private:
  void grow(bool guarded) {
    const size_t slot = kStack + (guarded ? page_ : 0);
    char* base = static_cast<char*>(
        mmap(nullptr, slot * kPerMapping, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    if (base == MAP_FAILED) throw std::bad_alloc();
    std::vector<char*> fresh;
    for (size_t i = 0; i < kPerMapping; ++i) {
      if (guarded) mprotect(base + i * slot, page_, PROT_NONE);
      fresh.push_back(base + i * slot + (guarded ? page_ : 0));
    }
    free_.insert(free_.begin(), fresh.rbegin(), fresh.rend());  // the guarded stacks stay first in line
  }
  size_t page_;
  std::vector<char*> free_;
};

StackPool& stack_pool() {
  static StackPool* pool = new StackPool();  // never unmapped: fibers may end during exit
  return *pool;
}

struct StackAlloc {
  char** bottom;
  ctx::stack_context allocate() {
    *bottom = stack_pool().take();
    ctx::stack_context sc;
    sc.size = StackPool::kStack;
    sc.sp = *bottom + StackPool::kStack;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) { stack_pool().give(static_cast<char*>(sc.sp) - sc.size); }
};

}  // namespace

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::SyncWarp: return "__syncwarp";
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::Any: return "__any_sync";
  }
  return "?";
}

namespace {
std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

std::string Block::where(const Thread& t) const {
  std::ostringstream o;
  o << "kernel " << kernel_ << ", block (" << bs_.idx.x << "," << bs_.idx.y << "," << bs_.idx.z << "), thread ("
    << t.state.idx.x << "," << t.state.idx.y << "," << t.state.idx.z << ")";
  return o.str();
}

// Sanitizer bookkeeping of stack switches (no-ops without AddressSanitizer).
inline void switch_start(void** fake, const void* bottom, size_t size) {
#if RENORM_EMU_ASAN
  __sanitizer_start_switch_fiber(fake, bottom, size);
#endif
}
inline void switch_finish(void* fake, const void** bottom, size_t* size) {
#if RENORM_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, bottom, size);
#endif
}

ctx::fiber Block::entry(size_t i, ctx::fiber&& sink) {
  sched_ = std::move(sink);
  switch_finish(nullptr, &sched_bottom_, &sched_size_);
  Thread& t = threads_[i];
  if (!unwinding_) {
    try {
      body_(closure_);
    } catch (const Trap& trap) {
      if (trap_.empty()) trap_ = trap.message;
    } catch (const ctx::detail::forced_unwind&) {
      throw;
    } catch (const std::exception& e) {
      if (trap_.empty()) trap_ = where(t) + ": exception: " + e.what();
    }
  }
  t.status = Status::Done;
  switch_start(nullptr, sched_bottom_, sched_size_);
  return std::move(sched_);
}

void Block::resume(Thread& t) {
  g_thread = &t.state;
  current_ = &t;
  void* fake = nullptr;
  switch_start(&fake, t.stack, StackPool::kStack);
  t.fiber = std::move(t.fiber).resume();
  switch_finish(fake, nullptr, nullptr);
}

void Block::suspend(Thread& t, Status s) {
  t.status = s;
  void* fake = nullptr;
  switch_start(&fake, sched_bottom_, sched_size_);
  sched_ = std::move(sched_).resume();
  switch_finish(fake, &sched_bottom_, &sched_size_);
  if (unwinding_) throw Trap{};
}

void Block::start() {
  const dim3 b = bs_.block;
  for (size_t i = 0; i < threads_.size(); ++i) {
    Thread& t = threads_[i];
    t.state.idx = uint3{unsigned(i % b.x), unsigned(i / b.x % b.y), unsigned(i / (size_t(b.x) * b.y))};
    t.state.linear = unsigned(i);
    t.state.global_accesses = 0;
    t.stack = nullptr;
    t.fiber = ctx::fiber(std::allocator_arg, StackAlloc{&t.stack},
                         [this, i](ctx::fiber&& sink) { return entry(i, std::move(sink)); });
  }
  started_ = true;
}

Block::Outcome Block::run() {
  if (!started_) start();
  current_block_ = this;
  const size_t n = threads_.size();
  Outcome out = Outcome::Done;
  for (;;) {
    bool switched = false;
    for (size_t k = 0; k < n && trap_.empty() && !switched; ++k) {
      Thread& t = threads_[reverse_ ? n - 1 - k : k];
      if (t.status == Status::Runnable) resume(t);
      if (memory_failed() && trap_.empty()) trap_ = memory_error();  // emu/memory.cpp: a read out of order
      if (t.status == Status::AtSwitch) t.status = Status::Runnable, switched = true;
    }
    if (switched && trap_.empty()) {
      out = Outcome::Switched;
      break;
    }
    bool all_done = true;
    for (const Thread& t : threads_) all_done = all_done && t.status == Status::Done;
    if (all_done && trap_.empty()) break;
    if (trap_.empty() && !complete_warps() && trap_.empty() && !complete_barrier() && trap_.empty()) {
      if (all_at_grid()) {
        out = Outcome::AtGrid;
        break;
      }
      if (trap_.empty()) trap_ = deadlock();
    }
    if (!trap_.empty()) {
      unwind();
      out = Outcome::Trapped;
      break;
    }
  }
  current_block_ = nullptr;
  return out;
}

// Every thread still alive unwinds out of its wait.
void Block::unwind() {
  unwinding_ = true;
  for (Thread& t : threads_)
    if (t.status != Status::Done) resume(t);
}

void Block::abandon() {
  if (!started_) return;  // (interleaved: a block taken in but not run yet has no threads to unwind)
  current_block_ = this;
  unwind();
  current_block_ = nullptr;
}

void Block::release_grid() {
  for (Thread& t : threads_)
    if (t.status == Status::AtGrid) t.status = Status::Runnable;
}

void Block::switch_point() {
  if (!rng_) return;
  *rng_ = *rng_ * 6364136223846793005ull + 1442695040888963407ull;  // a 64-bit LCG: its high bit
  if (*rng_ >> 63) suspend(*current_, Status::AtSwitch);
}

void Block::grid_barrier() {
  if (!cooperative_) raise("grid.sync() outside a cooperative launch (cudaLaunchCooperativeKernel)");
  suspend(*current_, Status::AtGrid);
}

// True when every thread waits at the grid barrier; a thread that ended meanwhile traps the launch.
bool Block::all_at_grid() {
  size_t at_grid = 0;
  const Thread* ended = nullptr;
  for (const Thread& t : threads_) {
    if (t.status != Status::AtGrid && t.status != Status::Done) return false;
    at_grid += t.status == Status::AtGrid;
    if (t.status == Status::Done && !ended) ended = &t;
  }
  if (at_grid && ended) trap_ = where(*ended) + ": ended while " + std::to_string(at_grid) + " threads wait at grid.sync()";
  return at_grid && !ended;
}

uint64_t Block::collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
  Thread& t = *current_;
  const unsigned lane = t.state.linear % 32, warp = t.state.linear / 32;
  const size_t in_warp = std::min<size_t>(32, threads_.size() - size_t(warp) * 32);
  const unsigned existing = in_warp == 32 ? ~0u : (1u << in_warp) - 1;
  if (!(mask >> lane & 1u)) raise(std::string(op_name(op)) + ": the calling lane " + std::to_string(lane) + " is not in mask " + hex(mask));
  if (mask & ~existing)
    raise(std::string(op_name(op)) + ": mask " + hex(mask) + " names lanes that do not exist (this warp has " +
          std::to_string(in_warp) + " threads)");
  if (op >= WarpOp::ShflIdx && op <= WarpOp::ShflXor && (width < 1 || width > 32 || (width & (width - 1))))
    raise(std::string(op_name(op)) + ": width " + std::to_string(width) + " is not a power of two in [1, 32]");
  t.op = op;
  t.mask = mask;
  t.value = value;
  t.arg = arg;
  t.width = width;
  suspend(t, Status::AtWarp);
  return t.result;
}

bool Block::complete_warps() {
  bool progress = false;
  for (size_t i = 0; i < threads_.size(); ++i) {
    const Thread& t = threads_[i];
    if (t.status != Status::AtWarp) continue;
    const size_t first = i / 32 * 32;
    bool ready = true;
    for (unsigned m = 0; m < 32; ++m) {
      if (!(t.mask >> m & 1u)) continue;
      const Thread& u = threads_[first + m];
      if (u.status == Status::Done) {
        trap_ = where(u) + ": ended while lane " + std::to_string(i % 32) + " waits for it in " + op_name(t.op) +
                " (mask " + hex(t.mask) + ")";
        return false;
      }
      if (u.status == Status::AtWarp && (u.op != t.op || u.mask != t.mask)) {
        trap_ = where(t) + ": waits in " + op_name(t.op) + " (mask " + hex(t.mask) + ") while lane " +
                std::to_string(m) + " waits in " + op_name(u.op) + " (mask " + hex(u.mask) + ")";
        return false;
      }
      ready = ready && u.status == Status::AtWarp;
    }
    if (!ready) continue;
    execute(first, t.op, t.mask);
    if (!trap_.empty()) return false;
    progress = true;
  }
  return progress;
}

// Completes one warp collective: every lane of `mask` (lanes of the warp starting at thread `first`) waits.
void Block::execute(size_t first, WarpOp op, unsigned mask) {
  uint64_t ballot = 0;
  for (unsigned m = 0; m < 32; ++m)
    if (mask >> m & 1u) ballot |= uint64_t(threads_[first + m].value != 0) << m;
  for (unsigned m = 0; m < 32; ++m) {
    if (!(mask >> m & 1u)) continue;
    Thread& u = threads_[first + m];
    const int w = u.width, start = int(m) & ~(w - 1);
    int src = int(m);
    switch (op) {
      case WarpOp::SyncWarp: u.result = 0; break;
      case WarpOp::Ballot: u.result = ballot; break;
      case WarpOp::All: u.result = ballot == mask; break;
      case WarpOp::Any: u.result = ballot != 0; break;
      case WarpOp::ShflIdx: src = start + ((u.arg % w) + w) % w; break;
      case WarpOp::ShflUp: src = int(m) - u.arg >= start ? int(m) - u.arg : int(m); break;
      case WarpOp::ShflDown: src = int(m) + u.arg < start + w ? int(m) + u.arg : int(m); break;
      case WarpOp::ShflXor: src = (int(m) ^ u.arg) < start + w ? int(m) ^ u.arg : int(m); break;
    }
    if (op < WarpOp::ShflIdx || op > WarpOp::ShflXor) continue;
    if (src < 0 || src > 31 || !(mask >> src & 1u)) {
      trap_ = where(u) + ": " + op_name(op) + " reads lane " + std::to_string(src) + ", which is not in mask " + hex(mask);
      return;
    }
    u.result = threads_[first + size_t(src)].value;
  }
  for (unsigned m = 0; m < 32; ++m)
    if (mask >> m & 1u) threads_[first + m].status = Status::Runnable;
}

bool Block::complete_barrier() {
  size_t waiting = 0, other = 0;  // other: at a warp collective or the grid barrier
  const Thread* ended = nullptr;
  for (const Thread& t : threads_) {
    waiting += t.status == Status::AtBarrier;
    other += t.status == Status::AtWarp || t.status == Status::AtGrid;
    if (t.status == Status::Done && !ended) ended = &t;
  }
  if (waiting == 0 || other > 0) return false;
  if (ended) {
    trap_ = where(*ended) + ": ended while " + std::to_string(waiting) + " threads wait at __syncthreads";
    return false;
  }
  for (Thread& t : threads_) t.status = Status::Runnable;
  memory_barrier();
  return true;
}

std::string Block::deadlock() const {
  size_t barrier = 0, warp = 0, grid = 0, done = 0;
  const Thread* example = nullptr;
  for (const Thread& t : threads_) {
    barrier += t.status == Status::AtBarrier;
    grid += t.status == Status::AtGrid;
    done += t.status == Status::Done;
    if (t.status == Status::AtWarp && !example) example = &t;
    warp += t.status == Status::AtWarp;
  }
  std::string s = "kernel " + std::string(kernel_) + ": deadlock: " + std::to_string(barrier) +
                  " threads wait at __syncthreads, " + std::to_string(warp) + " in warp collectives, " +
                  std::to_string(grid) + " at grid.sync(), " + std::to_string(done) + " have ended";
  if (example) s += "; e.g. " + where(*example) + " waits in " + op_name(example->op) + " (mask " + hex(example->mask) + ")";
  return s;
}

}  // namespace renorm_emu
