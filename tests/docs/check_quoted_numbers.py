#!/usr/bin/env python3
"""The quick preset's numbers that README.md and docs/reproduction.md quote are the ones in the committed
reproduction: docs/figures/quick-runs.csv (renorm-reproduce's runs.csv, with each run's final validation
accuracy) and docs/figures/quick-summary.md (its summary.md, which names the commit that produced it).

Each quote has the form  Batch Renorm − batchnorm **+2.5 ± 1.1 points** at M = 2  (Figure 2) or
**+3.6 ± 0.9 points** non-i.i.d.  (Figure 3) and names the commit, `commit 0123456789ab`. This recomputes
every paired difference from the CSV (mean and sample standard deviation over seeds, in points) and fails
naming the quote that differs, the summary row that differs, or a commit that is not the summary's.

  check_quoted_numbers.py SOURCE_DIR
"""
import csv
import os
import re
import statistics
import sys

FIG2 = re.compile(r"Batch\s+Renorm\s+−\s+batchnorm\s+\*\*([+-]\d+\.\d)\s+±\s+(\d+\.\d)\s+points\*\*\s+at\s+M\s+=\s+(\d+)")
FIG3 = re.compile(r"\*\*([+-]\d+\.\d)\s+±\s+(\d+\.\d)\s+points\*\*\s+non-i\.i\.d\.")  # (quotes may wrap lines)
COMMIT = re.compile(r"commit `?([0-9a-f]{7,40})`?")


def paired(acc, a, b):
    common = sorted(set(acc[a]) & set(acc[b]))
    if len(common) < 2:
        raise SystemExit("quick-runs.csv: fewer than 2 seeds of both %r and %r" % (a, b))
    d = [100.0 * (acc[a][s] - acc[b][s]) for s in common]
    return "%+.1f" % statistics.mean(d), "%.1f" % statistics.stdev(d)


def main():
    root = sys.argv[1]
    figures = os.path.join(root, "docs", "figures")
    acc = {}
    with open(os.path.join(figures, "quick-runs.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r.get("final_val_acc", "") == "":
                raise SystemExit("quick-runs.csv: run %s has no final accuracy" % r["dir"])
            acc.setdefault(r["label"], {})[int(r["seed"])] = float(r["final_val_acc"])
    m = next(int(k.rsplit(" ", 1)[1]) for k in acc if k.startswith("Batch Renorm, microbatch "))
    mn = next(int(k.rsplit(" ", 1)[1]) for k in acc if k.startswith("Batch Renorm, non-i.i.d., microbatch "))
    want = {
        "fig2": paired(acc, "Batch Renorm, microbatch %d" % m, "Batchnorm, microbatch %d" % m),
        "fig3": paired(acc, "Batch Renorm, non-i.i.d., microbatch %d" % mn, "Batchnorm, non-i.i.d., microbatch %d" % mn),
    }
    summary = open(os.path.join(figures, "quick-summary.md")).read()
    named = COMMIT.search(summary)
    if not named or summary[named.end():].startswith("-dirty"):
        raise SystemExit("quick-summary.md: names no commit, or one with uncommitted changes; rerun at a commit")
    commit = named.group(1)
    rows = {"fig2": "| Batch Renorm − batchnorm, microbatch %d | " % m,
            "fig3": "| Batch Renorm − batchnorm, non-i.i.d., microbatch %d | " % mn}
    failures = []
    for key, prefix in rows.items():
        line = next((l for l in summary.splitlines() if l.startswith(prefix)), "")
        if "%s ± %s" % want[key] not in line:
            failures.append("quick-summary.md: %r does not hold %s ± %s (from quick-runs.csv)" % (line, *want[key]))
    checked = 0
    for doc in ("README.md", os.path.join("docs", "reproduction.md")):
        text = open(os.path.join(root, doc)).read()
        for match in FIG2.finditer(text):
            checked += 1
            if int(match.group(3)) == m and match.groups()[:2] != want["fig2"]:
                failures.append("%s quotes %s ± %s at M = %d; quick-runs.csv gives %s ± %s" % (doc, *match.groups(), *want["fig2"]))
        for match in FIG3.finditer(text):
            checked += 1
            if match.groups() != want["fig3"]:
                failures.append("%s quotes %s ± %s non-i.i.d.; quick-runs.csv gives %s ± %s" % (doc, *match.groups(), *want["fig3"]))
        if (FIG2.search(text) or FIG3.search(text)) and commit not in text:
            failures.append("%s quotes the quick preset but not its commit %s" % (doc, commit))
    if checked < 6:
        failures.append("only %d quotes found (README.md's two, docs/reproduction.md's four)" % checked)
    for f in failures:
        print("check_quoted_numbers.py: " + f)
    if failures:
        return 1
    print("check_quoted_numbers.py: %d quotes match quick-runs.csv (Figure 2 %s ± %s, Figure 3 %s ± %s; commit %s)"
          % (checked, *want["fig2"], *want["fig3"], commit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
