// The exit statuses of renorm-train and renorm-reproduce: one table, documented in docs/robustness.md
// and README.md. apps/main_guard.h maps every failure to one of them.
#pragma once

namespace renorm::app {

enum ExitStatus : int {
  kExitOk = 0,
  kExitInternal = 1,     // an unexpected exception: a bug in renorm (please report it with the message)
  kExitBadInput = 2,     // a bad flag or setting, or a file that is missing, unreadable or malformed
  kExitDiverged = 3,     // the training diverged; the message names the last good checkpoint
  kExitInterrupted = 4,  // SIGINT/SIGTERM: the step finished, a checkpoint was written, the message says how to resume
  kExitOutOfMemory = 5,
  kExitCudaFailure = 6,  // a CUDA, cuBLAS or cuDNN call failed on the device
  kExitPlotFailed = 7,   // renorm-reproduce: the runs finished, rendering the figures failed
};

}  // namespace renorm::app
