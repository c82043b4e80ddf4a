#!/usr/bin/env python3
"""scripts/dram_calibration.py on files it writes itself: an Nsight Compute raw CSV (two launches of one
kernel, units in Kbyte and byte, a kernel the emulator lacks, ncu's unquoted log lines) and a
renorm-emu-traffic JSON; checks the per-launch medians and ratios it prints, and that a malformed CSV is
one line naming the file with exit status 2."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "dram_calibration.py")

CSV = '''==PROF== Connected to process 1
"ID","Kernel Name","dram__bytes_read.sum","dram__bytes_write.sum"
"","","Kbyte","byte"
"0","void renorm::kernels::cuda::(anonymous namespace)::forward_stats<true>(const float *, int)","100","2000"
"1","void renorm::kernels::cuda::(anonymous namespace)::forward_stats<true>(const float *, int)","300","2000"
"2","void renorm::kernels::cuda::(anonymous namespace)::affine_apply<1, 4, unsigned int, renorm::kernels::cuda::(anonymous namespace)::StoredCoeffs>(const float *)","16","16,000"
"3","void other_kernel(int)","1","1"
'''
EMU = {"shape": [8, 4, 4, 32], "microbatch": 4, "kernels": [
    {"name": "forward_stats<true>", "launches": 2, "bytes_distinct": 408000},
    {"name": "affine_apply<1, 4, unsigned int, StoredCoeffs>", "launches": 1, "bytes_distinct": 32000},
    {"name": "moments_only", "launches": 1, "bytes_distinct": 10}]}


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)


def main():
    with tempfile.TemporaryDirectory() as d:
        ncu, emu, bad = (os.path.join(d, n) for n in ("ncu.csv", "emu.json", "bad.csv"))
        open(ncu, "w").write(CSV)
        json.dump(EMU, open(emu, "w"))
        open(bad, "w").write('"ID","Kernel Name"\n"",""\n"0","k"\n')
        r = run("--ncu", ncu, "--emu", emu)
        assert r.returncode == 0, r.stderr
        # forward_stats: median of 102000 and 302000 = 202000 against 204000 per launch
        assert "| forward_stats<true> | 202000 | 204000 | 0.990 |" in r.stdout, r.stdout
        assert "| affine_apply<1, 4, unsigned int, StoredCoeffs> | 32000 | 32000 | 1.000 |" in r.stdout, r.stdout
        assert "not profiled on the GPU: moments_only" in r.stdout, r.stdout
        assert "other_kernel" not in r.stdout, r.stdout
        r = run("--ncu", bad, "--emu", emu)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "bad.csv: missing column" in r.stderr, (r.returncode, r.stderr)
    print("dram_calibration: ok")


if __name__ == "__main__":
    main()
