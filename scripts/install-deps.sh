#!/usr/bin/env bash
# Installs the Debian packages renorm needs, only those missing. As root it runs apt-get; otherwise it
# names what is missing and fails. The CUDA toolkit (nvcc, cuBLAS, cuDNN) is not a Debian package here:
# when /usr/local/cuda has it, the build uses it; without it, the CPU backend is built alone.
set -euo pipefail
packages=(cmake g++ make pkg-config catch2 libopenblas-dev libdnnl-dev libcli11-dev zlib1g-dev libbenchmark-dev
          python3 python3-matplotlib dataset-fashion-mnist
          libboost-context-dev nlohmann-json3-dev librandom123-dev
          clang-14 libclang-rt-14-dev libomp-14-dev strace  # fuzzing (libFuzzer), durable-write test
          libopenmpi-dev openmpi-bin)                       # data-parallel runs (runtime/comm.h)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "renorm: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "renorm: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# cuobjdump, which the kernel resource test reads the compiled kernels with. A CUDA toolkit installed
# from NVIDIA's PyPI wheels (as /usr/local/cuda is here) lacks it; NVIDIA publishes it there as
# nvidia-cuda-cuobjdump. Without it that one test reports itself skipped, with the reason.
cuda_bin=/usr/local/cuda/bin
if [ -x "$cuda_bin/nvcc" ] && [ ! -x "$cuda_bin/cuobjdump" ] && ! command -v cuobjdump >/dev/null; then
  if [ -w "$cuda_bin" ] && tmp=$(mktemp -d) &&
     python3 -m pip download --no-deps -q -d "$tmp" "nvidia-cuda-cuobjdump==13.2.51" >/dev/null 2>&1 &&
     python3 - "$tmp" "$cuda_bin/cuobjdump" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read(next(n for n in z.namelist() if n.endswith("/bin/cuobjdump")))
tmp = sys.argv[2] + ".tmp"
with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
os.chmod(tmp, 0o755)
os.replace(tmp, sys.argv[2])
PY
  then
    echo "renorm: installed cuobjdump into $cuda_bin (PyPI nvidia-cuda-cuobjdump 13.2.51)"
  else
    echo "renorm: note: could not install cuobjdump; the kernel resource test will be skipped" >&2
  fi
  rm -rf "${tmp:-}"
fi
