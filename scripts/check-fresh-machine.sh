#!/usr/bin/env bash
# The README's two commands on a pristine Debian 12 machine: builds a new Debian 12 (bookworm) root with
# mmdebstrap (--variant=apt: the essential packages and apt, nothing else), puts a clean `git clone` of
# this checkout and a copy of ../shared inside, bind-mounts the host's CUDA toolkit read-only when
# /usr/local/cuda exists, and runs as root inside the root, in order:
#   test   the README's test command for the release preset: scripts/test.sh --release
#   smoke  the README's main-job command cut to a smoke: scripts/reproduce.sh --preset smoke (every
#          experiment of the quick preset, a few steps, one seed); checks that runs.csv, microbatch.png
#          and noniid.png were written
# Each stage is printed with its wall time; a failing stage is named with the last lines of its log, and
# its logs are kept (the path is printed).
# Everything it mounted and made is removed at the end, also when interrupted (the mounts live in a
# private mount namespace, so they cannot outlive the script even when it is killed).
#   scripts/check-fresh-machine.sh [--rev REV] [--stages test,smoke] [--keep] [--work DIR]
#     --rev REV     clone this commit instead of HEAD (e.g. the commit before a dependency fix)
#     --stages LIST the stages to run inside the root (default test,smoke)
#     --keep        keep the root and its logs (printed) instead of removing them
#     --work DIR    where the root is made (default $TMPDIR, else /var/tmp; needs ~3 GiB free)
# Exit status: 0 every stage passed; 1 a stage inside the root failed (named); 2 bad usage;
# 3 this machine cannot host the check (not root, no mmdebstrap, no Debian mirror after 3 tries).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "renorm fresh-machine: $*"; }
die() { echo "renorm fresh-machine: $2" >&2; exit "$1"; }

rev=HEAD stages=test,smoke keep=0 work_parent=${TMPDIR:-/var/tmp}
while [ $# -gt 0 ]; do
  case "$1" in
    --rev|--stages|--work) [ $# -ge 2 ] || die 2 "$1 needs a value"
      case "$1" in --rev) rev=$2 ;; --stages) stages=$2 ;; --work) work_parent=$2 ;; esac; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument '$1' (--rev REV, --stages test,smoke, --keep, --work DIR)" ;;
  esac
done
for s in ${stages//,/ }; do
  case "$s" in test|smoke) ;; *) die 2 "--stages: '$s' is not one of test, smoke" ;; esac
done
[ "$(id -u)" -eq 0 ] || die 3 "must run as root (mmdebstrap, chroot and mounts): sudo $0"
commit=$(git -C "$repo" rev-parse --verify "$rev^{commit}" 2>/dev/null) || die 2 "--rev: '$rev' is not a commit of $repo"
if [ "$rev" = HEAD ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  say "note: the checkout has uncommitted changes; the clone tests the last commit, $commit"
fi

# The mounts below are made in a private mount namespace: re-run this script inside one.
if [ -z "${RENORM_FRESH_MACHINE_NS:-}" ]; then
  RENORM_FRESH_MACHINE_NS=1 exec unshare --mount --propagation private -- "$0" --rev "$commit" --stages "$stages" --work "$work_parent" $([ "$keep" = 1 ] && echo --keep)
fi

t_start=$SECONDS
exec 3>&1  # the screen, for retry3's notes while a stage's output goes to its log
elapsed() { local s=$(( SECONDS - $1 )); printf '%d min %02d s' $(( s / 60 )) $(( s % 60 )); }
mkdir -p "$work_parent"
work=$(mktemp -d "$work_parent/renorm-fresh.XXXXXX")
root=$work/root logs=$work/logs
mkdir -p "$logs"

# ---- cleanup: processes in the root, then mounts (deepest first), then the folder ------------------
mounted=() failed=0
cleanup() {
  trap - EXIT INT TERM
  local pid m
  for pid in /proc/[0-9]*; do  # whatever still runs inside the root (an interrupted build, a test)
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -KILL "${pid#/proc/}" 2>/dev/null || true
  done
  for (( i=${#mounted[@]}-1; i>=0; i-- )); do
    m=${mounted[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
  done
  if grep -q " $work[/ ]" /proc/self/mountinfo; then
    say "warning: something is still mounted under $work: left in place"
  elif [ "$keep" = 1 ]; then
    say "kept: the root $root, logs in $logs"
  elif [ "$failed" = 1 ]; then
    rm -rf --one-file-system "$root"
    say "the root is removed; its logs are kept in $logs"
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'say "interrupted: cleaning up"; cleanup; exit 130' INT
trap 'say "terminated: cleaning up"; cleanup; exit 143' TERM

mount_in_root() {  # mount_in_root TARGET MOUNT-ARGS...: mounts and records it for the cleanup
  local target=$root$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

# run_stage NAME WHAT COMMAND...: runs in the background (so that a signal reaches the trap at once), output
# to the screen and to logs/NAME.log; on failure names the stage and repeats the last lines of its log.
run_stage() {
  local name=$1 what=$2; shift 2
  local t0=$SECONDS log=$logs/$name.log
  say "stage $name: $what"
  ( set -o pipefail; "$@" 2>&1 | tee "$log" ) &
  local rc=0
  wait $! || rc=$?
  if [ $rc -ne 0 ]; then
    say "FAILED at stage $name (exit status $rc) after $(elapsed "$t0"); its last lines:"
    tail -n 40 "$log" | sed 's/^/    /'
    failed=1
    exit 1
  fi
  say "stage $name: passed in $(elapsed "$t0")"
}

retry3() {  # retry3 COMMAND...: a mirror or download failure is tried again, 3 times in all
  local n
  for n in 1 2 3; do
    "$@" && return 0
    [ $n -lt 3 ] && { say "attempt $n of 3 failed; retrying in $((n * 10)) s" >&3; sleep $((n * 10)); }
  done
  return 1
}

# ---- 1. the tools: mmdebstrap ---------------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null; then
  say "installing mmdebstrap (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  retry3 sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap' >"$logs/tools.log" 2>&1 ||
    { tail -n 20 "$logs/tools.log" >&2; die 3 "could not install mmdebstrap with apt-get after 3 tries (no Debian mirror reachable?)"; }
fi

# ---- 2. the pristine root -------------------------------------------------------------------------
mirror=${RENORM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${RENORM_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
build_root() {
  rm -rf --one-file-system "$root"
  mmdebstrap --variant=apt --mode=root --aptopt='Acquire::Retries "3"' bookworm "$root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"
}
t0=$SECONDS
say "stage root: mmdebstrap --variant=apt bookworm (Debian 12) from $mirror"
if ! retry3 build_root >"$logs/root.log" 2>&1; then
  why=$(grep -m1 -E '^E: ' "$logs/root.log" | cut -c4-200)  # apt's first error: the fetch that failed
  die 3 "FAILED at stage root: could not build the Debian 12 root from $mirror after 3 tries (no mirror reachable?)${why:+: $why}"
fi
packages_at_start=$(chroot "$root" dpkg-query -f '.\n' -W | wc -l)
say "stage root: made in $(elapsed "$t0") ($(du -sh --one-file-system "$root" | cut -f1), $packages_at_start packages)"

# ---- 3. the checkout, the shared data, the CUDA toolkit -------------------------------------------
t0=$SECONDS
git clone -q --no-local "$repo" "$root/root/renorm"
git -C "$root/root/renorm" checkout -q --detach "$commit"
if [ -d "$repo/../shared" ]; then cp -a "$repo/../shared" "$root/root/shared"; fi
cuda_note="no CUDA toolkit on the host: CPU backend only"
if [ -e /usr/local/cuda ]; then
  cuda_real=$(readlink -f /usr/local/cuda)
  mount_in_root "$cuda_real" --bind "$cuda_real"
  mount -o remount,bind,ro "$root$cuda_real"
  [ "$cuda_real" = /usr/local/cuda ] || ln -s "$cuda_real" "$root/usr/local/cuda"
  cuda_note="CUDA toolkit $cuda_real bind-mounted read-only"
fi
mount_in_root /proc -t proc proc
mount_in_root /sys -t sysfs -o ro sysfs
mount_in_root /dev/pts -t devpts -o newinstance,ptmxmode=0666 devpts
mount_in_root /dev/shm -t tmpfs -o mode=1777 tmpfs  # Open MPI's shared-memory transport
# The host's network setup travels into the root: its resolver, and the CA certificates it trusts (a
# TLS-inspecting proxy's CA, where there is one, reaches pip that way: ca-certificates adds the files of
# /usr/local/share/ca-certificates to the bundle when it is installed). Neither is a package.
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/renorm-host-trust.crt"
fi
say "stage checkout: clone of $commit$([ -d "$root/root/shared" ] && echo ", ../shared copied"), $cuda_note ($(elapsed "$t0"))"

# ---- 4. the README's commands, as root inside the root --------------------------------------------
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "cd /root/renorm && $1"
}
smoke() {  # the main-job command cut to a smoke, then the files it must have written
  in_root "scripts/reproduce.sh --preset smoke" || return
  local out=$root/root/renorm/reproduction f
  for f in runs.csv microbatch.png noniid.png; do
    [ -s "$out/$f" ] || { echo "smoke: reproduction/$f was not written"; return 1; }
  done
  echo "smoke: reproduction/ has runs.csv ($(($(wc -l <"$out/runs.csv") - 1)) runs), microbatch.png, noniid.png"
}
for s in ${stages//,/ }; do
  case "$s" in
    test)  run_stage test "scripts/test.sh --release, as root inside the root" in_root "scripts/test.sh --release" ;;
    smoke) run_stage smoke "scripts/reproduce.sh --preset smoke, as root inside the root" smoke ;;
  esac
done
if [ -f "$logs/test.log" ]; then
  say "test summary: $(grep -E 'tests passed, [0-9]+ tests failed' "$logs/test.log" | tail -n 1)"
  skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .*\(Skipped\)' "$logs/test.log" || true)
  say "skipped: $skipped (CTest's list above); $(grep -m1 'CUDA tests on a GPU skipped' "$logs/test.log" || echo 'no skip of the CUDA tests reported (a GPU, or see the test log)')"
fi
say "packages: $(( $(chroot "$root" dpkg-query -f '.\n' -W | wc -l) - packages_at_start )) installed by the commands, $(du -sh "$root/var/cache/apt/archives" | cut -f1) downloaded"
say "disk: the root holds $(du -shx --exclude="$root${cuda_real:-/nonexistent}" "$root" | cut -f1) (Debian 12, the packages installed, the clone and its build; the CUDA toolkit not counted)"
say "all stages passed in $(elapsed "$t_start")"
