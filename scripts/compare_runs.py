#!/usr/bin/python3
"""Two renorm-reproduce folders of the same preset, run for run (issue 25: --precision fp32 against bf16).

Pairs the runs of A and B by their folder (runs.csv's `dir`: the same configuration and seed) and prints,
per configuration, the mean over seeds in A and in B of: the final validation accuracy (inference mode),
the final train-mode accuracy (the batch's own statistics), the final train/inference gap (mean over the
norm layers of ||y_train - y_infer|| / ||y_infer||), and the fractions of r and d clipped (mean over the
logged rows with rmax > 1: Batch Renorm only); then the paired difference B - A of the accuracy (points,
mean ± sd over seeds, and t = mean / (sd / sqrt(n))) and whether it exceeds A's seed spread (max - min).
Exit 2 with one line naming the file when a folder or run is missing or unreadable.
  /usr/bin/python3 scripts/compare_runs.py A B [--names fp32 bf16]
"""
import argparse
import csv
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_sweep import gap_mean  # noqa: E402


def fail(line):
    print(f"compare_runs: {line}", file=sys.stderr)
    sys.exit(2)


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        fail(f"{path}: {e.strerror}")


def summary(folder, run_dir):
    """The final validated row's accuracies and gap, and the run's mean clip fractions while clipping."""
    path = os.path.join(folder, run_dir, "metrics.csv")
    rows = read_csv(path)
    validated = [r for r in rows if r.get("val_acc", "")]
    if not validated:
        fail(f"{path}: no validation row (an unfinished run?)")
    last = validated[-1]
    clipping = [r for r in rows if float(r["rmax"]) > 1]
    mean = lambda key: statistics.mean(float(r[key]) for r in clipping) if clipping else float("nan")  # noqa: E731
    try:
        return {"acc": float(last["val_acc"]), "acc_train": float(last["val_acc_train_mode"]), "gap": gap_mean(last),
                "clip_r": mean("clip_r"), "clip_d": mean("clip_d")}
    except (KeyError, ValueError) as e:
        fail(f"{path}: a column is missing or not a number ({e})")


def configurations(a, b):
    """label -> [(seed, A summary, B summary)], in runs.csv order."""
    index = os.path.join(a, "runs.csv")
    out = {}
    for r in read_csv(index):
        out.setdefault(r["label"], []).append((int(r["seed"]), summary(a, r["dir"]), summary(b, r["dir"])))
    if not out:
        fail(f"{index}: no runs")
    return out


def fmt(v, digits=4):
    return "-" if math.isnan(v) else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    args = ap.parse_args()
    na, nb = args.names
    print(f"| configuration | seeds | val acc {na} | val acc {nb} | train-mode acc {na} / {nb} | gap {na} / {nb} "
          f"| r clipped {na} / {nb} | d clipped {na} / {nb} | {nb} − {na}, points: mean ± sd | t | exceeds {na}'s seed spread |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, runs in configurations(args.a, args.b).items():
        m = lambda side, key: statistics.mean(r[side][key] for r in runs)  # noqa: E731
        diffs = [100 * (r[2]["acc"] - r[1]["acc"]) for r in runs]
        mean = statistics.mean(diffs)
        sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
        t = mean / (sd / math.sqrt(len(diffs))) if sd and not math.isnan(sd) else float("nan")
        spread = 100 * (max(r[1]["acc"] for r in runs) - min(r[1]["acc"] for r in runs))
        print(f"| {label} | {len(runs)} | {fmt(m(1, 'acc'))} | {fmt(m(2, 'acc'))} | {fmt(m(1, 'acc_train'))} / "
              f"{fmt(m(2, 'acc_train'))} | {fmt(m(1, 'gap'), 3)} / {fmt(m(2, 'gap'), 3)} | {fmt(m(1, 'clip_r'), 3)} / "
              f"{fmt(m(2, 'clip_r'), 3)} | {fmt(m(1, 'clip_d'), 3)} / {fmt(m(2, 'clip_d'), 3)} | {mean:+.1f} ± {sd:.1f} "
              f"| {fmt(t, 1)} | {'yes' if abs(mean) > spread else 'no'} ({spread:.1f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
