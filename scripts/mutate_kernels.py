#!/usr/bin/env python3
"""Single-point mutants of the CUDA kernels, each run through the emulated CUDA suite.

Called by scripts/mutate-kernels.sh. Copies the tracked source tree to build/mutants/src, builds the
emulated test binary (renorm_tests_emu: the kernels' own source on the CUDA emulator), checks that the
unmutated suite passes, then for each mutant: applies one edit to one kernels/cuda file, rebuilds,
runs the [cuda] tests as CTest does (132 SMs with blocks in reverse, 8 SMs with threads reversed, blocks
in a seeded random order and the memory model's deferred visibility and interleaved blocks, 1 SM
forward; the happens-before check in all three: emu/memory.cpp), stopping at the first failed assertion,
and records whether the suite caught it (a failed assertion, an emulator trap, a crash or a time-out) or
the mutant survived. The survivors run again on an ASan + UBSan build of the same suite (an
out-of-bounds access that corrupts nothing the tests read is caught only there). Besides the barrier,
loop-bound, shuffle-mask and targeted mutants, the memory protocol's: each __threadfence removed, each
__ldcg made a plain load, the counter reset removed, the arrival atomic made a plain increment.

By default (--changed) only the mutants of the files that differ from --base (default HEAD~1, the
working tree included) run, and the report goes to build/mutants/changed-report.md; --all runs every
mutant and writes docs/mutation-report.md. --every-config runs each mutant in all three configurations
(not stopping at the first that catches it) and reports each.
"""
import argparse
import datetime
import os
import platform
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = ["kernels/cuda/renorm.cu", "kernels/cuda/renorm_stats.cuh", "kernels/cuda/renorm_coop.cu",
           "kernels/cuda/affine_apply.cuh", "kernels/cuda/arrival.cuh", "kernels/cuda/reduce.cu", "kernels/cuda/nn.cu",
           "kernels/cuda/elementwise.cu", "kernels/cuda/optim.cu", "kernels/cuda/residual.cu"]
# CTest's three configurations (tests/CMakeLists.txt): thread and block orders, the memory model, the tests.
CONFIGS = [(["--emu-sms", "132", "--emu-order", "forward", "--emu-blocks", "reverse", "--emu-memory", "check"],
            "[cuda]~[emu-once]"),
           (["--emu-sms", "8", "--emu-order", "reverse", "--emu-blocks", "random:7",
             "--emu-memory", "check,defer:7,interleave:7"], "[cuda]"),
           (["--emu-sms", "1", "--emu-order", "forward", "--emu-blocks", "forward", "--emu-memory", "check"],
            "[cuda]~[emu-once]")]
FOR_CONDITION = re.compile(r"for \([^;]*;\s*[^;]*?(\s<\s|\s>\s)[^;]*;")

# Targeted mutants: (file, exact text, replacement, kind, what it breaks).
TARGETED = [
    ("kernels/cuda/affine_apply.cuh", "load<VEC>(a + v, x0);", "load<VEC>(a + v + VEC, x0);",
     "float4 indexing", "apply: vector load one float4 ahead"),
    ("kernels/cuda/affine_apply.cuh", "store<VEC>(o + v, r);", "store<VEC>(o + v / 2, r);",
     "float4 indexing", "apply: vector store to the wrong float4"),
    ("kernels/cuda/affine_apply.cuh", "for (I v = g * VEC;", "for (I v = g;",
     "float4 indexing", "apply: a column's first offset not scaled by the vector width"),
    ("kernels/cuda/renorm_stats.cuh", "const dim3 kStatsBlock(kLanes, kRowLanes);", "const dim3 kStatsBlock(kLanes, kRowLanes / 2);",
     "block size", "statistics blocks with half the row lanes the kernels stride by"),
    ("kernels/cuda/renorm_stats.cuh", "kLanes = 32, kRowLanes = 8,", "kLanes = 32, kRowLanes = 4,",
     "block size", "statistics blocks of 32x4 (grid, block and strides change together)"),
    ("kernels/cuda/renorm.cu", "unsigned(p.per_n))) return;\n  const Moments g", "unsigned(p.per_n) - 1)) return;\n  const Moments g",
     "last block", "forward: a group merged by its second-to-last block (before every chunk is in)"),
    ("kernels/cuda/renorm.cu", "unsigned(p.per_n))) return;\n  const Sums g", "unsigned(p.per_n) - 1)) return;\n  const Sums g",
     "last block", "backward: a group merged by its second-to-last block"),
    ("kernels/cuda/renorm_coop.cu", "return blockIdx.x % p.per_n == 0;", "return blockIdx.x == 0;",
     "last block", "cooperative: only the first group's block finishes (the others' coefficients never written)"),
    ("kernels/cuda/renorm_coop.cu", "for (int j = 0; j < kHold; ++j) v[j] = j < rows ?", "for (int j = 0; j < kHold; ++j) v[j] = j + 1 < rows ?",
     "loop bound", "cooperative: a thread's last held row read as zero"),
    ("kernels/cuda/renorm_coop.cu", "const int64_t least = (s.rows + kRowLanes * kHold - 1) / (kRowLanes * kHold);",
     "const int64_t least = (s.rows + 2 * kRowLanes * kHold - 1) / (2 * kRowLanes * kHold);",
     "block size", "cooperative plan: chunks of twice the rows a thread holds"),
    ("kernels/cuda/reduce.cu", "launch<sum_kernel>(g, kThreads,", "launch<sum_kernel>(g, kThreads / 2,",
     "block size", "sum with half the threads block_sum expects"),
    ("kernels/cuda/reduce.cu", "if (!arrive_last(counter, gridDim.x)) return;", "if (!arrive_last(counter, gridDim.x - 1)) return;",
     "last block", "sum: the partials summed before the last block's is in"),
    ("kernels/cuda/nn.cu", "dim3(kBiasLanes, kBiasRowLanes),", "dim3(kBiasLanes, kBiasRowLanes / 2),",
     "block size", "epilogue_backward_kernel (the bias gradient) with half the row lanes it strides by"),
    ("kernels/cuda/launch.cuh", "constexpr int kThreads = 256;", "constexpr int kThreads = 128;",
     "block size", "every grid-stride kernel at 128 threads (launch and bounds change together)"),
    ("kernels/cuda/conv.cu", "plain ? CUDNN_FMA_MATH", "t == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH",
     "math mode", "convolutions: TF32 asked for, plain float32 math set (CUDNN_FMA_MATH)"),
    ("kernels/cuda/conv.cu", "int(cs.math)};", "int(MatMath::Fp32)};",
     "math mode", "convolutions: a TF32 plan and a float32 plan of one shape share the cache's key"),
    ("kernels/cuda/gemm.cu", "math == MatMath::Tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH", "CUBLAS_DEFAULT_MATH",
     "math mode", "GEMM: TF32 asked for, plain float32 math set"),
    ("kernels/cuda/conv.cu", "if (usable(perf[i]) && want(deterministic(perf[i]), on_tensor_cores(perf[i])))",
     "if (usable(perf[i]) && want(deterministic(perf[i]), false))",
     "math mode", "convolutions: TF32 asked for, the first deterministic algorithm taken whatever its math type"),
    ("kernels/cuda/conv.cu", "tf32 && tensor_op(chosen.mathType) ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH",
     "tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH",
     "math mode", "convolutions: a declined direction's descriptor left in tensor-op math (the plan misreports it)"),
    ("runtime/cuda_context.cpp", "    if (c.counters) c.retired.push_back(c.counters);",
     "    if (c.counters) device_release(Device::CUDA, c.counters, c.counters_n * sizeof(unsigned));",
     "last block", "arrival counters: an outgrown block released to the caching allocator (a graph keeps it)"),
    ("kernels/cuda/arrival.cuh", "    if (last) atomicExch(counter, 0u);\n", "",
     "memory protocol", "the counter reset (atomicExch) removed"),
    ("kernels/cuda/arrival.cuh", "last = atomicAdd(counter, 1u) == expected - 1;", "last = (*counter)++ == expected - 1;",
     "memory protocol", "the arrival atomic made a plain increment"),
]


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def generate(src):
    """[(id, file, line, kind, description, new text)] for every mutant."""
    mutants = []
    for rel in KERNELS:
        text = open(os.path.join(src, rel)).read()
        for m in re.finditer(r"[ \t]*(__syncthreads|grid_sync)\(\);\n", text):
            mutants.append((rel, line_of(text, m.start()), f"remove {m.group(1)}", "barrier removed",
                            text[:m.start()] + text[m.end():]))
        for m in FOR_CONDITION.finditer(text):
            op = m.group(1)
            a, b = m.start(1), m.end(1)
            new_op, what = (" <= ", "upper bound + 1 (< becomes <=)") if op.strip() == "<" else (" > 1 + ", "lower bound + 1")
            snippet = text[m.start():m.end()].strip()
            mutants.append((rel, line_of(text, a), "loop bound", f"{what}: `{snippet}`",
                            text[:a] + new_op + text[b:]))
        for m in re.finditer(r"(__shfl_\w+_sync\()0xffffffffu", text):
            mutants.append((rel, line_of(text, m.start()), "shuffle mask", "mask halved to 0x0000ffff",
                            text[:m.start()] + m.group(1) + "0x0000ffffu" + text[m.end():]))
        for m in re.finditer(r"[ \t]*__threadfence\(\);\n", text):
            mutants.append((rel, line_of(text, m.start()), "memory protocol", "remove __threadfence",
                            text[:m.start()] + text[m.end():]))
        for m in re.finditer(r"__ldcg\(", text):  # __ldcg(expr) -> *(expr): a plain load
            snippet = text[m.start():text.find(")", m.end()) + 1]
            mutants.append((rel, line_of(text, m.start()), "memory protocol", f"plain load for `{snippet}`",
                            text[:m.start()] + "*(" + text[m.end():]))
    for rel, old, new, kind, what in TARGETED:
        text = open(os.path.join(src, rel)).read()
        pos = text.find(old)
        if pos < 0:
            sys.exit(f"mutate_kernels: targeted mutant text not found in {rel}: {old}")
        mutants.append((rel, line_of(text, pos), kind, what, text.replace(old, new, 1)))
    return [(f"M{i + 1:02d}",) + m for i, m in enumerate(mutants)]


def sh(cmd, cwd=None, timeout=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def copy_tree(src):
    """Mirrors the tracked tree into src: removes files the tree no longer has, rewrites only files whose
    bytes differ (a fresh mtime makes the build recompile them; an unchanged file keeps its object)."""
    files = sh(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT).stdout.split()
    keep = set(files)
    for d, _, names in os.walk(src):  # files the tree no longer has would still be globbed by CMake
        for n in names:
            rel = os.path.relpath(os.path.join(d, n), src)
            if rel not in keep:
                os.remove(os.path.join(d, n))
    for f in files:
        dst = os.path.join(src, f)
        data = open(os.path.join(ROOT, f), "rb").read()
        if os.path.exists(dst) and open(dst, "rb").read() == data:
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as out:
            out.write(data)


def sanitizer_report(lines):
    """'heap-buffer-overflow (WRITE of size 4) in sgd_kernel' from an ASan report, or None."""
    for i, line in enumerate(lines):
        m = re.search(r"ERROR: AddressSanitizer: ([\w-]+)", line)
        if not m:
            continue
        access = next((l.split(" at ")[0].strip() for l in lines[i + 1:i + 3] if " of size " in l), "")
        frame = next((l for l in lines[i + 1:i + 12] if l.strip().startswith("#0 ")), "")
        fn = re.search(r" in (.+?)(\(| /|$)", frame)
        where = fn.group(1).split("::")[-1] if fn else "?"
        return f"AddressSanitizer: {m.group(1)} ({access}) in {where}"
    ub = next((l.strip() for l in lines if "runtime error:" in l), None)
    return f"UBSan: {ub}" if ub else None


def first_failure(output):
    """'test case / section: message' of the first failed assertion in Catch2's console output."""
    lines = output.splitlines()
    sanitizer = sanitizer_report(lines)
    if sanitizer:
        return sanitizer
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("FAILED:"):
            continue
        rules = [k for k in range(i) if lines[k].startswith("-----")]
        parts = []
        if len(rules) >= 2:
            parts = [lines[k].strip() for k in range(rules[-2] + 1, rules[-1])]
        for j in range(i + 1, min(i + 14, len(lines) - 1)):
            if lines[j].strip().endswith("with message:"):
                parts.append(lines[j + 1].strip())
                break
        return " / ".join(parts)
    tail = [l for l in lines if l.strip()]
    return tail[-1].strip() if tail else "no output"


def run_config(exe, cfg, spec, timeout):
    """None when the configuration passes, else a short description of its first failure."""
    try:
        r = sh([exe, spec, "--abort"] + cfg, timeout=timeout)  # a hang is a failure
    except subprocess.TimeoutExpired:
        return f"{cfg[1]} SMs {cfg[3]}: hang (killed after {timeout} s)"
    if r.returncode == 0:
        return None
    kind = "crash (signal %d)" % -r.returncode if r.returncode < 0 else first_failure(r.stdout + r.stderr)
    return f"{cfg[1]} SMs {cfg[3]}: {kind}"


def run_suite(exe, timeout, every=False):
    """None when every configuration passes, else the first failure (every: each configuration's, joined)."""
    failures = []
    for cfg, spec in CONFIGS:
        failure = run_config(exe, cfg, spec, timeout)
        if failure and not every:
            return failure
        failures.append(failure or f"{cfg[1]} SMs {cfg[3]}: PASSED")
    return " ; ".join(failures) if any(not f.endswith("PASSED") for f in failures) else None


def prepare(src, bld, sanitize, baseline=True):
    """Configures and builds the emulated suite in bld, then (baseline) runs it unmutated; returns (build
    command, test binary)."""
    cfg = ["cmake", "-S", src, "-B", bld, "-DRENORM_CUDA=OFF", "-DRENORM_BUILD_BENCHMARKS=OFF",
           "-DCMAKE_BUILD_TYPE=" + ("Debug" if sanitize else "Release"),
           "-DRENORM_SANITIZE=" + ("ON" if sanitize else "OFF")]
    build = ["cmake", "--build", bld, "--target", "renorm_tests_emu", "-j", str(os.cpu_count() or 2)]
    for step in (cfg, build):
        r = sh(step)
        if r.returncode:
            sys.exit(f"mutate_kernels: {' '.join(step)} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    exe = os.path.join(bld, "tests", "renorm_tests_emu")
    failure = run_suite(exe, suite_timeout(sanitize)) if baseline else None
    if failure:
        sys.exit(f"mutate_kernels: the unmutated suite fails ({failure}); fix that first")
    return build, exe


def suite_timeout(sanitize):
    """Seconds one configuration of the suite may take before it counts as a hang: the release suite takes
    2 to 5 minutes with the memory model (2026-12-07), the ASan one longer."""
    return 1800 if sanitize else 900


def run_mutants(src, build, exe, mutants, label, sanitize=False, every=False):
    """{id: (result, detail)} for each mutant, the source restored after each."""
    out = {}
    for mid, rel, line, kind, what, text in mutants:
        path = os.path.join(src, rel)
        original = open(path).read()
        try:
            open(path, "w").write(text)
            r = sh(build)
            outcome = (label, "does not compile") if r.returncode else None
            if not outcome:
                failure = run_suite(exe, suite_timeout(sanitize), every)
                outcome = (label, failure) if failure else ("SURVIVED", "")
        finally:
            open(path, "w").write(original)
        out[mid] = outcome
        print(f"{mid} {rel}:{line} [{kind}] {what} -> {outcome[0]} {outcome[1]}", flush=True)
    sh(build)  # leave the build matching the source
    return out


def main():
    ap = argparse.ArgumentParser(description="mutation testing of the CUDA kernels through the emulator")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "mutants"))
    ap.add_argument("--report", default=os.path.join(ROOT, "docs", "mutation-report.md"))
    ap.add_argument("--no-sanitize", action="store_true",
                    help="skip the second pass, which reruns the survivors on an ASan + UBSan build")
    ap.add_argument("--only", help="run only mutants whose id is in this comma-separated list")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--changed", action="store_true", help="(the default) only the mutants of files changed since --base")
    which.add_argument("--all", action="store_true", help="every mutant; the report goes to docs/mutation-report.md")
    ap.add_argument("--base", default="HEAD~1", help="with --changed: the revision to compare with (default HEAD~1)")
    ap.add_argument("--every-config", action="store_true", help="run each mutant in every configuration")
    ap.add_argument("--skip-baseline", action="store_true",
                    help="do not run the unmutated suite first (about 10 minutes): when CTest just passed on this tree")
    args = ap.parse_args()
    if not args.all and args.report == os.path.join(ROOT, "docs", "mutation-report.md"):
        args.report = os.path.join(args.build, "changed-report.md")  # a partial pass never replaces the full report
    # A terminated run still restores the mutated file (the finally above) before it exits.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    src = os.path.join(args.build, "src")
    copy_tree(src)
    mutants = generate(src)
    if args.only:
        keep = set(args.only.split(","))
        mutants = [m for m in mutants if m[0] in keep]
    elif not args.all:
        changed = set(sh(["git", "diff", "--name-only", args.base], cwd=ROOT).stdout.split())
        mutants = [m for m in mutants if m[1] in changed]
        print(f"--changed: {len(mutants)} mutants of the files changed since {args.base} "
              f"({', '.join(sorted({m[1] for m in mutants})) or 'none'}); --all runs every one", flush=True)
    start = time.time()
    if not mutants:
        print("no mutants to run")
        return 0
    build, exe = prepare(src, os.path.join(args.build, "release"), sanitize=False, baseline=not args.skip_baseline)
    outcomes = run_mutants(src, build, exe, mutants, "caught", every=args.every_config)
    survivors = [m for m in mutants if outcomes[m[0]][0] == "SURVIVED"]
    if survivors and not args.no_sanitize:
        print(f"second pass: {len(survivors)} survivors on an AddressSanitizer + UBSan build", flush=True)
        build, exe = prepare(src, os.path.join(args.build, "asan"), sanitize=True)
        outcomes.update(run_mutants(src, build, exe, survivors, "caught (ASan)", sanitize=True))
    results = [m[:5] + outcomes[m[0]] for m in mutants]
    write_report(args, results, time.time() - start)
    survived = sum(1 for r in results if r[5] == "SURVIVED")
    print(f"{len(results)} mutants, {len(results) - survived} caught, {survived} survived")
    return 0


def write_report(args, results, seconds):
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    out = [f"# Kernel mutation report",
           "",
           f"Generated by `scripts/mutate-kernels.sh` on "
           f"{datetime.date.today().isoformat()} ({cpu}), {seconds / 60:.1f} min. Each mutant is one edit of "
           "one CUDA kernel source; the emulated `[cuda]` suite (release build) ran it as CTest does — 132 SMs "
           "with blocks in reverse order, 8 SMs with threads reversed, blocks in a seeded random order "
           "(random:7), deferred visibility and interleaved blocks, 1 SM forward; the happens-before check "
           "in all three — stopping at the first configuration that failed "
           f"{'(here: every configuration, each reported)' if args.every_config else ''}; the survivors of "
           "that pass ran again on an AddressSanitizer + UBSan build (\"caught (ASan)\"). "
           "Survivors are discussed in docs/design.md (\"What the emulator proves\").",
           "",
           "| id | where | kind | mutation | result | first failure |",
           "|---|---|---|---|---|---|"]
    for mid, rel, line, kind, what, result, detail in results:
        cells = [mid, f"{rel}:{line}", kind, what, result, detail[:160]]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    survived = sum(1 for r in results if r[5] == "SURVIVED")
    out += ["", f"{len(results)} mutants: {len(results) - survived} caught, {survived} survived."]
    tmp = args.report + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, args.report)


if __name__ == "__main__":
    sys.exit(main())
