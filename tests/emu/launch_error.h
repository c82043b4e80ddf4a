// The message of the CudaError a launch throws ("" when it throws none) followed by the emulator's
// detail (the kernel, block and thread of a trap): how the emulator's own tests read the traps and
// launch checks (tests/emu/test_emulator.cpp, test_cooperative.cpp). Tests that also run on a GPU match
// what() alone, which carries CUDA's own strings.
#pragma once
#include <string>

#include "runtime/error.h"

namespace renorm::test {
template <class F>
std::string launch_error(F run) {
  try {
    run();
  } catch (const CudaError& e) {
    return std::string(e.what()) + "\n" + e.detail();
  }
  return "";
}
}  // namespace renorm::test
