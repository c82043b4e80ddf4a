#!/usr/bin/env python3
"""The issue-39 screen table of docs/reproduction.md ("A fix, screened"), regenerated from the committed runs:
per run, the mean lag |mu_B - mu|/sigma over the norm layers at step 300 and over the ramps (steps 301-571),
the deepest layer's largest |d| in the ramps, the largest training loss in steps 301-600, the validation
accuracy at steps 800 and 1500, and the wall time (metrics.csv elapsed_s; loaded times, see the doc).

usage: norm_screen_table.py [ROOT]   (ROOT: the repository, default the script's parent folder)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_norm_stats import read_rows as rows  # noqa: E402  (one CSV reader for the issue-39 scripts)

RUNS = [("batchnorm, M = 128", "norm-mechanism-fashion/bn-m128-s1"),
        ("Batch Renorm, M = 128, α = 0.01 (default)", "norm-mechanism-fashion/brn-m128-s1"),
        ("Batch Renorm, M = 128, α = 0.05", "norm-fix-screen-fashion/alpha-0.05/brn-m128-s1"),
        ("Batch Renorm, M = 128, α = 0.1", "norm-fix-screen-fashion/alpha-0.1/brn-m128-s1"),
        ("Batch Renorm, M = 2, α = 0.01 (default; stopped at 840)", "norm-mechanism-fashion/brn-m2-s1"),
        ("Batch Renorm, M = 2, α = 0.1", "norm-fix-screen-fashion/alpha-0.1/brn-m2-s1")]


def line(label, folder):
    m, ns = rows(os.path.join(folder, "metrics.csv")), rows(os.path.join(folder, "norm_stats.csv"))
    deepest = str(max(int(r["layer"]) for r in ns))
    ramp = [r for r in ns if 300 < int(r["step"]) <= 571]
    at300 = [float(r["lag_mean"]) for r in ns if int(r["step"]) == 300]
    lag = sum(float(r["lag_mean"]) for r in ramp) / len(ramp)
    deep = max(float(r["d_abs_mean"]) for r in ramp if r["layer"] == deepest)
    loss = max(float(r["train_loss"]) for r in m if 300 < int(r["step"]) <= 600)
    val = {int(r["step"]): float(r["val_acc"]) for r in m if r["val_acc"] != ""}
    last = int(m[-1]["step"])
    final = f"{val[1500]:.4f}" if 1500 in val else "—"
    minutes = float(m[-1]["elapsed_s"]) / 60
    return (f"| {label} | {sum(at300) / len(at300):.3f} | {lag:.3f} | {deep:.2f} | {loss:.2f} | {val[800]:.4f} | {final} | "
            f"{minutes:.0f} ({last} steps) |")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    figures = os.path.join(root, "docs", "figures")
    print("| run (ResNet-20, Fashion-MNIST, seed 1) | lag at step 300 | lag in the ramps (301–571) | deepest layer's |d|, "
          "max in the ramps | train loss, max in 301–600 | val acc, step 800 | val acc, step 1500 | wall minutes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, folder in RUNS:
        print(line(label, os.path.join(figures, folder)))


if __name__ == "__main__":
    main()
