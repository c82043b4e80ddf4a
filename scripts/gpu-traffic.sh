#!/usr/bin/env bash
# The GPU's cost without a GPU (issue 23): the norm family's launches and global-memory bytes on the CUDA
# emulator (tests/emu/traffic/main.cpp), for any shape. Builds the release preset's renorm-emu-traffic
# if needed (the traffic build: the ASan preset counts no bytes).
#   scripts/gpu-traffic.sh [--shape B,H,W,C] [--microbatch M] [--json FILE]
# Prints a Markdown table per op (launches, distinct bytes against the least possible and the budget,
# bytes accessed; the cooperative single launches where the emulated device holds their grid), per kernel
# (bytes read, written, distinct, shared, the longest chain of global accesses by one thread) and the
# warm training step's counts; --json writes them (keys: kernels, norm, step). RENORM_EMU_SMS sets the
# emulated multiprocessors (default 132). Exit status 0; 2 for a bad flag (one line).
set -euo pipefail
cd "$(dirname "$0")/.."
exe=build/release/tests/renorm-emu-traffic
if [ ! -x "$exe" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target renorm-emu-traffic >/dev/null
fi
exec "$exe" "$@"
