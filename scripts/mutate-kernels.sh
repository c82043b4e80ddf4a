#!/usr/bin/env bash
# Mutation testing of the CUDA kernels through the emulator (not part of the default test suite). Makes
# single-point mutants of kernels/cuda (each __syncthreads and grid_sync removed, each loop bound shifted by
# one, each shuffle mask halved, the float4 indexing broken, block sizes changed; the memory protocol's:
# each __threadfence removed, each __ldcg made a plain load, the counter reset removed, the arrival atomic
# made a plain increment), runs the emulated [cuda] suite on each as CTest does (release build, stopping at
# the first failure; the survivors again under ASan + UBSan). By default only the mutants of the files
# changed since HEAD~1 (--changed; --base REV): minutes per mutant, a first run also builds the emulated
# suite (about 10 minutes on 2 cores). --all runs all 99 (2026-12-07) and writes docs/mutation-report.md:
# hours on 2 cores (the 72 of 2026-12-04 took about three).
#   scripts/mutate-kernels.sh
#   scripts/mutate-kernels.sh --all
#   scripts/mutate-kernels.sh --only M01,M07 --every-config --report /tmp/report.md
#   scripts/mutate-kernels.sh --no-sanitize      skip the ASan pass over the survivors
#   scripts/mutate-kernels.sh --skip-baseline    skip the unmutated run first (CTest just passed on this tree)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec python3 scripts/mutate_kernels.py "$@"
