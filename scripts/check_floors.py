#!/usr/bin/env python3
"""Include floors (CTest: include_floors). renorm is a stack; a file may include headers of its own floor
or of floors below it, never above:

  0 runtime/   devices, allocator and copies, streams, errors, shapes, RNG, __host__ __device__ helpers
  1 kernels/   cpu:: and cuda:: kernels per family
  2 tensor/    Tensor, autograd, every differentiable op (tensor/ops/<family>, named like its kernels)
  3 layers/    modules
  4 models/    the model interface (models/model.h), the models, the one factory (models/factory.h)
  5 data/, train/   readers and loader; trainer, optimizers, schedules, checkpoints, metrics
  6 reproduce/ the paper reproduction: its plan, runner and summary (a library; no printing)
  7 apps/      command-line programs

(emu/, the CUDA emulator, stands in for the CUDA toolkit below runtime/; tests/ and benchmarks/ stand
above everything.) A second rule keeps the trainer model-agnostic: nothing in data/, train/, reproduce/ or apps/
includes a model's own header (models/ other than model.h and factory.h); models are built by the
factory. Prints every upward include and every such include as file:line and exits 1; exits 0 when
there is none.
--plant FILE:HEADER checks as if FILE also included HEADER (CTest shows the check failing that way).
"""
import argparse
import os
import re
import subprocess
import sys

FLOORS = {"runtime": 0, "kernels": 1, "tensor": 2, "layers": 3, "models": 4, "data": 5, "train": 5, "reproduce": 6, "apps": 7}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
MODEL_AGNOSTIC = ("data", "train", "reproduce", "apps")  # build models through models/factory.h only
MODEL_INTERFACE = ("models/model.h", "models/factory.h")


def floor_of(path):
    top = path.split("/", 1)[0]
    return FLOORS.get(top)


def main():
    ap = argparse.ArgumentParser(description="check that includes point down the floors")
    ap.add_argument("root")
    ap.add_argument("--plant", action="append", default=[], help="FILE:HEADER, an include to pretend exists")
    args = ap.parse_args()
    try:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=args.root, capture_output=True,
                               text=True).stdout.split()
    except FileNotFoundError:  # no git on this machine (a fresh one: the clone was made elsewhere)
        files = []
    if not files:  # not a git checkout, or no git: walk the tree
        files = [os.path.relpath(os.path.join(d, f), args.root) for d, _, fs in os.walk(args.root) for f in fs]
    planted = {}
    for p in args.plant:
        f, h = p.split(":", 1)
        planted.setdefault(f, []).append(h)
    problems, checked = [], 0
    for f in sorted(files):
        own = floor_of(f)
        if own is None or not re.search(r"\.(h|cpp|cu|cuh)$", f):
            continue
        checked += 1
        lines = open(os.path.join(args.root, f), errors="replace").read().splitlines()
        includes = [(n, m.group(1)) for n, line in enumerate(lines, 1) if (m := INCLUDE.match(line))]
        includes += [(0, h) for h in planted.get(f, [])]
        for n, header in includes:
            target = floor_of(header)
            if target is not None and target > own:
                where = f"{f}:{n}" if n else f"{f} (planted)"
                problems.append(f"{where}: includes {header} (floor {target}, {header.split('/')[0]}/) from floor "
                                f"{own} ({f.split('/')[0]}/): includes must point down")
            if (f.split("/", 1)[0] in MODEL_AGNOSTIC and header.startswith("models/") and header not in MODEL_INTERFACE):
                where = f"{f}:{n}" if n else f"{f} (planted)"
                problems.append(f"{where}: includes {header}, a model's own header: {f.split('/')[0]}/ builds models "
                                "through models/factory.h and uses models/model.h")
    for p in problems:
        print("FAIL: " + p)
    print(f"{checked} files checked, {len(problems)} upward or model-specific includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
