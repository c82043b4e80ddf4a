// `--ranks K` of renorm-reproduce (docs/distributed.md): started as one process, the program runs itself
// again under `mpirun -np K` with the same flags (less --ranks), printing that line first; started by
// mpirun/srun, --ranks must name the ranks it has.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/comm.h"
#include "runtime/error.h"

namespace renorm::app {

// mpirun on the PATH, or "".
inline std::string find_mpirun() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((d + "/mpirun").c_str(), X_OK) == 0) return d + "/mpirun";
  return "";
}

// The launcher line for `ranks` ranks of argv without its --ranks flag.
inline std::vector<std::string> mpirun_line(const std::string& mpirun, int ranks, int argc, char** argv) {
  std::vector<std::string> line{mpirun, "-np", std::to_string(ranks)};
  if (geteuid() == 0) line.push_back("--allow-run-as-root");  // Open MPI refuses root without it
  if (unsigned(ranks) > std::thread::hardware_concurrency()) line.push_back("--oversubscribe");
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--ranks") ++i;                          // and its value
    else if (a.rfind("--ranks=", 0) != 0) line.push_back(a);
  }
  return line;
}

// Handles --ranks: returns normally when this process should go on (one process, or a rank of a
// launched run); otherwise prints the mpirun line and replaces this process by it (ConfigError when
// there is no mpirun, naming the line to run).
inline void launch_ranks(const char* program, int ranks, int argc, char** argv) {
  if (ranks <= 0) return;
  if (launched_by_mpi()) {
    if (ranks != world_communicator()->size())
      throw ConfigError("--ranks " + std::to_string(ranks) + " but the launcher started " +
                        std::to_string(world_communicator()->size()) + " ranks");
    return;
  }
  if (ranks == 1) return;
  const std::string mpirun = find_mpirun();
  const std::vector<std::string> line = mpirun_line(mpirun.empty() ? "mpirun" : mpirun, ranks, argc, argv);
  std::string text;
  for (const std::string& a : line) text += (text.empty() ? "" : " ") + a;
  if (mpirun.empty())
    throw ConfigError("--ranks " + std::to_string(ranks) + " needs mpirun (Debian: openmpi-bin); with it, run: " + text);
  std::printf("%s: running %s\n", program, text.c_str());
  std::fflush(stdout);
  std::vector<char*> args;
  for (const std::string& a : line) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(mpirun.c_str(), args.data());
  throw IoError("--ranks: could not start " + mpirun);
}

}  // namespace renorm::app
