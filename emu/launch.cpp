// The emulator's kernel launch: checks the configuration, records it for the resource test, and runs
// the blocks one after another (emu/block.cpp), with shared memory poisoned before each. A cooperative
// launch keeps every block alive: each runs up to the grid barrier (its __shared__ section saved and
// restored around it, as each block has its own on a GPU), then all are released, in the block order.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "block.h"

namespace renorm_emu {
namespace {
Block& current_block(const char* what) {
  if (!Block::current()) throw std::logic_error(std::string(what) + " called outside an emulated kernel");
  return *Block::current();
}

// Every distinct (kernel, block shape, dynamic shared bytes) of this process, appended to the file named
// by RENORM_EMU_LAUNCH_LOG: the launches that scripts/check_kernel_resources.py checks against the
// compiled kernels' registers, shared memory and launch bounds.
void log_launch(const char* kernel, dim3 block, size_t shared) {
  static const char* path = std::getenv("RENORM_EMU_LAUNCH_LOG");
  static std::mutex mutex;
  static auto* seen = new std::set<std::tuple<std::string, unsigned, unsigned, unsigned, size_t>>();
  if (!path || !*path) return;
  std::lock_guard<std::mutex> lock(mutex);
  if (!seen->emplace(kernel, block.x, block.y, block.z, shared).second) return;
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\t%u\t%u\t%u\t%zu\n", kernel, block.x, block.y, block.z, shared);
    std::fclose(f);
  }
}

std::string check_config(const cudaDeviceProp& p, dim3 grid, dim3 block, size_t shared) {
  const unsigned g[3] = {grid.x, grid.y, grid.z}, b[3] = {block.x, block.y, block.z};
  for (int i = 0; i < 3; ++i) {
    if (g[i] == 0 || g[i] > unsigned(p.maxGridSize[i])) return "grid dimension " + std::to_string(i) + " is " + std::to_string(g[i]);
    if (b[i] == 0 || b[i] > unsigned(p.maxThreadsDim[i])) return "block dimension " + std::to_string(i) + " is " + std::to_string(b[i]);
  }
  if (uint64_t(b[0]) * b[1] * b[2] > uint64_t(p.maxThreadsPerBlock))
    return std::to_string(uint64_t(b[0]) * b[1] * b[2]) + " threads per block exceed " + std::to_string(p.maxThreadsPerBlock);
  if (shared > p.sharedMemPerBlock)
    return std::to_string(shared) + " bytes of dynamic shared memory exceed " + std::to_string(p.sharedMemPerBlock);
  return "";
}

std::mutex g_launch_mutex;

// The linear block indices of a grid of n blocks in the order they run (DeviceConfig::BlockOrder).
std::vector<uint64_t> block_order(const DeviceConfig& dc, uint64_t n) {
  static uint64_t launches = 0;  // under g_launch_mutex's caller: a per-launch seed for the random order
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  using O = DeviceConfig::BlockOrder;
  if (dc.block_order == O::Reverse) std::reverse(order.begin(), order.end());
  if (dc.block_order == O::Interleaved)
    std::stable_partition(order.begin(), order.end(), [](uint64_t i) { return i % 2 == 0; });
  if (dc.block_order == O::Random) {
    uint64_t state = dc.block_seed * 0x9e3779b97f4a7c15ull + ++launches;
    auto next = [&state] {  // splitmix64
      uint64_t z = (state += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      return z ^ (z >> 31);
    };
    for (uint64_t i = n; i > 1; --i) std::swap(order[i - 1], order[next() % i]);
  }
  return order;
}
}  // namespace

void syncthreads() { current_block("__syncthreads").barrier(); }

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
  return current_block(op_name(op)).collective(op, mask, value, arg, width);
}

void trap(const char* what) { current_block("__trap").raise(what); }

namespace {
// The checks every launch makes; false (the error recorded) when it cannot run.
bool launchable(const DeviceConfig& dc, const char* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t s) {
  if (!dc.error.empty()) {
    fail(cudaErrorNoDevice, dc.error);
    return false;
  }
  const std::string bad = check_config(dc.prop, grid, block, dynamic_shared);
  if (!bad.empty()) {
    fail(cudaErrorInvalidConfiguration, std::string("kernel ") + kernel + ": " + bad);
    return false;
  }
  if (!valid_stream(s)) {
    fail(cudaErrorInvalidResourceHandle, std::string("kernel ") + kernel + ": unknown stream");
    return false;
  }
  return true;
}
// A launch that passed launchable: counted now, or — when s is capturing — recorded to run (and be
// counted) at each replay of the graph; true when it is to run now.
bool run_now(const char* kernel, dim3 block, size_t dynamic_shared, cudaStream_t s, std::function<void()> replay) {
  if (captured(s, std::move(replay))) return false;
  log_launch(kernel, block, dynamic_shared);
  count(Counted::Launch, kernel);
  return true;
}

uint3 block_index(uint64_t i, dim3 grid) {
  const uint64_t gx = grid.x, gxy = gx * grid.y;
  return uint3{unsigned(i % gx), unsigned(i / gx % grid.y), unsigned(i / gxy)};
}

// The blocks of a cooperative launch, all alive, run phase by phase between grid barriers.
struct Cooperative {
  std::vector<BlockState> states;
  std::vector<std::unique_ptr<Block>> blocks;
  std::vector<SharedCopy> shared;  // each block's __shared__ memory between its turns (emu/shared.cpp)
  std::vector<bool> done;

  Block::Outcome turn(uint64_t i) {
    restore_shared(shared[i]);
    g_block = &states[i];
    memory_block_in(i);
    const Block::Outcome out = blocks[i]->run();
    memory_block_out(out != Block::Outcome::AtGrid);
    shared[i] = save_shared();
    return out;
  }
  void abandon_all() {
    for (uint64_t i = 0; i < blocks.size(); ++i) {
      if (done[i]) continue;
      restore_shared(shared[i]);
      g_block = &states[i];
      blocks[i]->abandon();
    }
  }
  // Runs the grid to its end; the trap message, "" when it completed.
  std::string run(const DeviceConfig& dc, const char* kernel) {
    const uint64_t n = blocks.size();
    uint64_t ended = 0;
    for (;;) {
      uint64_t waiting = 0;
      for (uint64_t i : block_order(dc, n)) {
        if (done[i]) continue;
        const Block::Outcome out = turn(i);
        if (out == Block::Outcome::Trapped) {
          done[i] = true;
          abandon_all();
          return blocks[i]->trap();
        }
        waiting += out == Block::Outcome::AtGrid;
        if (out == Block::Outcome::Done) done[i] = true, ++ended;
      }
      if (waiting == 0) return "";
      if (ended > 0) {
        abandon_all();
        return std::string("kernel ") + kernel + ": " + std::to_string(ended) + " blocks ended while " +
               std::to_string(waiting) + " wait at grid.sync()";
      }
      memory_grid_sync();
      for (uint64_t i = 0; i < n; ++i) blocks[i]->release_grid();
    }
  }
};
}  // namespace

namespace {
// An ordinary launch with its blocks interleaved (RENORM_EMU_MEMORY interleave): up to kWindow blocks
// alive at once, started in the block order; a seeded draw picks which runs next, and a running block
// stops at a switch point (an atomic or a fence, with probability 1/2: Block::switch_point), so that a
// block may see another's count before that block's next step — orders a run-to-completion scheduler
// never produces. Each live block has its own __shared__ section and dynamic shared memory.
struct Interleaved {
  static constexpr size_t kWindow = 4;
  struct Slot {
    bool used = false;
    uint64_t block = 0;
    BlockState state{};
    std::unique_ptr<Block> b;
    SharedCopy shared;
  };
  std::vector<Slot> slots = std::vector<Slot>(kWindow);
  uint64_t rng;

  void start(Slot& slot, uint64_t i, const char* kernel, dim3 grid, dim3 block, unsigned char* dyn, size_t dyn_bytes,
             void (*body)(const void*), const void* closure, bool reverse) {
    slot.used = true;
    slot.block = i;
    slot.state = BlockState{block_index(i, grid), block, grid, dyn};
    if (dyn) std::memset(dyn, 0xff, dyn_bytes);
    slot.shared = SharedCopy{};  // fresh: poisoned at its first turn
    slot.b = std::make_unique<Block>(kernel, slot.state, body, closure, reverse, false);
    slot.b->interleave(&rng);
  }
  // Runs the grid to its end; the trap message, "" when it completed.
  std::string run(const DeviceConfig& dc, const char* kernel, dim3 grid, dim3 block, unsigned char* dyn,
                  size_t dyn_bytes, void (*body)(const void*), const void* closure) {
    const std::vector<uint64_t> order = block_order(dc, uint64_t(grid.x) * grid.y * grid.z);
    size_t next = 0;
    for (;;) {
      std::vector<size_t> live;
      for (size_t k = 0; k < kWindow; ++k) {
        if (!slots[k].used && next < order.size())
          start(slots[k], order[next++], kernel, grid, block, dyn ? dyn + k * dyn_bytes : nullptr, dyn_bytes, body,
                closure, dc.reverse_order);
        if (slots[k].used) live.push_back(k);
      }
      if (live.empty()) return "";
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      Slot& s = slots[live[(rng >> 33) % live.size()]];
      restore_shared(s.shared);
      g_block = &s.state;
      memory_block_in(s.block);
      const Block::Outcome out = s.b->run();
      memory_block_out(out != Block::Outcome::Switched);
      s.shared = save_shared();
      if (out == Block::Outcome::Trapped) {
        const std::string trap = s.b->trap();
        s.used = false;
        for (Slot& other : slots)
          if (other.used) restore_shared(other.shared), g_block = &other.state, other.b->abandon();
        return trap;
      }
      if (out == Block::Outcome::Done) s.used = false, s.b.reset();
    }
  }
};
}  // namespace

void launch(const char* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t s,
            void (*body)(const void*), std::shared_ptr<const void> owned) {
  const DeviceConfig& dc = device_config();
  if (!launchable(dc, kernel, grid, block, dynamic_shared, s)) return;
  if (!run_now(kernel, block, dynamic_shared, s, [=] { launch(kernel, grid, block, dynamic_shared, s, body, owned); })) return;
  const void* closure = owned.get();
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  const MemoryMode& mm = memory_mode();
  // Exactly the bytes asked for (one block's, or each live block's in turn), so that AddressSanitizer sees an overrun.
  const size_t dyn_total = dynamic_shared * (mm.interleave ? Interleaved::kWindow : 1);
  unsigned char* dyn = dynamic_shared ? static_cast<unsigned char*>(std::malloc(dyn_total)) : nullptr;
  BlockState bs{uint3{0, 0, 0}, block, grid, dyn};
  begin_traffic(dyn, dyn_total);
  memory_begin_launch(kernel, grid, block);
  g_block = &bs;
  std::string trapped;
  static uint64_t interleaved_launches = 0;  // under g_launch_mutex: each launch its own draws
  if (mm.interleave)
    trapped = Interleaved{.rng = mm.interleave_seed * 0x9e3779b97f4a7c15ull + ++interleaved_launches}.run(
        dc, kernel, grid, block, dyn, dynamic_shared, body, closure);
  for (uint64_t i : mm.interleave ? std::vector<uint64_t>() : block_order(dc, uint64_t(grid.x) * grid.y * grid.z)) {
    if (!trapped.empty()) break;
    bs.idx = block_index(i, grid);
    // Shared memory starts as garbage on a GPU: all-ones bytes (NaN floats, -1 integers) here.
    restore_shared(SharedCopy{});
    if (dyn) std::memset(dyn, 0xff, dynamic_shared);
    Block b(kernel, bs, body, closure, dc.reverse_order, false);
    memory_block_in(i);
    if (b.run() == Block::Outcome::Trapped) trapped = b.trap();
    memory_block_out(true);
  }
  const std::string disordered = memory_end_launch();
  if (trapped.empty()) trapped = disordered;
  end_traffic(kernel);
  std::free(dyn);
  g_block = nullptr;
  g_thread = nullptr;
  if (!trapped.empty()) fail(cudaErrorLaunchFailure, trapped);
}

void launch_cooperative(const char* kernel, dim3 grid, dim3 block, size_t dynamic_shared, cudaStream_t s,
                        void (*body)(const void*), std::shared_ptr<const void> owned) {
  const DeviceConfig& dc = device_config();
  if (!launchable(dc, kernel, grid, block, dynamic_shared, s)) return;
  const void* closure = owned.get();
  const uint64_t n = uint64_t(grid.x) * grid.y * grid.z;
  const uint64_t resident = uint64_t(resident_blocks_of(kernel, block.x * block.y * block.z, dynamic_shared)) *
                            uint64_t(dc.prop.multiProcessorCount);
  if (n > resident) {
    fail(cudaErrorCooperativeLaunchTooLarge, std::string("kernel ") + kernel + ": " + std::to_string(n) +
                                                 " blocks, but only " + std::to_string(resident) + " can be resident");
    return;
  }
  if (!run_now(kernel, block, dynamic_shared, s,
               [=] { launch_cooperative(kernel, grid, block, dynamic_shared, s, body, owned); }))
    return;
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  std::vector<unsigned char> dyn(n * dynamic_shared, 0xff);  // one range: the traffic account's shared memory
  Cooperative co;
  co.states.resize(n);
  co.shared.assign(n, SharedCopy{});
  co.done.assign(n, false);
  for (uint64_t i = 0; i < n; ++i) {
    co.states[i] = BlockState{block_index(i, grid), block, grid, dynamic_shared ? dyn.data() + i * dynamic_shared : nullptr};
    co.blocks.push_back(std::make_unique<Block>(kernel, co.states[i], body, closure, dc.reverse_order, true));
  }
  begin_traffic(dyn.data(), dyn.size());
  memory_begin_launch(kernel, grid, block);
  std::string trapped = co.run(dc, kernel);
  const std::string disordered = memory_end_launch();
  if (trapped.empty()) trapped = disordered;
  end_traffic(kernel);
  g_block = nullptr;
  g_thread = nullptr;
  if (!trapped.empty()) fail(cudaErrorLaunchFailure, trapped);
}

void grid_sync() { current_block("grid.sync()").grid_barrier(); }

void switch_point() {
  if (Block::current()) Block::current()->switch_point();
}

}  // namespace renorm_emu
