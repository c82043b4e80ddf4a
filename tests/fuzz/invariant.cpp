#include <cstdio>
#include <cstdlib>

#include "fuzz.h"

namespace renorm::fuzz {
void invariant_failed(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();  // a test harness, not the library: libFuzzer records the input as a crash
}
}  // namespace renorm::fuzz
