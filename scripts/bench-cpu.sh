#!/usr/bin/env bash
# The CPU benchmark command of docs/benchmarks.md. Run it on a quiet machine; the steps run one after
# another, never two at once:
#   1. renorm-bench-step on all cores, with every CPU convolution engine (oneDNN, im2col + OpenBLAS): step
#      times, and the per-layer breakdown with each convolution's GFLOP/s and % of the FMA peak measured
#      in the same run;
#   2. the same on 1 thread;
#   3. the same with renorm's loops and oneDNN held to AVX2 (RENORM_CPU_ISA=avx2), when the CPU has more;
#   4. renorm against PyTorch side by side (benchmarks/torch_step.py: alternated, 3 rounds), all cores;
#   5. the same on 1 thread;
#   6. ResNet-20 against PyTorch's ResNet-20 (torch_step.py --model resnet20), all cores;
#   7. renorm-bench-step --precision bf16 (the breakdown against the bf16 dot-product peak), all cores;
#   8. renorm fp32 and bf16 against PyTorch fp32 and bf16 autocast, alternated (torch_step.py --precision fp32,bf16),
#      all cores.
# Writes each step's output (.txt) and JSON to OUTDIR (default build/bench-cpu). Needs the release build
# (built here if missing) and Debian's python3-torch for steps 4-6 (installed by scripts/install-deps.sh --bench
# when run as root; skipped, with the reason, without).
#   scripts/bench-cpu.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/bench-cpu}
mkdir -p "$out"
scripts/install-deps.sh --bench || echo "renorm bench-cpu: note: scripts/install-deps.sh --bench failed; going on with what is installed" >&2
bin=build/release/benchmarks/renorm-bench-step
[ -x "$bin" ] || { cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" --target renorm-bench-step; }
cores=$(nproc)
run() {  # name, then the command
  local name=$1
  shift
  echo "=== $name: $*" | tee "$out/$name.txt"
  "$@" 2>&1 | tee -a "$out/$name.txt"
}
run step "$bin" --steps 10 --conv-engines all --json "$out/step.json"
OMP_NUM_THREADS=1 run step-1thread "$bin" --steps 10 --conv-engines all --json "$out/step-1thread.json"
if grep -q avx512f /proc/cpuinfo; then
  RENORM_CPU_ISA=avx2 run step-avx2 "$bin" --steps 10 --conv-engines all --json "$out/step-avx2.json"
fi
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  run torch "/usr/bin/python3" benchmarks/torch_step.py --renorm "$bin" --rounds 3 --threads "$cores" --json "$out/torch.json"
  run torch-1thread "/usr/bin/python3" benchmarks/torch_step.py --renorm "$bin" --rounds 3 --threads 1 --json "$out/torch-1thread.json"
  run torch-resnet20 "/usr/bin/python3" benchmarks/torch_step.py --model resnet20 --renorm "$bin" --rounds 3 --threads "$cores" \
    --json "$out/torch-resnet20.json"
fi
run step-bf16 "$bin" --steps 10 --precision bf16 --json "$out/step-bf16.json"
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  run torch-bf16 "/usr/bin/python3" benchmarks/torch_step.py --precision fp32,bf16 --renorm "$bin" --rounds 3 --threads "$cores" \
    --json "$out/torch-bf16.json"
else
  echo "renorm bench-cpu: PyTorch comparison skipped: /usr/bin/python3 has no torch (apt-get install python3-torch)"
fi
echo "renorm bench-cpu: results in $out"
