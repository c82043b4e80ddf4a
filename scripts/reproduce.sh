#!/usr/bin/env bash
# The main job (README.md): installs what is missing, builds the release preset (CUDA when the toolkit
# is there; the device is chosen at run time), and runs the paper reproduction, figures included.
#   scripts/reproduce.sh [--data-dir DIR] [--preset quick|full] [any renorm-reproduce flag ...]
# The data folder comes from --data-dir, else $RENORM_DATA_DIR, else ../shared/data/cifar-10-batches-bin.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target renorm-reproduce renorm-train  # the README's Training section runs renorm-train
data="${RENORM_DATA_DIR:-../shared/data/cifar-10-batches-bin}"
export RENORM_DATA_DIR="$data"
exec build/release/apps/renorm-reproduce --preset quick --out reproduction "$@"
