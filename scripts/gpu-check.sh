#!/usr/bin/env bash
# The one command a machine with an NVIDIA GPU runs (README.md). In order:
#   1. builds the release preset (CUDA backend), or takes binaries built elsewhere (--prebuilt DIR: a
#      build tree's tests/, benchmarks/ and apps/, for a machine that cannot install the build's packages);
#   2. runs the CUDA tests ([cuda]) on the real device: parity with the CPU, cuBLAS/cuDNN included;
#   3. the communicator's checks through NCCL on device buffers (one rank; mpirun -np GPUS where the
#      machine has several GPUs and mpirun);
#   4. the kernel benchmarks on CUDA, alone on the device: each norm kernel (the two launches and the
#      cooperative single launch) beside a device copy of the same bytes; the training-step benchmark
#      with its per-layer breakdown; where Nsight Compute (ncu) is present, the norm kernels' DRAM bytes
#      at 128x32x32x32, M 4, against the emulator's distinct bytes (scripts/dram_calibration.py);
#   5. compute-sanitizer memcheck over the CUDA tests, racecheck and synccheck over renorm's own kernels,
#      and a timed short reproduction on CUDA (Figure 2 and 3 runs at 300 steps), these four concurrently
#      (the reproduction's wall time is then an upper bound);
#   6. the CUDA-graph comparison (issue 26): renorm's step eager and as a replayed graph (host enqueue
#      and GPU ms per step) beside PyTorch eager, whole-step CUDA graph, torch.compile reduce-overhead and
#      max-autotune-no-cudagraphs (benchmarks/torch_step.py --modes), TF32 off and on on both sides (on:
#      renorm --precision tf32), for the rows none and brn M=4 in channels_last (compilation dominates its
#      time: about 4 compiles per run).
# --graph-only: steps 1, the graph and TF32 tests ([graph], [tf32]), the step benchmark in fp32 and tf32,
# and 6 alone (meant to fit in 6 minutes of device time).
# and writes a dated report (device, driver, each step's command, status, time and summary) to
# docs/gpu-report-YYYY-MM-DD.md (--report FILE to write elsewhere). Without a GPU it stops at the first step that
# needs one, says why, and writes nothing (exit status 3). A failing step is reported and the script
# goes on; the exit status is then 1. GPU_CHECK_STEP_TIMEOUT (seconds, default 1800) bounds each step.
set -euo pipefail
cd "$(dirname "$0")/.."
report=docs/gpu-report-$(date -u +%Y-%m-%d).md
bin=""
graph_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --report) report="$2"; shift 2 ;;
    --prebuilt) bin="$2"; shift 2 ;;
    --graph-only) graph_only=1; shift ;;
    *) echo "renorm gpu-check: unknown argument '$1' (--report FILE, --prebuilt DIR, --graph-only)" >&2; exit 2 ;;
  esac
done
work=build/gpu-check
rm -rf "$work" && mkdir -p "$work"
step_timeout=${GPU_CHECK_STEP_TIMEOUT:-1800}

say() { echo "renorm gpu-check: $*"; }

if [ -z "$bin" ]; then
  say "step 1/5: build the release preset"
  scripts/install-deps.sh
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)"
  bin=build/release
  built="built here with the release preset"
else
  say "step 1/5: binaries from $bin (built elsewhere)"
  built="prebuilt binaries from \`$bin\`"
fi
tests=$bin/tests/renorm_tests

# Step 2 needs a GPU: stop here, clearly, when there is none.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1) || [ -z "$gpu" ]; then
  say "no GPU present (nvidia-smi ${gpu:-not found}): stopping before step 2 (CUDA tests on the device); no report written"
  exit 3
fi
if probe=$("$tests" "cuda: the caching allocator*" 2>&1 | grep -m1 "SKIPPED:"); then
  say "a GPU is listed ($gpu) but renorm cannot use it (${probe#*SKIPPED: }): stopping before step 2; no report written"
  exit 3
fi
gpus=$(nvidia-smi --list-gpus | wc -l)

# run_step ID NAME COMMAND...: runs under the step timeout, times, and records pass/fail with the last
# summary lines of its log in $work/ID.row (steps may run concurrently).
run_step() {
  local id="$1" name="$2" log="$work/$1.log"
  shift 2
  say "$name: $*"
  local t0=$SECONDS rc=0
  timeout "$step_timeout" "$@" >"$log" 2>&1 || rc=$?
  local dt=$((SECONDS - t0)) summary result
  summary=$({ grep -E "All tests passed|test cases:|ERROR SUMMARY|images/s|GB/s|runs in|error|rank .* of|nccl:" "$log" || true; } | tail -n 3 | tr '\n' ' ' | cut -c1-300)
  result=pass
  [ $rc -eq 0 ] || result="FAIL ($rc)"
  [ $rc -eq 124 ] && result="TIMED OUT (${step_timeout} s)"
  echo "| $name | \`$*\` | $result | ${dt} s | ${summary//|/\\|} |" >"$work/$id.row"
  say "$name: $result in ${dt} s"
}

run_step 2-graph "CUDA graph and TF32 tests on the device" "$tests" "[graph],[tf32]"
torch_peers() {  # step 6: TF32 off|on on both sides (on: PyTorch's allow_tf32, renorm --precision tf32)
  local tf32=() ; [ "$1" = on ] && tf32=(--tf32)
  run_step "6-torch-tf32-$1" "renorm graph vs PyTorch graph/compile, TF32 $1" python3 benchmarks/torch_step.py \
    --device cuda --steps 20 --rounds 1 --renorm "$bin/benchmarks/renorm-bench-step" --modes eager,graph,compile-ro,compile-mx \
    --norms "none,brn M=4" --layouts channels_last "${tf32[@]}" --json "$work/torch-tf32-$1.json"
}
if [ -n "$graph_only" ]; then
  run_step 4-bench-step "step benchmark (eager, and queued: eager and replayed graph)" "$bin/benchmarks/renorm-bench-step" \
    --device cuda --batch 128 --microbatch 4 --steps 20
  run_step 4-bench-step-tf32 "step benchmark, tf32 (cuDNN tensor-op math, cuBLAS TF32)" "$bin/benchmarks/renorm-bench-step" \
    --device cuda --batch 128 --microbatch 4 --steps 20 --precision tf32
  torch_peers off
  torch_peers on
fi
if [ -z "$graph_only" ]; then
run_step 2-tests "CUDA tests on the device" "$tests" "[cuda]"
run_step 3-nccl "NCCL communicator, one rank" "$bin/tests/renorm_comm_test" nccl
if [ "$gpus" -gt 1 ] && command -v mpirun >/dev/null; then
  run_step 3-nccl-k "NCCL communicator, $gpus ranks" mpirun --allow-run-as-root -np "$gpus" "$bin/tests/renorm_comm_test" nccl
fi
run_step 4-bench-kernels "kernel benchmarks" "$bin/benchmarks/renorm-bench-kernels" --device cuda --json "$work/bench-kernels.json"
run_step 4-bench-step "step benchmark" "$bin/benchmarks/renorm-bench-step" --device cuda --batch 128 --microbatch 4 --steps 20
run_step 4-bench-step-bf16 "step benchmark, bf16 (cuDNN CUDNN_DATA_BFLOAT16)" "$bin/benchmarks/renorm-bench-step" --device cuda \
  --batch 128 --microbatch 4 --steps 20 --precision bf16
run_step 4-bench-step-tf32 "step benchmark, tf32 (cuDNN tensor-op math, cuBLAS TF32)" "$bin/benchmarks/renorm-bench-step" \
  --device cuda --batch 128 --microbatch 4 --steps 20 --precision tf32
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
if [ -x "$ncu" ] && [ -x "$bin/tests/renorm-emu-traffic" ]; then
  # The emulator plans its chunks for as many multiprocessors as the GPU has (GPU_SMS; H100 and H200: 132).
  run_step 4-dram "DRAM bytes against the emulator" bash -c "\"$ncu\" --csv --page raw --kernel-name \
    regex:'forward_stats|backward_stats|affine_apply|forward_coop|backward_coop' --metrics \
    dram__bytes_read.sum,dram__bytes_write.sum,device__attribute_multiprocessor_count \
    \"$bin/benchmarks/renorm-bench-kernels\" --device cuda --shape 128,32,32,32 --microbatch 4 --repeats 1 \
    >\"$work/ncu.csv\" && RENORM_EMU_SMS=${GPU_SMS:-132} \"$bin/tests/renorm-emu-traffic\" --shape 128,32,32,32 \
    --microbatch 4 --json \"$work/traffic.json\" >/dev/null && python3 scripts/dram_calibration.py \
    --ncu \"$work/ncu.csv\" --emu \"$work/traffic.json\""
else
  echo "| DRAM bytes against the emulator | - | NOT RUN | - | ncu (Nsight Compute) or renorm-emu-traffic not found |" >"$work/4-dram.row"
fi
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$sanitizer" ]; then
  run_step 5-memcheck "memcheck" "$sanitizer" --tool memcheck --error-exitcode 1 "$tests" "[cuda]" &
  run_step 5-racecheck "racecheck" "$sanitizer" --tool racecheck --error-exitcode 1 "$tests" "[cuda]~[vendor]" &
  run_step 5-synccheck "synccheck" "$sanitizer" --tool synccheck --error-exitcode 1 "$tests" "[cuda]~[vendor]" &
else
  echo "| compute-sanitizer | - | NOT RUN | - | compute-sanitizer not found (CUDA toolkit) |" >"$work/5-sanitizer.row"
fi
run_step 5-reproduce "short reproduction (concurrent with the sanitizers)" "$bin/apps/renorm-reproduce" --preset quick \
  --device cuda --out "$work/reproduction" --no-plot --data-dir "${RENORM_DATA_DIR:-../shared/data/cifar-10-batches-bin}"
wait
torch_peers off
torch_peers on
fi
status=0
grep -q -v "| pass |" "$work"/*.row && status=1

tmp="$report.tmp"
{
  echo "# GPU check, $(date -u +%Y-%m-%d)"
  echo
  echo "\`scripts/gpu-check.sh\` on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC'). GPU and driver: $gpu ($gpus GPU(s))."
  echo "Binaries: $built. CUDA: $(nvcc --version 2>/dev/null | tail -n 1 || echo unknown). CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)."
  echo "Logs: \`$work/*.log\`; kernel benchmark JSON: \`$work/bench-kernels.json\`."
  echo
  echo "| step | command | result | time | summary |"
  echo "|---|---|---|---|---|"
  cat "$work"/*.row
  # The measurements themselves (issue 23: the norm kernels against same-size copies, the step's layers,
  # the DRAM calibration), as their programs printed them.
  for part in "4-bench-kernels:Norm kernels beside same-size device copies" "4-bench-step:The training step and its layers" \
              "4-bench-step-bf16:The training step and its layers, bf16" \
              "4-bench-step-tf32:The training step and its layers, tf32" \
              "4-dram:DRAM bytes (Nsight Compute) against the emulator's distinct bytes" \
              "6-torch-tf32-off:renorm's replayed graph against PyTorch's graph and torch.compile, TF32 off on both" \
              "6-torch-tf32-on:renorm's replayed graph against PyTorch's graph and torch.compile, TF32 on on both (renorm --precision tf32)"; do
    [ -f "$work/${part%%:*}.log" ] || continue
    printf '\n## %s\n\n```\n' "${part#*:}"
    cat "$work/${part%%:*}.log"
    printf '```\n'
  done
} >"$tmp"
sync "$tmp" 2>/dev/null || true
mv "$tmp" "$report"
say "report written to $report ($([ $status -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED'))"
exit $status
