#!/usr/bin/env python3
"""CTest driver: trains a short ResNet-20 with renorm-train (Batch Renorm over microbatches of 4) on the
shared CIFAR-10 subset and checks its weights in PyTorch (resnet20_crosscheck.py). Prints "SKIPPED: ..."
without the data or torch. --precision bf16: the run in bfloat16 (issue 25), checked as renorm evaluates it.
  crosscheck_run.py --exe renorm-train --data DIR --work DIR [--precision fp32|bf16]"""
import argparse
import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.data, "test_batch.bin")):
        print(f"SKIPPED: no CIFAR-10 data at {a.data}")
        return 0
    if importlib.util.find_spec("torch") is None:
        print("SKIPPED: no torch for this python (scripts/install-deps.sh --bench installs python3-torch)")
        return 0
    run = os.path.join(a.work, "resnet20-crosscheck-" + a.precision)
    subprocess.run([a.exe, "--model", "resnet20", "--precision", a.precision, "--data-dir", a.data, "--norm", "brn", "--microbatch", "4",
                    "--batch", "32", "--steps", "60", "--eval-every", "60", "--log-every", "20", "--lr", "0.05",
                    "--clip-warmup", "10", "--rmax-steps", "40", "--dmax-steps", "30", "--train-limit", "1024",
                    "--val-limit", "512", "--out", run, "--overwrite", "--no-progress"], check=True)
    return subprocess.run([sys.executable, os.path.join(HERE, "resnet20_crosscheck.py"), run]).returncode


if __name__ == "__main__":
    sys.exit(main())
