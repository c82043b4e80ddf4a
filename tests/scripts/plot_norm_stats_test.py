#!/usr/bin/env python3
"""scripts/plot_norm_stats.py on two made-up runs: the table's windows and means are the ones written,
the figure is drawn, and a bad cell is one line naming the file and exit status 2."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "plot_norm_stats.py")
HEADER = "step,layer,rmax,dmax,r_dev_mean,r_dev_p90,d_abs_mean,d_abs_p90,clip_r,clip_d,lag_mean,lag_std,log_std_ratio"


def write_run(root, name, bounds, lag):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "metrics.csv"), "w") as f:
        f.write("step,epoch,train_loss,train_acc,val_loss,val_acc\n")
        for i, _ in enumerate(bounds):
            f.write(f"{(i + 1) * 10},0,{1.0 + i},0.5,{'1,0.8' if i == len(bounds) - 1 else ','}\n")
    with open(os.path.join(d, "norm_stats.csv"), "w") as f:
        f.write(HEADER + "\n")
        for i, (rmax, dmax) in enumerate(bounds):
            for layer in (1, 2):  # layer means: lag, and lag + 0.2 for the second layer
                f.write(f"{(i + 1) * 10},{layer},{rmax},{dmax},0.1,0.2,0.3,0.4,0.5,0.6,{lag + 0.2 * (layer - 1)},0.05,0.01\n")
    return d


def python_with_matplotlib():
    for python in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(python) and subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode == 0:
            return python
    return None


def main():
    python = python_with_matplotlib()
    if not python:
        print("SKIPPED: no python3 with matplotlib for the plot script")
        return
    with tempfile.TemporaryDirectory() as root:
        write_run(root, "bn-m8-s1", [(1, 0)] * 4, 0.1)
        brn = write_run(root, "brn-m8-s1", [(1, 0), (2, 3), (3, 5), (3, 5)], 0.3)
        r = subprocess.run([python, SCRIPT, root], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        expect = [("| bn-m8-s1 | all (10–40) | 0.2 |", "bn: one window, lag mean over layers 0.2"),
                  ("| brn-m8-s1 | warmup (10–10) | 0.4 |", "brn warmup: rmax 1, dmax 0"),
                  ("| brn-m8-s1 | ramps (20–20) | 0.4 |", "brn ramps: bounds between"),
                  ("| brn-m8-s1 | after (30–40) | 0.4 |", "brn after: the final bounds")]
        for prefix, what in expect:
            assert any(l.startswith(prefix) for l in lines), f"{what}: no line starting {prefix!r} in\n{r.stdout}"
        assert os.path.isfile(os.path.join(root, "mechanism.png")), "no figure"
        with open(os.path.join(brn, "norm_stats.csv"), "a") as f:
            f.write("50,1,3,5,x,0,0,0,0,0,0,0,0\n")
        r = subprocess.run([python, SCRIPT, root], capture_output=True, text=True)
        assert r.returncode == 2 and "norm_stats.csv: column 'r_dev_mean' of step 50 is not a number" in r.stderr, r.stderr
    print("plot_norm_stats.py: windows, means, figure and bad input as expected")


if __name__ == "__main__":
    main()
