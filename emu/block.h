// The emulator's block scheduler (emu/block.cpp): one thread block of an emulated kernel, its threads
// as Boost.Context fibers that switch only inside __syncthreads, the warp collectives and (in a
// cooperative launch) the grid barrier.
#pragma once
#include <boost/context/fiber.hpp>
#include <string>
#include <vector>

#include "emulator.h"

namespace renorm_emu {

namespace ctx = boost::context;

// Thrown inside a fiber to end its thread: a trap, or (empty message) unwinding after another's trap.
struct Trap {
  std::string message;
};

enum class Status { Runnable, AtBarrier, AtWarp, AtGrid, AtSwitch, Done };

struct Thread {
  ThreadState state;
  Status status = Status::Runnable;
  WarpOp op{};
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int arg = 0, width = 32;
  char* stack = nullptr;
  ctx::fiber fiber;
};

const char* op_name(WarpOp op);

class Block {
 public:
  Block(const char* kernel, const BlockState& bs, void (*body)(const void*), const void* closure, bool reverse,
        bool cooperative)
      : kernel_(kernel), bs_(bs), body_(body), closure_(closure), reverse_(reverse), cooperative_(cooperative),
        threads_(size_t(bs.block.x) * bs.block.y * bs.block.z) {}
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  // Runs the block until it ends, (cooperative) every thread waits at the grid barrier, or (interleaved) a
  // thread stops at a switch point: another block runs next, and this one resumes where it stopped.
  enum class Outcome { Done, AtGrid, Switched, Trapped };
  Outcome run();
  // Interleaved launches: at each atomic and fence a thread stops with probability 1/2, drawn from `rng`
  // (the launch's seeded state); null: never (the default).
  void interleave(uint64_t* rng) { rng_ = rng; }
  void switch_point();
  const std::string& trap() const { return trap_; }
  void release_grid();  // the grid barrier completed: its waiting threads run on
  void abandon();       // another block trapped: this block's waiting threads unwind
  void barrier() { suspend(*current_, Status::AtBarrier); }
  void grid_barrier();
  uint64_t collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width);
  [[noreturn]] void raise(const std::string& what) const { throw Trap{where(*current_) + ": " + what}; }

 private:
  ctx::fiber entry(size_t i, ctx::fiber&& sink);
  void resume(Thread& t);
  void suspend(Thread& t, Status s);
  bool complete_warps();
  void execute(size_t first, WarpOp op, unsigned mask);
  bool complete_barrier();
  bool all_at_grid();
  void start();
  void unwind();
  std::string deadlock() const;
  std::string where(const Thread& t) const;

  const char* kernel_;
  const BlockState& bs_;
  void (*body_)(const void*);
  const void* closure_;
  bool reverse_, cooperative_;
  bool started_ = false;
  std::vector<Thread> threads_;
  ctx::fiber sched_;
  const void* sched_bottom_ = nullptr;
  size_t sched_size_ = 0;
  Thread* current_ = nullptr;
  std::string trap_;
  bool unwinding_ = false;
  uint64_t* rng_ = nullptr;
  inline static Block* current_block_ = nullptr;  // the block running now (one at a time)

 public:
  static Block* current() { return current_block_; }
};

}  // namespace renorm_emu
