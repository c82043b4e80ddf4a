// Convolutions and GEMMs in tests that run on any CUDA device: on the emulator (renorm_tests_emu) they
// need its reference cuDNN/cuBLAS turned on (renorm_emu::set_reference_libraries); on a GPU the real
// libraries run and this does nothing. Defined by each test binary's main (tests/main.cpp, tests/emu/main.cpp).
#pragma once

namespace renorm::test {

void use_reference_libraries(bool on);

// On for the scope of a test.
struct ReferenceLibraries {
  ReferenceLibraries() { use_reference_libraries(true); }
  ~ReferenceLibraries() { use_reference_libraries(false); }
  ReferenceLibraries(const ReferenceLibraries&) = delete;
  ReferenceLibraries& operator=(const ReferenceLibraries&) = delete;
};

}  // namespace renorm::test
