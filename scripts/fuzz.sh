#!/usr/bin/env bash
# Coverage-guided fuzzing of the in-memory readers with libFuzzer (docs/robustness.md): builds the fuzz
# preset (clang 14; the library with ASan, UBSan and -fsanitize=float-cast-overflow), replays every
# committed crash input, then runs each target for SECONDS (default 30) from the seed corpus.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: safetensors json cifar10 idx config (default: all)
# New interesting inputs go to build/fuzz/corpus/<target>; a crash leaves build/fuzz/artifacts/<target>-crash-*
# and makes the script fail: fix it, then keep the input as a regression in tests/fuzz/crashes/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors json cifar10 idx config)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
mkdir -p build/fuzz/artifacts
# A renorm::Error is the expected answer to bad input; a crash, a sanitizer report, an uncaught exception,
# a leak, an input running over 10 s (a hang) or 2 GB fail the target.
common=(-timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
for t in "${targets[@]}"; do
  exe=build/fuzz/tests/fuzz/fuzz_$t
  crashes=(tests/fuzz/crashes/$t/*)
  if [ -e "${crashes[0]}" ]; then
    echo "=== fuzz $t: replaying ${#crashes[@]} committed crash inputs"
    "$exe" "${common[@]}" "${crashes[@]}" >/dev/null 2>build/fuzz/artifacts/$t-replay.log ||
      { cat build/fuzz/artifacts/$t-replay.log; echo "renorm: fuzz $t: a committed crash input fails again" >&2; exit 1; }
  fi
  mkdir -p build/fuzz/corpus/$t
  echo "=== fuzz $t: ${seconds} s from tests/fuzz/corpus/$t"
  "$exe" "${common[@]}" -max_total_time="$seconds" -artifact_prefix=build/fuzz/artifacts/$t- \
    build/fuzz/corpus/$t tests/fuzz/corpus/$t 2>build/fuzz/artifacts/$t.log ||
    { tail -n 60 build/fuzz/artifacts/$t.log; echo "renorm: fuzz $t found a crash (build/fuzz/artifacts/$t-*)" >&2; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added|Done [0-9]+ runs" build/fuzz/artifacts/$t.log | tr '\n' ' '
  echo
done
