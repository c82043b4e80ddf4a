#!/usr/bin/env bash
# The one command a machine with an NVIDIA GPU runs (README.md). In order:
#   1. builds the release preset (CUDA backend);
#   2. runs the CUDA tests ([cuda]) on the real device: parity with the CPU, cuBLAS/cuDNN included;
#   3. compute-sanitizer memcheck over them, racecheck and synccheck over renorm's own kernels;
#   4. the kernel and training-step benchmarks on CUDA;
#   5. a timed short reproduction on CUDA (Figure 2 and 3 runs at 300 steps);
# and writes a dated report (device, driver, each step's command, status, time and summary) to
# docs/gpu-report.md (--report FILE to write elsewhere). Without a GPU it stops at the first step that
# needs one, says why, and writes nothing (exit status 3). A failing step is reported and the script
# goes on; the exit status is then 1.
set -euo pipefail
cd "$(dirname "$0")/.."
report=docs/gpu-report.md
[ "${1:-}" = "--report" ] && report="$2"
work=build/gpu-check
mkdir -p "$work"

say() { echo "renorm gpu-check: $*"; }

say "step 1/5: build the release preset"
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
tests=build/release/tests/renorm_tests

# Step 2 needs a GPU: stop here, clearly, when there is none.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1) || [ -z "$gpu" ]; then
  say "no GPU present (nvidia-smi ${gpu:-not found}): stopping before step 2 (CUDA tests on the device); no report written"
  exit 3
fi
if probe=$("$tests" "cuda: the caching allocator*" 2>&1 | grep -m1 "SKIPPED:"); then
  say "a GPU is listed ($gpu) but renorm cannot use it (${probe#*SKIPPED: }): stopping before step 2; no report written"
  exit 3
fi

status=0
rows=()
# run_step NAME LOGFILE COMMAND...: runs, times, records pass/fail and the last summary line.
run_step() {
  local name="$1" log="$work/$2"
  shift 2
  say "$name: $*"
  local t0=$SECONDS rc=0
  "$@" >"$log" 2>&1 || rc=$?
  local dt=$((SECONDS - t0)) summary
  summary=$(grep -E "All tests passed|test cases:|ERROR SUMMARY|images/s|GB/s|runs.csv|error" "$log" | tail -n 3 | tr '\n' ' ' | cut -c1-300)
  [ $rc -eq 0 ] || status=1
  rows+=("| $name | \`$*\` | $([ $rc -eq 0 ] && echo pass || echo "FAIL ($rc)") | ${dt} s | ${summary//|/\\|} |")
}

run_step "CUDA tests on the device" cuda-tests.log "$tests" "[cuda]"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ]; then
  run_step "memcheck" memcheck.log "$sanitizer" --tool memcheck --error-exitcode 1 "$tests" "[cuda]"
  run_step "racecheck" racecheck.log "$sanitizer" --tool racecheck --error-exitcode 1 "$tests" "[cuda]~[vendor]"
  run_step "synccheck" synccheck.log "$sanitizer" --tool synccheck --error-exitcode 1 "$tests" "[cuda]~[vendor]"
else
  status=1
  rows+=("| compute-sanitizer | - | NOT RUN | - | compute-sanitizer not found (CUDA toolkit) |")
fi
run_step "kernel benchmarks" bench-kernels.log build/release/benchmarks/renorm-bench-kernels --device cuda --json "$work/bench-kernels.json"
run_step "step benchmark" bench-step.log build/release/benchmarks/renorm-bench-step --device cuda --batch 128 --microbatch 4 --steps 20
run_step "short reproduction" reproduce.log build/release/apps/renorm-reproduce --preset quick --device cuda \
  --out "$work/reproduction" --no-plot --data-dir "${RENORM_DATA_DIR:-../shared/data/cifar-10-batches-bin}"

tmp="$report.tmp"
{
  echo "# GPU check, $(date -u +%Y-%m-%d)"
  echo
  echo "\`scripts/gpu-check.sh\` on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC'). GPU and driver: $gpu."
  echo "CUDA: $(nvcc --version 2>/dev/null | tail -n 1 || echo unknown). CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)."
  echo "Logs: \`$work/*.log\`; kernel benchmark JSON: \`$work/bench-kernels.json\`."
  echo
  echo "| step | command | result | time | summary |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$tmp"
sync "$tmp" 2>/dev/null || true
mv "$tmp" "$report"
say "report written to $report ($([ $status -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED'))"
exit $status
