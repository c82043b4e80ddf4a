#!/usr/bin/env bash
# The microbatch sweep (issue 14; docs/reproduction.md): renorm-train for batchnorm and Batch Renorm over
# microbatches of M in {1, 2, 4, 8, 16, B} (or --ms "1 2 4 8 128"), seeds 1..S, for --model cifar-cnn or
# resnet20, with the full preset's settings (augmentation, renorm-train's defaults for alpha and the clip
# schedule), P runs at a time; then scripts/plot_sweep.py OUT. A finished
# run (model.safetensors) is skipped and an interrupted one (checkpoint) resumed, so the command can be
# run again after any interruption. --archive DIR copies each finished run's metrics.csv and config.json to
# DIR/<run>/ (a folder to commit: what plot_sweep.py reads) and skips the runs DIR holds, so a sweep that
# outlives its machine continues on the next one from what was committed.
#   scripts/sweep.sh OUT [--device cuda] [--parallel P] [--steps 1500] [--seeds 3] [--batch 128] [--archive DIR]
#                        [--bin build/release/apps/renorm-train] [--data-dir DIR] [--dataset cifar10|fashion-mnist] [--eval-every 100]
#                        [--model cifar-cnn|resnet20] [--ms "1 2 4 8 16 B"] [--threads T] [--log-every N]
#                        [--norms "bn brn"] [--extra "FLAGS"]
# --extra: more renorm-train flags for every run (e.g. "--norm-stats on --alpha 0.05"); a run's
# norm_stats.csv is archived with its metrics when it has one.
# On one H200 (P = 6, 1500 steps, 3 seeds): 3 minutes. On 2 CPU cores: about 36 x 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/sweep.sh OUT [--device D] [--parallel P] [--steps N] [--seeds S] [--batch B] [--bin EXE] [--data-dir DIR] [--dataset NAME] [--eval-every N] [--model NAME] [--ms LIST] [--threads T] [--archive DIR]" >&2; exit 2; }
out="$1"; shift
device=auto parallel=1 steps=1500 seeds=3 batch=128 bin=build/release/apps/renorm-train dataset=cifar10 eval_every=100
model=cifar-cnn ms="" threads=0 archive="" log_every="" norms="bn brn" extra=""
data="${RENORM_DATA_DIR:-../shared/data/cifar-10-batches-bin}"
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2" ;; --parallel) parallel="$2" ;; --steps) steps="$2" ;; --seeds) seeds="$2" ;;
    --batch) batch="$2" ;; --bin) bin="$2" ;; --data-dir) data="$2" ;; --dataset) dataset="$2" ;; --eval-every) eval_every="$2" ;;
    --model) model="$2" ;; --ms) ms="$2" ;; --threads) threads="$2" ;; --archive) archive="$2" ;;
    --log-every) log_every="$2" ;; --norms) norms="$2" ;; --extra) extra="$2" ;;
    *) echo "scripts/sweep.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
mkdir -p "$out" ${archive:+"$archive"}
ms="${ms:-1 2 4 8 16 $batch}"
log_every="${log_every:-$eval_every}"
export out device steps batch bin data dataset eval_every model threads archive log_every extra
archive_run() {  # run folder: its metrics and config into $archive/<name>/, whole or not at all
  [ -n "$archive" ] || return 0
  local name tmp
  name="$(basename "$1")" tmp="$archive/.$(basename "$1").tmp"
  rm -rf "$tmp" && mkdir -p "$tmp" && cp "$1/metrics.csv" "$1/config.json" "$tmp/" &&
    { [ ! -f "$1/norm_stats.csv" ] || cp "$1/norm_stats.csv" "$tmp/"; } && sync "$tmp"/* &&
    rm -rf "${archive:?}/$name" && mv "$tmp" "$archive/$name"
}
one_run() {  # norm M seed
  local dir="$out/$1-m$2-s$3"
  [ -n "$archive" ] && [ -f "$archive/$1-m$2-s$3/metrics.csv" ] && return 0
  [ -f "$dir/model.safetensors" ] && { archive_run "$dir"; return 0; }
  if [ -f "$dir/checkpoint.safetensors" ]; then
    "$bin" --resume "$dir" --no-progress >"$dir.log" 2>&1
  else
    "$bin" --dataset "$dataset" --model "$model" --threads "$threads" --data-dir "$data" --device "$device" --norm "$1" --batch "$batch" --microbatch "$2" --seed "$3" \
      --steps "$steps" --eval-every "$eval_every" --log-every "$log_every" --augment $extra --no-progress --out "$dir" >"$dir.log" 2>&1
  fi || { echo "scripts/sweep.sh: $dir failed (exit $?; log $dir.log)" >&2; return 1; }
  archive_run "$dir"
}
export -f archive_run one_run
t0=$SECONDS
for s in $(seq 1 "$seeds"); do for m in $ms; do for n in $norms; do echo "$n $m $s"; done; done; done |
  xargs -P "$parallel" -n 3 bash -c 'one_run "$@"' _
echo "scripts/sweep.sh: runs done in $(( (SECONDS - t0) / 60 )) min"
for python in "${RENORM_PYTHON:-}" python3 /usr/bin/python3; do  # the first with matplotlib draws the figure
  if [ -n "$python" ] && "$python" -c "import matplotlib" >/dev/null 2>&1; then
    exec "$python" scripts/plot_sweep.py "${archive:-$out}"
  fi
done
echo "scripts/sweep.sh: no python3 with matplotlib; for the figure and tables run: python3 scripts/plot_sweep.py ${archive:-$out}"
