#!/usr/bin/env bash
# Installs the Debian 12 packages renorm needs, only those missing. As root it runs apt-get (3 tries, each
# download retried 3 times); otherwise it names what is missing and fails. Every package the README's two
# commands, scripts/gpu-check.sh's build and (with --bench) scripts/bench-cpu.sh use is named here; nothing
# is assumed from the machine beyond Debian's essential packages and apt (scripts/check-fresh-machine.sh
# proves it on a pristine root). The CUDA toolkit (nvcc, cuBLAS, cuDNN, NCCL) is not a Debian package:
# when /usr/local/cuda has it, the build uses it; without it, the CPU backend is built alone.
#   scripts/install-deps.sh           the build, the tests, the reproduction and its figures
#   scripts/install-deps.sh --bench   also python3-torch (about 0.5 GB more on disk): the PyTorch side of
#                                     scripts/bench-cpu.sh and benchmarks/torch_step.py; optional, so not
#                                     installed by the test command
set -euo pipefail
packages=(
  cmake g++ make pkg-config                  # the build
  libopenblas-dev                            # CPU GEMM (cblas) and the im2col convolution engine
  libdnnl-dev ocl-icd-opencl-dev             # oneDNN convolutions; Debian's dnnl CMake package requires
                                             # OpenCL's (only a Recommends of libdnnl-dev)
  zlib1g-dev nlohmann-json3-dev libcli11-dev librandom123-dev  # checkpoints, JSON, the apps' flags, Philox
  catch2 libboost-context-dev libbenchmark-dev  # tests, the CUDA emulator's fibers, benchmarks
  libopenmpi-dev openmpi-bin                 # data-parallel runs (runtime/comm.h) and their tests
  python3 python3-numpy python3-matplotlib   # /usr/bin/python3: test drivers, the figures (plot_*.py)
  dataset-fashion-mnist                      # the Fashion-MNIST dataset (--dataset fashion-mnist, its tests)
  strace                                     # the durable-write test (fsync before rename)
  clang-14 libclang-rt-14-dev libomp-14-dev  # fuzzing (libFuzzer: the fuzz preset, scripts/fuzz.sh)
)
cuda_bin=/usr/local/cuda/bin
# pip fetches cuobjdump for the kernel resource test when the CUDA toolkit lacks it (below).
[ -x "$cuda_bin/nvcc" ] && packages+=(python3-pip)
case "${1:-}" in
  "") ;;
  --bench) packages+=(python3-torch) ;;
  *) echo "renorm: install-deps.sh: unknown argument '$1' (--bench)" >&2; exit 2 ;;
esac

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
  apt_opts=(-qq -o Acquire::Retries=3)
  for try in 1 2 3; do
    apt-get update "${apt_opts[@]}" && apt-get install -y "${apt_opts[@]}" --no-install-recommends "${missing[@]}" && break
    [ "$try" -lt 3 ] || { echo "renorm: apt-get failed 3 times (is a Debian mirror reachable?)" >&2; exit 1; }
    echo "renorm: apt-get failed (try $try of 3); retrying in $((try * 10)) s" >&2
    sleep $((try * 10))
  done
fi

# cuobjdump, which the kernel resource test reads the compiled kernels with. A CUDA toolkit installed
# from NVIDIA's PyPI wheels (as /usr/local/cuda is on our machines) lacks it; NVIDIA publishes it there
# as nvidia-cuda-cuobjdump. It goes to /usr/local/bin, so that the toolkit itself (which may be mounted
# read-only) is never written. Without it that one test reports itself skipped, with the reason.
dest=/usr/local/bin/cuobjdump
if [ -x "$cuda_bin/nvcc" ] && [ ! -x "$cuda_bin/cuobjdump" ] && ! command -v cuobjdump >/dev/null; then
  if [ -w "${dest%/*}" ] && tmp=$(mktemp -d) &&
     /usr/bin/python3 -m pip download --no-deps -q -d "$tmp" "nvidia-cuda-cuobjdump==13.2.51" >/dev/null 2>&1 &&
     /usr/bin/python3 - "$tmp" "$dest" <<'PY'
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
    echo "renorm: installed $dest (PyPI nvidia-cuda-cuobjdump 13.2.51)"
  else
    echo "renorm: note: could not install cuobjdump; the kernel resource test will be skipped" >&2
  fi
  rm -rf "${tmp:-}"
fi
