#!/usr/bin/env python3
"""The mechanism behind Batch Renorm's large-microbatch deficit (issue 39), from runs made with
renorm-train --norm-stats on (scripts/sweep.sh --extra "--norm-stats on"): for each run folder under DIR
(bn-m<M>-s<seed>, brn-m<M>-s<seed>, each with metrics.csv and norm_stats.csv) a figure of, by step,
the training loss, r and d before clipping (|r - 1| and |d|, mean over the norm layers), the moving
averages' lag behind the minibatch's own statistics (|mu_B - mu|/sigma and |sigma_B/sigma - 1|), and the
fraction of r and d the step's bounds clipped; and a table (markdown, to stdout) of those quantities in
three windows: the warmup (rmax = 1, dmax = 0), the ramps, and after them.

usage: plot_norm_stats.py DIR [--out FIGURE.png]   (DIR/mechanism.png and .svg by default)
"""
import csv
import math
import os
import re
import sys
from collections import OrderedDict, defaultdict


def fail(message):
    print(f"plot_norm_stats.py: {message}", file=sys.stderr)
    sys.exit(2)


def read_rows(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        fail(f"{path}: {e.strerror}")


def number(row, key, path):
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        fail(f"{path}: column '{key}' of step {row.get('step', '?')} is not a number: {row.get(key)!r}")


def layer_means(path):
    """step -> {column: mean over the norm layers} for every numeric column of norm_stats.csv."""
    by_step = defaultdict(lambda: defaultdict(list))
    for row in read_rows(path):
        step = int(number(row, "step", path))
        for key in row:
            if key not in ("step", "layer"):
                by_step[step][key].append(number(row, key, path))
    return OrderedDict((s, {k: sum(v) / len(v) for k, v in cols.items()}) for s, cols in sorted(by_step.items()))


def load_runs(root):
    runs = OrderedDict()
    found = [(m, name) for name in os.listdir(root) for m in [re.fullmatch(r"(bn|brn)-m(\d+)-s(\d+)", name)] if m]
    for m, name in sorted(found, key=lambda f: (f[0].group(1), int(f[0].group(2)), int(f[0].group(3)))):
        folder = os.path.join(root, name)
        if not os.path.isfile(os.path.join(folder, "norm_stats.csv")):
            continue
        metrics = read_rows(os.path.join(folder, "metrics.csv"))
        path = os.path.join(folder, "metrics.csv")
        loss = OrderedDict((int(number(r, "step", path)), number(r, "train_loss", path)) for r in metrics)
        val = [(int(number(r, "step", path)), number(r, "val_acc", path)) for r in metrics if r["val_acc"] != ""]
        runs[name] = {"norm": m.group(1), "m": int(m.group(2)), "seed": int(m.group(3)), "loss": loss, "val": val,
                      "stats": layer_means(os.path.join(folder, "norm_stats.csv"))}
    if not runs:
        fail(f"{root}: no run folder (bn|brn-m<M>-s<seed>) with a norm_stats.csv")
    return runs


def windows(stats):
    """The warmup (rmax = 1 and dmax = 0), the ramps, and after (both at their final values), by step."""
    steps = list(stats)
    final_r = max(s["rmax"] for s in stats.values())
    final_d = max(s["dmax"] for s in stats.values())
    warm = [k for k in steps if stats[k]["rmax"] == 1 and stats[k]["dmax"] == 0]
    after = [k for k in steps if stats[k]["rmax"] == final_r and stats[k]["dmax"] == final_d and k not in warm]
    ramp = [k for k in steps if k not in warm and k not in after]
    return OrderedDict([("warmup", warm), ("ramps", ramp), ("after", after)])


COLUMNS = [("lag_mean", "|μ_B−μ|/σ"), ("lag_std", "|σ_B/σ−1|"), ("r_dev_mean", "|r−1|"), ("d_abs_mean", "|d|"),
           ("clip_r", "clip r"), ("clip_d", "clip d")]


def table(runs):
    lines = ["| run | window (steps) | " + " | ".join(label for _, label in COLUMNS) + " | train loss, max | final val acc |",
             "|---|---|" + "---:|" * (len(COLUMNS) + 2)]
    for name, run in runs.items():
        wins = windows(run["stats"]) if run["norm"] == "brn" else OrderedDict([("all", list(run["stats"]))])
        for w, steps in wins.items():
            if not steps:
                continue
            cells = [sum(run["stats"][k][c] for k in steps) / len(steps) for c, _ in COLUMNS]
            losses = [v for k, v in run["loss"].items() if steps[0] <= k <= steps[-1]]
            final = f"{run['val'][-1][1]:.4f}" if run["val"] and w in ("after", "all") else ""
            lines.append(f"| {name} | {w} ({steps[0]}–{steps[-1]}) | " + " | ".join(f"{c:.3g}" for c in cells) +
                         f" | {max(losses):.3g} | {final} |")
    return "\n".join(lines)


def plot(runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [("train loss", None), ("|μ_B − μ| / σ (lag of the moving mean)", "lag_mean"),
              ("|σ_B / σ − 1| (lag of the moving σ)", "lag_std"), ("|r − 1| before clipping", "r_dev_mean"),
              ("|d| before clipping", "d_abs_mean"), ("fraction of d clipped", "clip_d")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8), sharex=True)
    ms = sorted({r["m"] for r in runs.values()})
    colors = {m: plt.cm.viridis(i / max(1, len(ms) - 1)) for i, m in enumerate(ms)}
    for ax, (title, column) in zip(axes.flat, panels):
        for name, run in runs.items():
            style = dict(color=colors[run["m"]], linestyle="-" if run["norm"] == "brn" else "--", linewidth=1.2,
                         label=f"{'Batch Renorm' if run['norm'] == 'brn' else 'batchnorm'} M={run['m']}")
            if column is None:
                ax.plot(list(run["loss"]), list(run["loss"].values()), **style)
            else:
                ax.plot(list(run["stats"]), [s[column] for s in run["stats"].values()], **style)
        ax.set_title(title, fontsize=10)
        ax.set_yscale("log" if column in (None, "lag_mean", "lag_std", "r_dev_mean", "d_abs_mean") else "linear")
        ax.grid(alpha=0.3)
    brn = next((r for r in runs.values() if r["norm"] == "brn"), None)
    if brn:
        for ax in axes.flat:
            for w, steps in windows(brn["stats"]).items():
                if w == "ramps" and steps:
                    ax.axvspan(steps[0], steps[-1], color="orange", alpha=0.12)
    axes[0][0].legend(fontsize=7)
    for ax in axes[1]:
        ax.set_xlabel("step")
    fig.suptitle("Norm layers over training (mean over layers); shaded: rmax and dmax ramping", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    fig.savefig(os.path.splitext(out)[0] + ".svg")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    root = argv[1]
    out = os.path.join(root, "mechanism.png")
    if len(argv) == 4 and argv[2] == "--out":
        out = argv[3]
    elif len(argv) != 2:
        fail("usage: plot_norm_stats.py DIR [--out FIGURE.png]")
    runs = load_runs(root)
    print(table(runs))
    plot(runs, out)
    print(f"\nfigure: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
