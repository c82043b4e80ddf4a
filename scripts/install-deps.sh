#!/usr/bin/env bash
# Installs the Debian packages renorm needs, only those missing. As root it runs apt-get; otherwise it
# names what is missing and fails. The CUDA toolkit (nvcc, cuBLAS, cuDNN) is not a Debian package here:
# when /usr/local/cuda has it, the build uses it; without it, the CPU backend is built alone.
set -euo pipefail
packages=(cmake g++ make pkg-config catch2 libopenblas-dev libcli11-dev zlib1g-dev libbenchmark-dev
          python3 python3-matplotlib dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "renorm: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "renorm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
