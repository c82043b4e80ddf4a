#!/usr/bin/env bash
# Builds here, for scripts/gpu-check.sh on a GPU machine that cannot build (no package mirror, minutes of
# device time), one file that travels with the tree (the device tool's `carry`):
#   build/gpu-bundle.tar.xz   bin/      renorm_tests, renorm-bench-kernels, renorm-bench-step: release,
#                                       sm_90 machine code only (H100, H200), stripped, RUNPATH $ORIGIN/../lib
#                             lib/      the non-CUDA shared libraries they need (OpenBLAS, libgfortran, libgomp,
#                                       ...); cudart, cuBLAS, cuDNN and NCCL are the GPU machine's (gpu-check.sh
#                                       finds them: the CUDA toolkit, or the NVIDIA wheels beside PyTorch)
#                             traffic.json  the emulator's bytes of the norm kernels at 128x32x32x32, M 4, on 132
#                                       multiprocessors (an H100's and an H200's), for step 6's DRAM comparison
#                             MANIFEST  the commit, the compiler, each binary's libraries and size
# This build leaves oneDNN (CPU convolutions: im2col + OpenBLAS instead, the CPU side of the parity tests
# only) and MPI out, so that the libraries fit; nothing it runs on the GPU depends on either.
#   scripts/gpu-prebuild.sh [--out FILE] [--jobs N]
# Ends with the bundle's size and the tree's (tracked and untracked-not-ignored files), which travel
# together within 64 MiB; exit status 1 when they would not. Exit status 2 for a bad argument.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/gpu-bundle.tar.xz
jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "renorm gpu-prebuild: unknown argument '$1' (--out FILE, --jobs N)" >&2; exit 2 ;;
  esac
done
say() { echo "renorm gpu-prebuild: $*"; }
limit=$((64 * 1024 * 1024))

scripts/install-deps.sh
say "configure build/gpu (release, CUDA sm_90, no oneDNN, no MPI)"
cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DRENORM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real \
  -DRENORM_ONEDNN=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON '-DCMAKE_BUILD_RPATH=$ORIGIN/../lib' >/dev/null
binaries=(tests/renorm_tests benchmarks/renorm-bench-kernels benchmarks/renorm-bench-step)
cmake --build build/gpu -j "$jobs" --target renorm_tests renorm-bench-kernels renorm-bench-step
say "the emulator's count of the norm kernels (release preset's renorm-emu-traffic, 132 multiprocessors)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target renorm-emu-traffic

stage=build/gpu-bundle
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/lib"
RENORM_EMU_SMS=132 build/release/tests/renorm-emu-traffic --shape 128,32,32,32 --microbatch 4 \
  --json "$stage/traffic.json" >/dev/null
# The GPU machine's own: the CUDA libraries and the C/C++ runtime (newer there than here is fine).
own='^(libcuda|libcudart|libcublas|libcublasLt|libcudnn|libnccl|libnvrtc|libnvJitLink|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux-x86-64|linux-vdso)\.so'
for b in "${binaries[@]}"; do
  strip --strip-unneeded -o "$stage/bin/$(basename "$b")" "build/gpu/$b"
  ldd "build/gpu/$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    [[ "$name" =~ $own ]] || cp -Lu "$path" "$stage/lib/$name"
  done
done
{
  echo "renorm GPU bundle: commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!docs' || echo ' (with uncommitted changes)'), built $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(. /etc/os-release && echo "$PRETTY_NAME"), $(g++ --version | head -n1)"
  echo "nvcc: $(/usr/local/cuda/bin/nvcc --version | tail -n1); architectures: sm_90 (90-real)"
  for b in "${binaries[@]}"; do
    echo; echo "$(basename "$b"): $(stat -c %s "$stage/bin/$(basename "$b")") bytes stripped; needs:"
    ldd "build/gpu/$b" | awk '{print "  " $1}'
  done
  echo; echo "lib/:"; (cd "$stage/lib" && ls -l | awk 'NR > 1 {print "  " $9, $5}')
} >"$stage/MANIFEST"
mkdir -p "$(dirname "$out")"
tar -cJf "$out.tmp" -C build gpu-bundle
mv "$out.tmp" "$out"

bundle=$(stat -c %s "$out")
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
unpacked=$(du -sb "$stage" | cut -f1)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
say "bundle $out: $(mib "$bundle") ($(mib "$unpacked") unpacked); the tree: $(mib "$tree"); together $(mib $((bundle + tree))) of the 64 MiB that travel"
say "on the GPU machine: scripts/gpu-check.sh --bundle $out --out \"\$OUT\"   (device tool: carry [\"$out\"])"
[ $((bundle + tree)) -le $limit ] || { say "too large to travel"; exit 1; }
