#!/usr/bin/env bash
# The GPU check: what a lent GPU machine runs, in one command well inside its 10 minutes, from the bundle
# built here by scripts/gpu-prebuild.sh (nothing is built or installed there: it has no package mirror).
#   scripts/gpu-check.sh [--bundle FILE|DIR] [--out DIR] [--budget SECONDS] [--only 1,3,...] [--dry-run]
# Steps, in order of value, each with an estimate and a timeout of its own (seconds):
#   1 tests      the [cuda] tests on the device, CUDA graphs and TF32 included
#   2 sanitizer  compute-sanitizer memcheck and synccheck, side by side, on a short subset of them (renorm's own
#                kernels: the op rows, the norm kernels, the graph tests; no cuDNN/cuBLAS rows, no training loop)
#   3 kernels    each norm kernel beside a device copy of the same bytes (renorm-bench-kernels)
#   4 step       the CIFAR CNN step (brn M 4, B 128), eager and as the replayed graph, fp32 and TF32, with
#                its per-layer breakdown (renorm-bench-step)
#   5 torch      PyTorch on the same card beside renorm's step (benchmarks/torch_step.py, brn M 4,
#                channels_last): eager, whole-step CUDA graph and torch.compile reduce-overhead with TF32
#                off; eager and graph with TF32 on. torch.compile max-autotune is left out: it benchmarks
#                candidate Triton kernels for every convolution and GEMM while it compiles, minutes per
#                configuration cold, more than this whole budget; reduce-overhead (Inductor and CUDA
#                graphs) is the like-for-like peer of renorm's replayed graph
#   6 dram       Nsight Compute's DRAM bytes of the norm kernels against the emulator's count (bundle's
#                traffic.json; scripts/dram_calibration.py)
# --budget (default 300) is the whole check's: a step that would not fit in what is left is skipped and
# the report says so; a step's timeout is cut to what is left. The report, $OUT/gpu-report.md (--out,
# default build/gpu-check), gets each step's section the moment it ends, and every log goes to
# $OUT/logs.txt, so a command cut off at its limit still returns what it measured; the benchmarks' JSON
# lands beside them (at most 8 files: what the device tool brings back). --dry-run prints the plan, each
# step's estimate and the size that travels, and runs nothing (no GPU needed). Exit status: 0 all run
# steps passed, 1 some failed or timed out, 2 bad argument, 3 no usable GPU or bundle (the report says why).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bundle=build/gpu-bundle.tar.xz
out=build/gpu-check
budget=300
only=""
dry=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "renorm gpu-check: unknown argument '$1' (--bundle FILE|DIR, --out DIR, --budget SECONDS, --only N,N, --dry-run)" >&2
       exit 2 ;;
  esac
done
[[ "$budget" =~ ^[0-9]+$ ]] || { echo "renorm gpu-check: --budget '$budget' is not a number of seconds" >&2; exit 2; }
say() { echo "renorm gpu-check: $*"; }

# id|name|estimate|timeout. Estimates: the 2026-11-30 H200 run's times (tests 1 s, memcheck 14 s, kernel
# benchmarks 17 s, step 1 s) with the suite grown since, process and library start-up, and torch.compile's
# cold compiles (about 30 s each, two here).
steps=(
  "1|[cuda] tests on the device (graph, TF32)|50|120"
  "2|compute-sanitizer memcheck + synccheck (subset)|60|90"
  "3|norm kernels beside a same-size device copy|25|60"
  "4|the step: eager and graph, fp32 and TF32, per layer|30|60"
  "5|PyTorch eager / graph / compile reduce-overhead beside renorm|95|150"
  "6|Nsight Compute DRAM bytes vs the emulator's count|30|60"
)
subset="[cuda]~[vendor]~[trainer]~[step]~[tf32]"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

if [ -n "$dry" ]; then
  total=0
  echo "renorm gpu-check plan (budget $budget s; each step skipped when its estimate no longer fits):"
  for s in "${steps[@]}"; do
    IFS='|' read -r id name est limit <<<"$s"
    [ -z "$only" ] || [[ "$only" == *",$id,"* ]] || continue
    printf '  %s. %-62s estimate %3d s, timeout %3d s\n' "$id" "$name" "$est" "$limit"
    total=$((total + est))
  done
  echo "  estimated total: $total s (budget $budget s)$([ $total -le "$budget" ] && echo ', fits' || echo ', does NOT fit: later steps will be skipped')"
  tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
  if [ -e "$bundle" ]; then
    size=$(du -sb "$bundle" | cut -f1)
    echo "  travels: the tree $(mib "$tree") + $bundle $(mib "$size") = $(mib $((tree + size))) of 64 MiB"
  else
    echo "  travels: the tree $(mib "$tree"); $bundle not built yet (scripts/gpu-prebuild.sh)"
  fi
  echo "  sanitizer subset: $subset"
  exit 0
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
report="$out/gpu-report.md"
logs="$out/logs.txt"
: >"$logs"
start=$SECONDS
work=$(mktemp -d /tmp/renorm-gpu-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
append() { printf '%s\n' "$@" >>"$report"; }
stop_setup() {  # the report says why, exit 3
  append "" "**Stopped before step 1: $1**"
  say "$1 (report: $report)"
  exit 3
}

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n1 || true)
{
  echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Host $(hostname), CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores."
  echo "GPU: ${gpu:-none found (nvidia-smi)}. Budget $budget s. Tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')."
} >"$report"
[ -n "$gpu" ] || stop_setup "no GPU (nvidia-smi lists none)"

# The bundle: a tarball (unpacked here) or its folder.
if [ -f "$bundle" ]; then
  tar -xJf "$bundle" -C "$work" || stop_setup "cannot unpack $bundle"
  b="$work/gpu-bundle"
elif [ -d "$bundle" ]; then
  b=$(cd "$bundle" && pwd)
else
  stop_setup "no bundle at $bundle (build it with scripts/gpu-prebuild.sh and carry it)"
fi
[ -x "$b/bin/renorm_tests" ] || stop_setup "$bundle holds no bin/renorm_tests"
append "Bundle: $(head -n1 "$b/MANIFEST" 2>/dev/null || echo 'no MANIFEST')."

# cudart, cuBLAS, cuDNN and NCCL from this machine: the toolkit's folders, else the NVIDIA wheels beside PyTorch.
dirs=("$b/lib")
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do [ -d "$d" ] && dirs+=("$d"); done
while IFS= read -r d; do dirs+=("$d"); done < <(python3 - <<'EOF' 2>/dev/null || true
import glob, site, sys
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for d in sorted(glob.glob(sp + "/nvidia/**/lib", recursive=True)):
        print(d)
EOF
)
libpath=$(IFS=:; echo "${dirs[*]}")
mkdir -p "$work/wrap"
for exe in renorm_tests renorm-bench-kernels renorm-bench-step; do  # the binaries with their libraries
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' "$libpath" "$b/bin/$exe" >"$work/wrap/$exe"
  chmod +x "$work/wrap/$exe"
done
needs=$(LD_LIBRARY_PATH="$libpath" ldd "$b/bin/renorm_tests" 2>&1 || true)
missing=$(awk '/not found/ {print $1}' <<<"$needs" | xargs)
resolved=$(awk '/libcudart|libcublas|libcudnn|libnccl/ {print $1 " -> " $3}' <<<"$needs" | xargs)
append "CUDA libraries: $resolved." "" "Sanitizer subset: \`$subset\`."
[ -z "$missing" ] || stop_setup "libraries not found on this machine: $missing"
probe=$("$work/wrap/renorm_tests" "cuda: the caching allocator*" 2>&1 || true)
! grep -q "SKIPPED:" <<<"$probe" || stop_setup "renorm cannot use the GPU: $(grep -m1 SKIPPED: <<<"$probe")"
append "" "Each step's section is written when it ends; full logs in \`logs.txt\`." ""
say "setup done in $((SECONDS - start)) s; GPU: $gpu"

failed=0
declare -A results
# run_step ID COMMAND [LINES]: step ID of the plan above, skipped when it would not fit the budget; its
# section (result, time, the log's last LINES lines) appended to the report as soon as it ends, its log
# to logs.txt.
run_step() {
  local id="$1" cmd="$2" lines="${3:-25}" name est limit
  IFS='|' read -r _ name est limit <<<"${steps[$((id - 1))]}"
  [ -z "$only" ] || [[ "$only" == *",$id,"* ]] || return 0
  local left=$((budget - (SECONDS - start)))
  if [ "$left" -lt "$est" ]; then
    results[$id]="SKIPPED (needs about $est s, $left s of the budget left)"
    append "### $id. $name: ${results[$id]}" ""
    say "step $id skipped: ${results[$id]}"
    return 0
  fi
  [ "$limit" -le "$left" ] || limit=$left
  say "step $id: $name (estimate $est s, timeout $limit s)"
  local t0=$SECONDS rc=0 log="$work/step$id.log"
  (cd "$work" && timeout -k 5 "$limit" bash -c "$cmd") >"$log" 2>&1 || rc=$?
  local dt=$((SECONDS - t0)) result=pass
  [ $rc -eq 0 ] || { result="FAIL (exit $rc)"; failed=1; }
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || result="TIMED OUT ($limit s)"
  results[$id]="$result in $dt s"
  { printf '\n===== step %s: %s (%s)\n$ %s\n' "$id" "$name" "${results[$id]}" "$cmd"; cat "$log"; } >>"$logs"
  append "### $id. $name: ${results[$id]} (estimate $est s)" "" '```' "\$ ${cmd//$work/WORK}" '```' "" '```'
  tail -n "$lines" "$log" | cut -c1-200 >>"$report"
  append '```' ""
  say "step $id: ${results[$id]}"
}

w="$work/wrap"
run_step 1 "$w/renorm_tests '[cuda]' --durations yes" 30
san=/usr/local/cuda/bin/compute-sanitizer
command -v compute-sanitizer >/dev/null && san=$(command -v compute-sanitizer)
run_step 2 "$san --tool memcheck --error-exitcode 1 $w/renorm_tests '$subset' > memcheck.log 2>&1 & m=\$!;
   $san --tool synccheck --error-exitcode 1 $w/renorm_tests '$subset' > synccheck.log 2>&1; s=\$?; wait \$m; r=\$?;
   tail -n 4 memcheck.log synccheck.log; [ \$r -eq 0 ] && [ \$s -eq 0 ]"
run_step 3 "$w/renorm-bench-kernels --device cuda --json '$out/bench-kernels.json'" 40
run_step 4 "$w/renorm-bench-step --device cuda --batch 128 --microbatch 4 --steps 20 --json '$out/step-fp32.json' &&
   $w/renorm-bench-step --device cuda --batch 128 --microbatch 4 --steps 20 --precision tf32 --json '$out/step-tf32.json'" 60
torch="python3 $root/benchmarks/torch_step.py --device cuda --steps 20 --rounds 1 --renorm $w/renorm-bench-step \
--norms 'brn M=4' --layouts channels_last"
run_step 5 "PYTHONUNBUFFERED=1 $torch --modes eager,graph,compile-ro --json '$out/torch-tf32-off.json' &&
   PYTHONUNBUFFERED=1 $torch --modes eager,graph --tf32 --json '$out/torch-tf32-on.json'" 50
ncu=/usr/local/cuda/bin/ncu
command -v ncu >/dev/null && ncu=$(command -v ncu)
run_step 6 "$ncu --csv --page raw --kernel-name regex:'forward_stats|backward_stats|affine_apply|forward_coop|backward_coop' \
--metrics dram__bytes_read.sum,dram__bytes_write.sum,device__attribute_multiprocessor_count \
$w/renorm-bench-kernels --device cuda --shape 128,32,32,32 --microbatch 4 --repeats 1 > '$out/ncu.csv' &&
   python3 $root/scripts/dram_calibration.py --ncu '$out/ncu.csv' --emu '$b/traffic.json'" 30

append "## Summary" "" "| step | result |" "|---|---|"
for s in "${steps[@]}"; do
  IFS='|' read -r id name est limit <<<"$s"
  [ -z "$only" ] || [[ "$only" == *",$id,"* ]] || continue
  append "| $id. $name | ${results[$id]:-not run} |"
done
append "" "Total $((SECONDS - start)) s of the $budget s budget. Reference: the 2026-11-30 H200 run's step, brn M 4," \
  "B 128, eager: 2.75 ms (docs/gpu-report-2026-11-30.md)."
say "done in $((SECONDS - start)) s; report $report"
exit $failed
