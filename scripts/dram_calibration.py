#!/usr/bin/env python3
"""The emulator's distinct bytes against a GPU's DRAM bytes (issue 23's calibration).

Reads Nsight Compute's CSV (`ncu --csv --page raw --metrics dram__bytes_read.sum,dram__bytes_write.sum`,
caches flushed before each kernel: ncu's default) of renorm-bench-kernels at one shape, and the JSON of
renorm-emu-traffic (scripts/gpu-traffic.sh) at the same shape and multiprocessor count, and prints per
kernel: the median DRAM bytes per launch, the emulator's distinct bytes per launch and their ratio. A
ratio near 1 says the emulator's count is what the DRAM moves; below 1, L2 served some first touches.
Exit status 0; 2 for an unreadable or malformed input (one line naming the file).
  scripts/dram_calibration.py --ncu ncu.csv --emu traffic.json
"""
import argparse
import csv
import json
import re
import statistics
import sys

UNITS = {"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6, "GB": 1e9, "B": 1}


def fail(line):
    print(f"dram_calibration: {line}", file=sys.stderr)
    sys.exit(2)


def short_name(demangled):
    """'forward_stats<true>' from ncu's 'void renorm::...::(anonymous namespace)::forward_stats<true>(...)'."""
    name = re.sub(r"^void\s+", "", demangled.strip())
    depth, cut = 0, len(name)
    for i, ch in enumerate(name):  # the argument list: the first '(' outside template brackets
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "(" and depth == 0 and not name.startswith("(anonymous", i):
            cut = i
            break
    name = re.sub(r"(\(anonymous namespace\)|[A-Za-z_]\w*)::", "", name[:cut])
    return name.strip()


def read_ncu(path):
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError as e:
        fail(f"{path}: cannot be read ({e.strerror})")
    lines = [l for l in text.splitlines() if l.startswith('"')]  # ncu's own log lines are not quoted
    rows = list(csv.reader(lines))
    if len(rows) < 3:
        fail(f"{path}: no profiled kernels (expected ncu --csv --page raw output)")
    head, units = rows[0], rows[1]
    try:
        k, rd, wr = head.index("Kernel Name"), head.index("dram__bytes_read.sum"), head.index("dram__bytes_write.sum")
    except ValueError:
        fail(f"{path}: missing column Kernel Name, dram__bytes_read.sum or dram__bytes_write.sum")
    sm = head.index("device__attribute_multiprocessor_count") if "device__attribute_multiprocessor_count" in head else None
    per, sms = {}, set()
    for r in rows[2:]:
        if sm is not None and sm < len(r):
            sms.add(r[sm])
        try:
            b = float(r[rd].replace(",", "")) * UNITS.get(units[rd], 1) + float(r[wr].replace(",", "")) * UNITS.get(units[wr], 1)
        except (ValueError, IndexError):
            fail(f"{path}: a row whose DRAM bytes are not numbers: {r[:3]}")
        per.setdefault(short_name(r[k]), []).append(b)
    return {name: statistics.median(v) for name, v in per.items()}, sms


def read_emu(path):
    try:
        data = json.load(open(path, encoding="utf-8"))
        return {row["name"]: row["bytes_distinct"] / max(1, row["launches"]) for row in data["kernels"]}, data
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"{path}: not renorm-emu-traffic's JSON ({e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ncu", required=True)
    ap.add_argument("--emu", required=True)
    a = ap.parse_args()
    gpu, sms = read_ncu(a.ncu)
    emu, data = read_emu(a.emu)
    print(f"DRAM bytes per launch (Nsight Compute, caches flushed) against the emulator's distinct bytes, "
          f"x {data.get('shape')}, microbatch {data.get('microbatch')}")
    emu_sms = str(data.get("multiprocessors", "?"))
    if sms and sms != {emu_sms}:
        print(f"note: the GPU has {', '.join(sorted(sms))} multiprocessors, the emulator planned for {emu_sms}: "
              "the chunk plans (and the partials' bytes) differ")
    print("| kernel | DRAM bytes | emulator distinct | DRAM / emulator |\n|---|---:|---:|---:|")
    for name in sorted(set(gpu) & set(emu)):
        print(f"| {name} | {gpu[name]:.0f} | {emu[name]:.0f} | {gpu[name] / emu[name]:.3f} |")
    missing = sorted(set(emu) - set(gpu))
    if missing:
        print(f"not profiled on the GPU: {', '.join(missing)}")


if __name__ == "__main__":
    main()
