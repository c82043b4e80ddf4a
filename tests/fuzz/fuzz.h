// libFuzzer targets of the in-memory readers (docs/robustness.md). A renorm::Error is the reader's
// answer to bad input and ends the run normally; any other exception escapes and libFuzzer reports it
// as a crash, as it does every sanitizer finding (the fuzz preset builds with ASan, UBSan and
// -fsanitize=float-cast-overflow). The same sources, linked with replay_main.cpp instead of libFuzzer,
// replay the corpus in the ordinary test suite.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/error.h"

#define RENORM_FUZZ_TARGET(...)                                                  \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {      \
    const std::string input(reinterpret_cast<const char*>(data), size);          \
    try {                                                                        \
      __VA_ARGS__                                                                \
    } catch (const renorm::Error&) {                                             \
    }                                                                            \
    return 0;                                                                    \
  }

namespace renorm::fuzz {
// An invariant the target checks beyond "no crash": its failure is a crash.
[[noreturn]] void invariant_failed(const char* what);
inline void require(bool ok, const char* what) {
  if (!ok) invariant_failed(what);
}
}  // namespace renorm::fuzz
