// What renorm-train and renorm-reproduce share at the top: their exit statuses (docs/robustness.md), the
// one handler that turns every exception into one line on stderr and one of them, the command-line parse
// (CLI11's errors too exit 2), and the SIGINT/SIGTERM handling (finish the step, checkpoint, exit 4; copies of
// one request within a second count once).
#pragma once
#include <CLI/CLI.hpp>

#include <time.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "apps/exit_status.h"
#include "runtime/comm.h"
#include "runtime/error.h"
#include "train/trainer.h"

namespace renorm::app {

inline void say(const char* program, const std::string& line) { std::fprintf(stderr, "%s: %s\n", program, line.c_str()); }

// One line and one status for whatever body() throws (body returns the status itself).
template <class Body>
int guarded_body(const char* program, Body&& body) noexcept {
  try {
    try {
      return body();
    } catch (const TrainingDiverged& e) {
      say(program, e.what());
      return kExitDiverged;
    } catch (const CudaError& e) {
      say(program, std::string("CUDA failure: ") + e.what());
      return kExitCudaFailure;
    } catch (const ConfigError& e) {
      say(program, e.what());
      return kExitBadInput;
    } catch (const IoError& e) {
      say(program, e.what());
      return kExitBadInput;
    } catch (const DeviceError& e) {
      say(program, e.what());
      return kExitBadInput;
    } catch (const std::bad_alloc&) {
      say(program, "out of memory");
      return kExitOutOfMemory;
    } catch (const std::exception& e) {
      say(program, std::string("internal error (a bug in renorm; please report it): ") + e.what());
      return kExitInternal;
    } catch (...) {
      say(program, "internal error (a bug in renorm; please report it): an exception of unknown type");
      return kExitInternal;
    }
  } catch (...) {  // printing itself failed
    return kExitInternal;
  }
}

// Runs body() (which returns an exit status) and maps whatever it throws to one line and one status.
// Under an MPI launcher with several ranks the line names the rank, and a failing rank ends every rank
// with its status (abort_world), so that none waits forever in a collective for it.
template <class Body>
int guarded_main(const char* program_name, Body&& body) noexcept {
  std::string decorated = program_name;
  try {
    if (launched_by_mpi() && world_communicator()->size() > 1)
      decorated += " rank " + std::to_string(world_communicator()->rank());
  } catch (...) {  // MPI itself failed to start: the body reports it
  }
  const char* program = decorated.c_str();
  const int status = guarded_body(program, body);
  if (status != kExitOk && status != kExitInterrupted && launched_by_mpi()) abort_world(status);
  return status;
}

// Parses the command line; returns -1 to go on, or the status to exit with: 0 after --help, 2 for a
// parse error (one line naming the flag, then the hint), as for every other bad flag.
inline int parse_flags(CLI::App& app, const char* program, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    say(program, std::string(e.what()) + " (see --help)");
    return kExitBadInput;
  } catch (const Error& e) {  // a flag's own check (an enum name) while parsing
    say(program, e.what());
    return kExitBadInput;
  }
}

// SIGINT and SIGTERM ask the run to stop after its current step (TrainObserver::stop_requested). One
// Ctrl-C often arrives more than once: the terminal signals the whole process group and a wrapper in
// it (timeout, mpirun, srun) forwards its own copy. Every stop signal within kRepeatWindowNs of the
// first is that same request; one later than that is the user asking again, and ends the process at
// once with the signal's default action.
inline constexpr int64_t kRepeatWindowNs = 1'000'000'000;  // 1 s: forwarding takes microseconds; a person, longer
inline volatile std::sig_atomic_t stop_signal = 0;
inline std::atomic<int64_t> first_stop_ns{0};
static_assert(std::atomic<int64_t>::is_always_lock_free, "the signal handler needs a lock-free clock reading");
inline int64_t monotonic_ns() {  // async-signal-safe (clock_gettime is on POSIX's list)
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}
// Whether a stop signal at now_ns is the user asking again (true) or a copy of the request at first_ns.
inline bool asks_again(int64_t first_ns, int64_t now_ns) { return now_ns - first_ns >= kRepeatWindowNs; }
inline void on_stop_signal(int sig) {
  const int64_t now = monotonic_ns();
  if (stop_signal == 0) {
    first_stop_ns = now;
    stop_signal = sig;
    return;
  }
  if (!asks_again(first_stop_ns, now)) return;
  std::signal(sig, SIG_DFL);  // delivered when this handler returns (the signal is blocked inside it)
  std::raise(sig);
}
inline void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);  // one handler at a time: SIGINT and SIGTERM do not interrupt each other's
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
// What stopped the run: this process's signal, or (data parallel) one that reached another rank.
inline const char* stop_signal_name() {
  return stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : "a signal to another rank";
}

}  // namespace renorm::app
