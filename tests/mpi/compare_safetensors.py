#!/usr/bin/env python3
"""Compares two renorm safetensors files: prints the normalized difference ||a - b|| / ||a|| of the
parameters (all tensors as one vector) and of the moving averages (running_*), and exits 1 when either
exceeds --tol (or the names differ, or b holds a non-finite value). Standard library only.

  compare_safetensors.py A B [--tol T]
"""
import argparse
import array
import json
import math
import struct
import sys


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name}: dtype {info['dtype']}, expected F32")
        lo, hi = info["data_offsets"]
        a = array.array("f")
        a.frombytes(body[lo:hi])
        out[name] = a
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=None)
    args = ap.parse_args()
    a, b = load(args.a), load(args.b)
    if sorted(a) != sorted(b):
        print(f"tensor names differ: {sorted(set(a) ^ set(b))}")
        return 1
    # Two groups, each compared as one vector: the parameters, and the norm layers' moving averages.
    groups = {"parameters": [n for n in a if "running_" not in n], "moving averages": [n for n in a if "running_" in n]}
    failed = False
    for group, names in groups.items():
        if not names:
            continue
        num2 = sum(sum((p - q) ** 2 for p, q in zip(a[n], b[n])) for n in names)
        den2 = sum(sum(p * p for p in a[n]) for n in names)
        diff = math.sqrt(num2 / (den2 or 1.0))
        worst = max(names, key=lambda n: sum((p - q) ** 2 for p, q in zip(a[n], b[n])))
        print(f"{group}: normalized difference {diff:.3g} over {len(names)} tensors (most in {worst})")
        failed = failed or (args.tol is not None and diff > args.tol)
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
