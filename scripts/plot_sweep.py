#!/usr/bin/env python3
"""The microbatch sweep of scripts/sweep.sh: final validation accuracy and the train/inference gap against
the microbatch size M, batchnorm and Batch Renorm, over seeds — a figure the paper does not have.

Reads OUT/<norm>-m<M>-s<seed>/metrics.csv (renorm-train folders). Per (norm, M): the final accuracy
(inference, and with the norm layers in training mode) and the mean gap over the norm layers, as mean,
min and max over seeds; per M the paired difference Batch Renorm − batchnorm (same seed: same
initialization and data order) with its mean, standard deviation and t = mean / (sd / sqrt(n)), and
whether the mean exceeds the seed-to-seed spread (max − min) of either configuration. Writes OUT/sweep.png,
OUT/sweep.svg and OUT/sweep.csv, and prints the table in Markdown.

usage: plot_sweep.py OUT [--by runs]
  OUT may also be a renorm-reproduce folder: its microbatch experiment's runs (by M; with --by runs, its
  classes experiment's, by k).
  --by runs: folders <norm>-k<k>-s<seed> of the non-i.i.d. sampler with runs of k same-class examples
  (--noniid-run k); the x axis is then k (a microbatch of M holds M/k classes).
"""
import csv
import os
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RUN = {"m": re.compile(r"^(bn|brn)-m(\d+)-s(\d+)$"), "k": re.compile(r"^(bn|brn)-k(\d+)-s(\d+)$")}
LABEL = {"bn": "batchnorm", "brn": "Batch Renorm"}


def final_row(path):
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_acc", "") != ""]
    if not rows:
        raise SystemExit(path + ": no validation row")
    return rows[-1]


def gap_mean(row):
    gaps = [float(v) for k, v in row.items() if k and k.startswith("gap_norm") and v not in ("", None)]
    return sum(gaps) / len(gaps) if gaps else float("nan")


def spread(values):
    return statistics.mean(values), min(values), max(values)


def collect(out, key):
    """(norm, M or k) -> {seed: final row}: from a renorm-reproduce folder (its runs.csv: the microbatch
    experiment for M, the classes experiment for k), else from folders named <norm>-m<M>-s<seed>."""
    runs = {}
    index = os.path.join(out, "runs.csv")
    if os.path.exists(index):
        experiment = "classes" if key == "k" else "microbatch"
        with open(index, newline="") as f:
            for r in csv.DictReader(f):
                metrics = os.path.join(out, r["dir"], "metrics.csv")
                if r["experiment"] == experiment and os.path.exists(metrics):
                    x = int(r["noniid_run"] if key == "k" else r["microbatch"])
                    runs.setdefault((r["norm"], x), {})[int(r["seed"])] = final_row(metrics)
        if not runs:
            raise SystemExit("%s: a renorm-reproduce folder without finished %s runs (its runs.csv); %s" % (
                out, experiment, "run renorm-reproduce --experiment classes" if key == "k" else
                "its comparisons are in summary.md"))
        return runs
    for name in sorted(os.listdir(out)):
        m = RUN[key].match(name)
        if m and os.path.exists(os.path.join(out, name, "metrics.csv")):
            runs.setdefault((m.group(1), int(m.group(2))), {})[int(m.group(3))] = final_row(
                os.path.join(out, name, "metrics.csv"))
    if not runs:
        raise SystemExit("%s: expected a renorm-reproduce folder (runs.csv) or run folders named "
                         "<norm>-%s<N>-s<seed> (scripts/sweep.sh), found neither" % (out, key))
    return runs


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2:] != ["--by", "runs"]):
        raise SystemExit("usage: plot_sweep.py OUT [--by runs]")
    out, key = sys.argv[1], "k" if len(sys.argv) == 4 else "m"
    xlabel = ("same-class run k (non-i.i.d. sampler; M/k classes per microbatch)" if key == "k"
              else "microbatch size M (normalization group)")
    name = "M" if key == "m" else "k"
    runs = collect(out, key)
    sizes = sorted({m for _, m in runs})
    table = []
    for m in sizes:
        for norm in ("bn", "brn"):
            seeds = runs.get((norm, m), {})
            if not seeds:
                continue
            acc = [float(r["val_acc"]) for r in seeds.values()]
            acc_t = [float(r["val_acc_train_mode"]) for r in seeds.values() if r.get("val_acc_train_mode")]
            gap = [gap_mean(r) for r in seeds.values()]
            table.append({"norm": norm, "m": m, "seeds": len(seeds), "acc": spread(acc),
                          "acc_train_mode": spread(acc_t) if acc_t else (float("nan"),) * 3, "gap": spread(gap)})
    paired = {}
    for m in sizes:
        a, b = runs.get(("brn", m), {}), runs.get(("bn", m), {})
        common = sorted(set(a) & set(b))
        if common:
            diffs = [float(a[s]["val_acc"]) - float(b[s]["val_acc"]) for s in common]
            spreads = [max(float(r["val_acc"]) for r in x.values()) - min(float(r["val_acc"]) for r in x.values())
                       for x in (a, b)]
            paired[m] = (diffs, max(spreads))
    with open(os.path.join(out, "sweep.csv.tmp"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["norm", "microbatch", "seeds", "val_acc_mean", "val_acc_min", "val_acc_max",
                    "val_acc_train_mode_mean", "gap_mean", "gap_min", "gap_max"])
        for t in table:
            w.writerow([t["norm"], t["m"], t["seeds"], *("%.4f" % v for v in t["acc"]), "%.4f" % t["acc_train_mode"][0],
                        *("%.4g" % v for v in t["gap"])])
    os.replace(os.path.join(out, "sweep.csv.tmp"), os.path.join(out, "sweep.csv"))
    print("| %s | norm | seeds | val acc, mean [min, max] | train-mode acc | gap, mean [min, max] |" % name)
    print("|---:|---|---:|---|---:|---|")
    for t in table:
        print("| %d | %s | %d | %.3f [%.3f, %.3f] | %.3f | %.3g [%.3g, %.3g] |" % (
            t["m"], LABEL[t["norm"]], t["seeds"], *t["acc"], t["acc_train_mode"][0], *t["gap"]))
    print()
    print("| %s | Batch Renorm − batchnorm, per seed | mean ± sd (paired) | t | larger seed spread (max − min) of the two | mean exceeds it |" % name)
    print("|---:|---|---|---:|---:|---|")
    for m, (diffs, sp) in paired.items():
        mean = statistics.mean(diffs)
        sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
        t = mean / (sd / len(diffs) ** 0.5) if len(diffs) > 1 and sd > 0 else float("nan")
        print("| %d | %s | %+.3f ± %.3f | %.1f | %.3f | %s |" % (m, ", ".join("%+.3f" % d for d in diffs), mean, sd, t, sp,
                                                              "yes" if abs(mean) > sp else "no"))
    fig, (acc_ax, gap_ax) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"wspace": 0.3})
    for i, norm in enumerate(("bn", "brn")):
        rows = [t for t in table if t["norm"] == norm]
        ms = [t["m"] for t in rows]
        for column, style, suffix in (("acc", "-o", ""), ("acc_train_mode", ":x", ", norm in training mode")):
            mean = [t[column][0] for t in rows]
            err = [[t[column][0] - t[column][1] for t in rows], [t[column][2] - t[column][0] for t in rows]]
            acc_ax.errorbar(ms, mean, yerr=err, fmt=style, color="C%d" % i, capsize=3, label=LABEL[norm] + suffix)
        gap_ax.errorbar(ms, [t["gap"][0] for t in rows], yerr=[[t["gap"][0] - t["gap"][1] for t in rows],
                                                               [t["gap"][2] - t["gap"][0] for t in rows]],
                        fmt="-o", color="C%d" % i, capsize=3, label=LABEL[norm])
    for ax in (acc_ax, gap_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(m) for m in sizes])
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)  # hides no point
    acc_ax.set_ylabel("final validation accuracy (mean, min-max over seeds)")
    acc_ax.set_title("Where Figure 2's claim holds: accuracy against M" if key == "m"
                     else "Non-i.i.d. (Figure 3): accuracy against the same-class run k")
    gap_ax.set_yscale("log")
    gap_ax.set_ylabel("||y_train - y_infer|| / ||y_infer||, mean over layers")
    gap_ax.set_title("The mechanism: train/inference gap against " + name)
    for ext in ("png", "svg"):
        tmp = os.path.join(out, "sweep.tmp." + ext)
        fig.savefig(tmp, format=ext, dpi=130, bbox_inches="tight")
        os.replace(tmp, os.path.join(out, "sweep." + ext))
    print("\nplot_sweep.py: wrote %s/sweep.png, sweep.svg, sweep.csv" % out)


if __name__ == "__main__":
    main()
