#!/usr/bin/env bash
# Mutation testing of the CUDA kernels through the emulator (not part of the default test suite: about
# three hours for the release pass on 2 cores (2026-12-04: 72 mutants, the first 5 in 20 minutes; an
# hour on 2026-12-02, before the graph and TF32 tests joined the emulated suite), the ASan pass over the survivors
# about 5 minutes each, more on a first run, which builds two copies of the emulated suite). Makes
# single-point mutants of kernels/cuda (each __syncthreads and grid_sync removed, each loop bound shifted by one, each
# shuffle mask halved, the float4 indexing broken, block sizes changed), runs the emulated [cuda] suite
# on each (release build; the survivors again under ASan + UBSan) and writes docs/mutation-report.md.
#   scripts/mutate-kernels.sh
#   scripts/mutate-kernels.sh --only M01,M07 --report /tmp/report.md
#   scripts/mutate-kernels.sh --no-sanitize      skip the ASan pass over the survivors
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec python3 scripts/mutate_kernels.py "$@"
