// The message of the CudaError a launch throws ("" when it throws none): how the emulator tests read
// the traps and launch checks (tests/emu/test_emulator.cpp, test_cooperative.cpp).
#pragma once
#include <string>

#include "runtime/error.h"

namespace renorm::test {
template <class F>
std::string launch_error(F run) {
  try {
    run();
  } catch (const CudaError& e) {
    return e.what();
  }
  return "";
}
}  // namespace renorm::test
