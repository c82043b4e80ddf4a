// The emulator's block scheduler (emu/block.cpp): one thread block of an emulated kernel, its threads
// as Boost.Context fibers that switch only inside __syncthreads and the warp collectives.
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

enum class Status { Runnable, AtBarrier, AtWarp, Done };

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
  Block(const char* kernel, const BlockState& bs, void (*body)(const void*), const void* closure, bool reverse)
      : kernel_(kernel), bs_(bs), body_(body), closure_(closure), reverse_(reverse),
        threads_(size_t(bs.block.x) * bs.block.y * bs.block.z) {}

  // Runs the block to its end; returns the trap message, "" when the block completed.
  std::string run();
  void barrier() { suspend(*current_, Status::AtBarrier); }
  uint64_t collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width);
  [[noreturn]] void raise(const std::string& what) const { throw Trap{where(*current_) + ": " + what}; }

 private:
  ctx::fiber entry(size_t i, ctx::fiber&& sink);
  void resume(Thread& t);
  void suspend(Thread& t, Status s);
  bool complete_warps();
  void execute(size_t first, WarpOp op, unsigned mask);
  bool complete_barrier();
  std::string deadlock() const;
  std::string where(const Thread& t) const;

  const char* kernel_;
  const BlockState& bs_;
  void (*body_)(const void*);
  const void* closure_;
  bool reverse_;
  std::vector<Thread> threads_;
  ctx::fiber sched_;
  const void* sched_bottom_ = nullptr;
  size_t sched_size_ = 0;
  Thread* current_ = nullptr;
  std::string trap_;
  bool unwinding_ = false;
  inline static Block* current_block_ = nullptr;  // the block running now (one at a time)

 public:
  static Block* current() { return current_block_; }
};

}  // namespace renorm_emu
