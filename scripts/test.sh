#!/usr/bin/env bash
# The test command (README.md; .ci/run calls it). On a fresh Debian machine: installs what is missing,
# configures the release preset (CUDA when the toolkit is found), builds every target including every
# .cu file, runs the whole CTest suite; then builds and tests the AddressSanitizer+UBSan preset (CPU);
# then runs each libFuzzer target for 30 s after replaying its committed crash inputs (scripts/fuzz.sh).
#   scripts/test.sh            all three
#   scripts/test.sh --release  the release preset only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
run_preset() {
  echo "=== renorm: preset $1 ==="
  cmake --preset "$1"
  cmake --build --preset "$1" -j "$jobs"
  ctest --preset "$1"  # serial: two processes of spinning OpenMP threads on 2 cores slow each other 10x
}
run_preset release
# Say why the CUDA tests on a real device were skipped, if they were (CTest shows "Skipped"; the reason is
# in their output). The same tests ran through the CUDA emulator ("emulated sm..." in CTest's list).
if reason=$(build/release/tests/renorm_tests "[cuda]" 2>&1 | grep -m1 "SKIPPED:"); then
  echo "renorm: CUDA tests on a GPU skipped -- ${reason#*SKIPPED: }; they ran through the CUDA emulator instead"
fi
if [ "${1:-}" != "--release" ]; then
  run_preset debug-asan
  echo "=== renorm: fuzzing (30 s per reader) ==="
  scripts/fuzz.sh 30
fi
