// The emulated CUDA test binary (renorm_tests_emu, linked against renorm_emu). Besides Catch2's own
// arguments it takes the emulated device's configuration, which the emulator reads from the environment
// on first use:  --emu-sms N  (RENORM_EMU_SMS),  --emu-order forward|reverse  (RENORM_EMU_ORDER),
// --emu-launch-log FILE  (RENORM_EMU_LAUNCH_LOG), --emu-devices N  (RENORM_EMU_DEVICES, default 2 here,
// so that per-device behaviour is tested), --emu-blocks forward|reverse|interleaved|random[:SEED]
// (RENORM_EMU_BLOCKS: the order a grid's blocks run in), --emu-memory check|defer[:SEED]|check,defer:SEED|off
// (RENORM_EMU_MEMORY: the memory model between blocks, emu/memory.cpp; default check). The caching
// allocator runs in exact-size mode.
// Catch2's signal handlers are off: a kernel that corrupts the heap makes malloc abort, and a handler
// that allocates would then deadlock on malloc's lock instead of letting the process die at once.
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_NO_POSIX_SIGNALS
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/error.h"
#include "support/reference_libraries.h"

// A CudaError that fails a test is shown with the emulator's detail (the trap's kernel, block and
// thread), written to stderr: the translated text is also what CHECK_THROWS_WITH matches, which must
// stay CUDA's own words (runtime/error.h).
CATCH_TRANSLATE_EXCEPTION(const renorm::CudaError& e) {
  if (!e.detail().empty()) std::fprintf(stderr, "renorm emulator: %s\n", e.detail().c_str());
  return e.what();
}

// The emulator's reference cuDNN/cuBLAS for tests that run on any CUDA device.
void renorm::test::use_reference_libraries(bool on) { renorm_emu::set_reference_libraries(on); }

int main(int argc, char** argv) {
  const std::pair<const char*, const char*> flags[] = {
      {"--emu-sms", "RENORM_EMU_SMS"}, {"--emu-order", "RENORM_EMU_ORDER"}, {"--emu-launch-log", "RENORM_EMU_LAUNCH_LOG"},
      {"--emu-devices", "RENORM_EMU_DEVICES"}, {"--emu-blocks", "RENORM_EMU_BLOCKS"},
      {"--emu-memory", "RENORM_EMU_MEMORY"}};
  setenv("RENORM_EMU_DEVICES", "2", 0);
#ifdef RENORM_EMU_RESOURCES_FILE  // the kernels' compiled registers and shared memory (emu/occupancy.cpp)
  setenv("RENORM_EMU_RESOURCES", RENORM_EMU_RESOURCES_FILE, 0);
#endif
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    bool taken = false;
    for (const auto& [flag, env] : flags)
      if (std::string(argv[i]) == flag && i + 1 < argc) {
        setenv(env, argv[++i], 1);
        taken = true;
      }
    if (!taken) rest.push_back(argv[i]);
  }
  renorm::set_exact_allocation(true);
  return Catch::Session().run(int(rest.size()), rest.data());
}
