#!/usr/bin/env bash
# scripts/gpu-check.sh where there is no GPU (CI): its plan fits the budget; without a GPU, or without a
# bundle, it stops before step 1 with a report saying why (exit status 3); and with a stand-in GPU and a
# stand-in bundle (shell scripts for nvidia-smi and the binaries) each step's section reaches the report
# as it ends — a pass, a failure, a step skipped for the budget — with the summary last.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
check="$root/scripts/gpu-check.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$check" --dry-run | grep -Eq "estimated total: [0-9]+ s \(budget 300 s\), fits" || fail "the plan does not fit 300 s"
"$check" --dry-run --budget 100 | grep -q "does NOT fit" || fail "a small budget is not reported"
"$check" --frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "a bad argument is not exit status 2"

mkdir -p "$work/nogpu" "$work/gpu"
printf '#!/bin/sh\nexit 9\n' >"$work/nogpu/nvidia-smi"
printf '#!/bin/sh\necho "Stand-in GPU, 000.00, 1 MiB"\n' >"$work/gpu/nvidia-smi"
chmod +x "$work/nogpu/nvidia-smi" "$work/gpu/nvidia-smi"
PATH="$work/nogpu:$PATH" "$check" --out "$work/out1" >/dev/null; rc=$?
[ $rc -eq 3 ] || fail "no GPU: exit status $rc, not 3"
grep -q "Stopped before step 1: no GPU" "$work/out1/gpu-report.md" || fail "no GPU: the report does not say so"
PATH="$work/gpu:$PATH" "$check" --out "$work/out2" --bundle "$work/none.tar.xz" >/dev/null; rc=$?
[ $rc -eq 3 ] || fail "no bundle: exit status $rc, not 3"
grep -q "Stopped before step 1: no bundle" "$work/out2/gpu-report.md" || fail "no bundle: the report does not say so"

# A stand-in bundle: the tests pass, the kernel benchmark fails.
b="$work/bundle"
mkdir -p "$b/bin" "$b/lib"
echo "stand-in bundle" >"$b/MANIFEST"
printf '#!/bin/sh\necho "All tests passed (1 assertion in 1 test case)"\n' >"$b/bin/renorm_tests"
printf '#!/bin/sh\necho "kernel benchmark broke"\nexit 4\n' >"$b/bin/renorm-bench-kernels"
printf '#!/bin/sh\necho "step"\n' >"$b/bin/renorm-bench-step"
chmod +x "$b"/bin/*
PATH="$work/gpu:$PATH" "$check" --out "$work/out3" --bundle "$b" --only 1 >/dev/null; rc=$?
report="$work/out3/gpu-report.md"
[ $rc -eq 0 ] || fail "a passing step: exit status $rc, not 0"
grep -q "^### 1\. .*: pass in" "$report" || fail "step 1's pass is not in the report"
grep -q "All tests passed" "$report" || fail "step 1's output is not in the report"
grep -q "^| 1\. .* | pass in" "$report" || fail "the summary lacks step 1"
! grep -q "^### 2\." "$report" || fail "--only 1 ran step 2"
# A budget of 26 s: step 1 (about 50 s) and step 4 (about 30 s) skipped, step 3 (about 25 s) run, failing.
PATH="$work/gpu:$PATH" "$check" --out "$work/out4" --bundle "$b" --only 1,3,4 --budget 26 >/dev/null; rc=$?
report="$work/out4/gpu-report.md"
[ $rc -eq 1 ] || fail "a failed step: exit status $rc, not 1"
grep -q "^### 1\. .*: SKIPPED (needs about 50 s" "$report" || fail "step 1 was not skipped for the budget"
grep -q "^### 3\. .*: FAIL (exit 4)" "$report" || fail "step 3's failure is not in the report"
grep -q "^### 4\. .*: SKIPPED (needs about 30 s" "$report" || fail "step 4 was not skipped for the budget"
grep -q "kernel benchmark broke" "$work/out4/logs.txt" || fail "logs.txt lacks step 3's log"
echo "gpu-check: plan, no-GPU, no-bundle and stand-in runs as expected"
