// What renorm-train and renorm-reproduce share at the top: their exit statuses (docs/robustness.md), the
// one handler that turns every exception into one line on stderr and one of them, the command-line parse
// (CLI11's errors too exit 2), and the SIGINT/SIGTERM handling (finish the step, checkpoint, exit 4).
#pragma once
#include <CLI/CLI.hpp>

#include <csignal>
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

// SIGINT and SIGTERM ask the run to stop after its current step (TrainObserver::stop_requested); the
// handler then steps aside, so a second signal ends the process at once.
inline volatile std::sig_atomic_t stop_signal = 0;
inline void on_stop_signal(int sig) { stop_signal = sig; }
inline void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;  // the second signal gets the default action
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
// What stopped the run: this process's signal, or (data parallel) one that reached another rank.
inline const char* stop_signal_name() {
  return stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : "a signal to another rank";
}

}  // namespace renorm::app
