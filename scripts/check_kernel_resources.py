#!/usr/bin/env python3
"""Build-time resource check of renorm's CUDA kernels (CTest: kernel_resources).

Reads, for every architecture compiled into the library, each kernel's registers and static shared
memory (cuobjdump --dump-resource-usage) and its launch bounds (EIATTR_MAX_THREADS in cuobjdump -elf),
and the launch configurations the emulated CUDA suite actually used (the RENORM_EMU_LAUNCH_LOG file:
kernel, block x, y, z, dynamic shared bytes). Fails, naming the kernel and the architecture, when
  - a kernel has no __launch_bounds__, or its bounds differ from the largest block it is launched with;
  - a launch uses more threads than the kernel's bounds;
  - threads x registers (allocated per warp in units of 256) exceed the 65,536 registers of a block;
  - static + dynamic shared memory exceed 48 KiB per block (no opt-in is used);
  - a kernel in the library is never launched by the emulated suite (its configuration is unchecked).
With --emit FILE it writes instead, for the CUDA emulator's occupancy (issue 38), one line per kernel
compiled for --arch (default sm_90): its base name, registers per thread and static shared bytes (the
most of its instantiations), tab separated, after a comment line naming the library (no launch log).
Exit status: 0 all fit, 1 a violation, 2 bad input (missing tool or file).
"""
import argparse
import collections
import math
import os
import re
import subprocess
import sys

REGS_PER_BLOCK = 65536
REG_ALLOC_UNIT = 256  # registers, per warp (sm_80, sm_90)
SHARED_PER_BLOCK = 48 * 1024
MAX_THREADS = 1024


def base_name(name):
    """'void ns::(anonymous namespace)::affine_apply<1, 4>(float const*, ...)' -> 'affine_apply'."""
    depth, cut = 0, len(name)
    # drop the parameter list: the last top-level parenthesized group
    if name.endswith(")"):
        for i in range(len(name) - 1, -1, -1):
            c = name[i]
            depth += c == ")"
            depth -= c == "("
            if depth == 0:
                cut = i
                break
    s = name[:cut]
    parts, depth, cur = [], 0, ""
    i = 0
    while i < len(s):
        c = s[i]
        if c in "<([{":
            depth += 1
        elif c in ">)]}":
            depth -= 1
        if depth == 0 and s.startswith("::", i):
            parts.append(cur)
            cur = ""
            i += 2
            continue
        if depth == 0 and c == " ":
            cur = ""  # a return type before the name
        else:
            cur += c
        i += 1
    parts.append(cur)
    last = parts[-1]
    return last.split("<", 1)[0]


def demangle(names):
    if not names:
        return {}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
    return dict(zip(names, out.splitlines()))


def elf_lines(text):
    """(architecture, line) for the lines of cuobjdump's output that describe machine code (not PTX)."""
    arch, elf = None, False
    for line in text.splitlines():
        if line.startswith("Fatbin"):
            elf = "elf" in line
        m = re.match(r"arch = (sm_\d+)", line)
        if m:
            arch = m.group(1)
        elif elf:
            yield arch, line


def read_resources(cuobjdump, library):
    """{(arch, mangled): {'regs': int, 'shared': int}} from --dump-resource-usage."""
    res, fn = {}, None
    for arch, line in elf_lines(run(cuobjdump, "--dump-resource-usage", library)):
        m = re.match(r"\s*Function (\S+):", line)
        if m:
            fn = m.group(1)
            continue
        m = re.match(r"\s*REG:(\d+) .*SHARED:(\d+)", line)
        if m and fn:
            res[(arch, fn)] = {"regs": int(m.group(1)), "shared": int(m.group(2))}
            fn = None
    return res


def read_bounds(cuobjdump, library):
    """{(arch, mangled): threads} from the EIATTR_MAX_THREADS attribute of each .nv.info.<kernel>."""
    bounds, section, want = {}, None, False
    for arch, line in elf_lines(run(cuobjdump, "-elf", library)):
        if line.startswith(".nv.info."):
            section = line[len(".nv.info."):].strip()
        elif line.startswith("."):
            section = None
        elif section and "EIATTR_MAX_THREADS" in line:
            want = True
        elif want and section and "Value:" in line:
            x, y, z = (int(v, 16) for v in line.split("Value:")[1].split()[:3])
            bounds[(arch, section)] = x * y * z
            want = False
    return bounds


def read_launches(path):
    """{base name: [(threads, dynamic shared, logged name)]}."""
    launches = collections.defaultdict(list)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 5:
                raise ValueError(f"{path}:{n}: expected 5 tab-separated fields, got {len(fields)}")
            name, bx, by, bz, shared = fields
            launches[base_name(name)].append((int(bx) * int(by) * int(bz), int(shared), name))
    return launches


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"check_kernel_resources: {' '.join(cmd)} failed: {e}", file=sys.stderr)
        sys.exit(2)


def registers_needed(regs, threads):
    per_warp = math.ceil(regs * 32 / REG_ALLOC_UNIT) * REG_ALLOC_UNIT
    return math.ceil(threads / 32) * per_warp, per_warp // 32


def check(resources, bounds, launches, names):
    problems, rows = [], []
    for (arch, mangled), r in sorted(resources.items()):
        base = base_name(names[mangled])
        where = f"{arch} {base} ({names[mangled]})"
        used = launches.get(base)
        if not used:
            problems.append(f"{where}: never launched by the emulated CUDA suite, so its launch configuration is unchecked")
            continue
        threads = max(t for t, _, _ in used)
        dyn = max(s for _, s, _ in used)
        bound = bounds.get((arch, mangled))
        need, per_thread = registers_needed(r["regs"], threads)
        rows.append((arch, base, r["regs"], r["shared"], bound, threads, dyn, need))
        if bound is None:
            problems.append(f"{where}: no __launch_bounds__ (largest block launched: {threads} threads)")
        elif threads > bound:
            problems.append(f"{where}: launched with {threads} threads, above its __launch_bounds__ of {bound}")
        elif threads != bound:
            problems.append(f"{where}: __launch_bounds__ {bound} differs from the largest block launched, {threads} threads")
        if threads > MAX_THREADS:
            problems.append(f"{where}: {threads} threads per block exceed {MAX_THREADS}")
        if need > REGS_PER_BLOCK:
            problems.append(f"{where}: {threads} threads x {r['regs']} registers (allocated as {per_thread} per thread) "
                            f"= {need} > {REGS_PER_BLOCK} registers per block: the launch fails with "
                            f"cudaErrorLaunchOutOfResources")
        if r["shared"] + dyn > SHARED_PER_BLOCK:
            problems.append(f"{where}: {r['shared']} static + {dyn} dynamic bytes of shared memory exceed {SHARED_PER_BLOCK}")
    return problems, rows


def emit(path, resources, names, arch, library):
    """The emulator's table: base name, registers, static shared bytes, for `arch` (written atomically)."""
    most = {}  # base name -> the most registers and shared bytes of its instantiations
    for (a, m), r in resources.items():
        if a == arch:
            regs, shared = most.get(base_name(names[m]), (0, 0))
            most[base_name(names[m])] = (max(regs, r["regs"]), max(shared, r["shared"]))
    rows = sorted((base, regs, shared) for base, (regs, shared) in most.items())
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"# kernel\tregisters\tstatic shared bytes (the most of its instantiations): {arch}, from {library}\n")
        for base, regs, shared in rows:
            f.write(f"{base}\t{regs}\t{shared}\n")
    os.replace(tmp, path)
    return 0 if rows else 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cuobjdump", required=True)
    ap.add_argument("--library", required=True, help="librenorm.a built with the CUDA backend")
    ap.add_argument("--launches", help="the emulated suite's launch log (RENORM_EMU_LAUNCH_LOG)")
    ap.add_argument("--emit", help="write the emulator's resource table here instead of checking")
    ap.add_argument("--arch", default="sm_90", help="with --emit: the architecture (default sm_90)")
    args = ap.parse_args()
    if args.emit:
        resources = read_resources(args.cuobjdump, args.library)
        return emit(args.emit, resources, demangle(sorted({m for _, m in resources})), args.arch, args.library)
    if not args.launches:
        print("check_kernel_resources: --launches or --emit is required", file=sys.stderr)
        return 2
    try:
        launches = read_launches(args.launches)
    except (OSError, ValueError) as e:
        print(f"check_kernel_resources: launch log: {e}", file=sys.stderr)
        return 2
    resources = read_resources(args.cuobjdump, args.library)
    bounds = read_bounds(args.cuobjdump, args.library)
    if not resources:
        print(f"check_kernel_resources: no device code found in {args.library}", file=sys.stderr)
        return 2
    names = demangle(sorted({m for _, m in resources}))
    problems, rows = check(resources, bounds, launches, names)
    print(f"{'arch':6} {'kernel':22} {'regs':>4} {'smem':>5} {'bounds':>6} {'block':>5} {'dyn':>5} {'regs/block':>10}")
    for arch, base, regs, smem, bound, threads, dyn, need in rows:
        print(f"{arch:6} {base:22} {regs:4} {smem:5} {str(bound):>6} {threads:5} {dyn:5} {need:10}")
    for p in problems:
        print("FAIL: " + p)
    print(f"{len(rows)} kernel builds checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
