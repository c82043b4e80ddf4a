#!/usr/bin/env python3
"""Figures of a renorm-reproduce folder: one PNG and one SVG per experiment.

Left panel: validation accuracy against training step, one line per configuration (mean over seeds,
shaded min-max band), labelled like the paper's figures; dotted, the same validation with the norm layers
normalizing over microbatches as in training (val_acc_train_mode). Middle panel: training loss (mean over
seeds) and the rmax / dmax clipping schedule of the Batch Renorm runs, at every step (schedule.csv). Right panel: the mechanism — the
train/inference gap of the norm layers' outputs (mean over layers; mean and band over seeds). Runs written
before those columns existed plot without them. Legends sit below the panels, where they hide no curve.
The noniid figure holds Figure 3's i.i.d. batchnorm baseline (a configuration of that experiment).

usage: plot_curves.py OUT_DIR   (reads OUT_DIR/runs.csv and each run's metrics.csv)
"""
import csv
import os
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TITLES = {
    "microbatch": "Microbatches (Ioffe 2017, Figure 2): validation accuracy",
    "noniid": "Non-i.i.d. minibatches (Ioffe 2017, Figure 3): validation accuracy",
    "classes": "Non-i.i.d. minibatches against classes per microbatch: validation accuracy",
}


def fail(message):
    print("plot_curves.py: " + message, file=sys.stderr)
    sys.exit(1)


def read_metrics(path):
    if not os.path.exists(path):
        fail(path + ": missing (did the run finish?)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def series(rows, column):
    pts = [(int(r["step"]), float(r[column])) for r in rows if r.get(column, "") != ""]
    return [p[0] for p in pts], [p[1] for p in pts]


def add_gap_mean(rows):
    """gap_mean: the mean over the norm layers' gap_norm* cells of each row that has them."""
    for r in rows:
        gaps = [float(v) for k, v in r.items() if k and k.startswith("gap_norm") and v not in ("", None)]
        r["gap_mean"] = str(sum(gaps) / len(gaps)) if gaps else ""
    return rows


def band(runs, column):
    """Mean, min and max over seeds at the steps every seed has."""
    per_seed = [dict(zip(*series(rows, column))) for rows in runs]
    steps = sorted(set.intersection(*(set(s) for s in per_seed)))
    values = [[s[t] for s in per_seed] for t in steps]
    return steps, [sum(v) / len(v) for v in values], [min(v) for v in values], [max(v) for v in values]


def schedule(run_dir, rows):
    """rmax and dmax at every step from the run's schedule.csv (the trainer writes the schedule itself);
    runs written before it existed fall back to the metrics rows, which sample it every log_every steps."""
    path = os.path.join(run_dir, "schedule.csv")
    if not os.path.exists(path):
        s, rmax = series(rows, "rmax")
        return s, rmax, series(rows, "dmax")[1]
    with open(path, newline="") as f:
        pts = [(int(r["step"]), float(r["rmax"]), float(r["dmax"])) for r in csv.DictReader(f)]
    return [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]


def legend_below(ax, handles=None, labels=None):
    """The legend under the axes, where it can hide no curve."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=1, frameon=False)


def save(fig, base):
    for ext in ("png", "svg"):
        tmp = base + ".tmp." + ext
        fig.savefig(tmp, format=ext, dpi=130, bbox_inches="tight")
        os.replace(tmp, base + "." + ext)


def main():
    if len(sys.argv) != 2:
        fail("usage: plot_curves.py OUT_DIR")
    out = sys.argv[1]
    index = os.path.join(out, "runs.csv")
    if not os.path.exists(index):
        fail(index + ": missing (is this a renorm-reproduce folder?)")
    experiments = OrderedDict()
    with open(index, newline="") as f:
        for r in csv.DictReader(f):
            runs = experiments.setdefault(r["experiment"], OrderedDict()).setdefault(r["label"], [])
            runs.append((r, add_gap_mean(read_metrics(os.path.join(out, r["dir"], "metrics.csv")))))
    for experiment, configs in experiments.items():
        fig, (acc_ax, loss_ax, gap_ax) = plt.subplots(1, 3, figsize=(20, 4.8), gridspec_kw={"wspace": 0.38})
        sched_ax = loss_ax.twinx()
        schedule_drawn = False
        for i, (label, runs) in enumerate(configs.items()):
            color = "0.3" if label.endswith("(baseline)") else "C%d" % i  # Figure 3's i.i.d. baseline: grey
            metrics = [m for _, m in runs]
            steps, mean, lo, hi = band(metrics, "val_acc")
            acc_ax.plot(steps, mean, color=color, label="%s (%d seeds)" % (label, len(runs)))
            acc_ax.fill_between(steps, lo, hi, color=color, alpha=0.2, linewidth=0)
            steps, mean, lo, hi = band(metrics, "val_acc_train_mode")
            if steps:
                acc_ax.plot(steps, mean, color=color, linestyle=":", linewidth=1)
            steps, mean, lo, hi = band(metrics, "gap_mean")
            if steps:
                gap_ax.plot(steps, mean, color=color, label=label)
                gap_ax.fill_between(steps, lo, hi, color=color, alpha=0.2, linewidth=0)
            steps, mean, lo, hi = band(metrics, "train_loss")
            loss_ax.plot(steps, mean, color=color, label=label)
            if runs[0][0]["norm"] == "brn" and not schedule_drawn:
                s, rmax, dmax = schedule(os.path.join(out, runs[0][0]["dir"]), metrics[0])
                sched_ax.plot(s, rmax, "k--", linewidth=1, label="rmax")
                sched_ax.plot(s, dmax, "k:", linewidth=1, label="dmax")
                schedule_drawn = True
        acc_ax.set_title(TITLES.get(experiment, experiment))
        acc_ax.set_xlabel("training step")
        acc_ax.set_ylabel("validation accuracy")
        acc_ax.grid(alpha=0.3)
        legend_below(acc_ax)
        loss_ax.set_title("training loss and the clipping schedule")
        loss_ax.set_xlabel("training step")
        loss_ax.set_ylabel("training loss (mean over seeds)")
        loss_ax.set_yscale("log")
        loss_ax.grid(alpha=0.3)
        sched_ax.set_ylabel("rmax, dmax")
        lines = loss_ax.get_legend_handles_labels()
        extra = sched_ax.get_legend_handles_labels()
        legend_below(loss_ax, lines[0] + extra[0], lines[1] + extra[1])
        gap_ax.set_title("train/inference gap: ||y_train - y_infer|| / ||y_infer||")
        gap_ax.set_xlabel("training step")
        gap_ax.set_ylabel("mean over the norm layers")
        gap_ax.grid(alpha=0.3)
        if gap_ax.lines:
            gap_ax.set_yscale("log")
            legend_below(gap_ax)
        acc_ax.text(0.01, 0.01, "dotted: norm layers in training mode", transform=acc_ax.transAxes, fontsize=7)
        save(fig, os.path.join(out, experiment))
        plt.close(fig)
        print("plot_curves.py: wrote %s.png and %s.svg" % (os.path.join(out, experiment), os.path.join(out, experiment)))


if __name__ == "__main__":
    main()
