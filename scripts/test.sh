#!/usr/bin/env bash
# The test command (README.md). On a fresh Debian 12 machine: installs what is missing
# (scripts/install-deps.sh), then runs, in order,
#   release     configures the release preset (CUDA when the toolkit is found), builds every target
#               including every .cu file, runs the whole CTest suite;
#   debug-asan  builds and tests the AddressSanitizer + UBSan preset (CPU);
#   fuzz        runs each libFuzzer target for 30 s after replaying its committed crash inputs (scripts/fuzz.sh).
#   scripts/test.sh                    all three
#   scripts/test.sh --release          the release preset only (what scripts/check-fresh-machine.sh runs)
#   scripts/test.sh debug-asan fuzz    the named parts only (what .ci/run runs on the host)
set -euo pipefail
cd "$(dirname "$0")/.."
parts=()
for a in "$@"; do
  case "$a" in
    --release) parts+=(release) ;;
    release|debug-asan|fuzz) parts+=("$a") ;;
    *) echo "renorm: test.sh: unknown argument '$a' (--release, or any of: release debug-asan fuzz)" >&2; exit 2 ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || parts=(release debug-asan fuzz)
scripts/install-deps.sh
jobs=$(nproc)
run_preset() {
  echo "=== renorm: preset $1 ==="
  cmake --preset "$1"
  cmake --build --preset "$1" -j "$jobs"
  ctest --preset "$1"  # serial: two processes of spinning OpenMP threads on 2 cores slow each other 10x
}
for part in "${parts[@]}"; do
  case "$part" in
    release)
      run_preset release
      # Say why the CUDA tests on a real device were skipped, if they were (CTest shows "Skipped"; the
      # reason is in their output). The same tests ran through the CUDA emulator ("emulated sm..." in CTest's list).
      # (The output is read whole first: grep -m1 in a pipe would end the test binary with SIGPIPE, and
      # pipefail would then hide the reason.)
      cuda_out=$(build/release/tests/renorm_tests "[cuda]" 2>&1 || true)
      if reason=$(grep -m1 "SKIPPED:" <<<"$cuda_out"); then
        echo "renorm: CUDA tests on a GPU skipped -- ${reason#*SKIPPED: }; they ran through the CUDA emulator instead"
      fi
      # What the norm kernels cost a GPU, counted on the emulator (issue 23): launches and bytes per op.
      echo "=== renorm: the norm family's account on the CUDA emulator (scripts/gpu-traffic.sh) ==="
      scripts/gpu-traffic.sh --shape 128,32,32,32 --microbatch 4 ;;
    debug-asan) run_preset debug-asan ;;
    fuzz)
      echo "=== renorm: fuzzing (30 s per reader) ==="
      scripts/fuzz.sh 30 ;;
  esac
done
