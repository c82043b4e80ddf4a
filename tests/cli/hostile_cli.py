#!/usr/bin/env python3
"""renorm-train from the outside, as a hostile or unlucky user meets it (issue 12; docs/robustness.md).

Each case runs the real binary and checks its exit status (apps/exit_status.h) and that stderr is one
clear line naming what is wrong. Cases: bad flags (CLI11's errors too), a 64-bit --epochs, a crafted
checkpoint, SIGINT and SIGTERM mid-run (checkpoint, status 4, then --resume finishes), a run forced to
diverge (status 3, no non-finite checkpoint, the real last good one named), and durable writes (fsync of
the file before its rename, of the folder after; needs strace).

  hostile_cli.py --exe build/release/apps/renorm-train --work /tmp/x --case NAME   (or --case all)
"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

OK, BAD_INPUT, DIVERGED, INTERRUPTED = 0, 2, 3, 4  # apps/exit_status.h


def make_cifar(folder, per_file=40, test=20):
    """Random CIFAR-10-format files (label byte + 3072 pixels per record)."""
    rng = random.Random(7)
    os.makedirs(folder, exist_ok=True)
    def records(n):
        return b"".join(bytes([i % 10]) + bytes(rng.getrandbits(8) for _ in range(3072)) for i in range(n))
    for k in range(1, 6):
        with open(os.path.join(folder, "data_batch_%d.bin" % k), "wb") as f:
            f.write(records(per_file))
    with open(os.path.join(folder, "test_batch.bin"), "wb") as f:
        f.write(records(test))


class Cli:
    def __init__(self, exe, work):
        self.exe, self.work = exe, work
        self.data = os.path.join(work, "data")
        if not os.path.exists(os.path.join(self.data, "test_batch.bin")):
            make_cifar(self.data)

    def args(self, out, *extra):
        return [self.exe, "--data-dir", self.data, "--batch", "16", "--microbatch", "4", "--device", "cpu",
                "--threads", "1", "--no-progress", "--out", os.path.join(self.work, out)] + list(extra)

    def run(self, argv, timeout=300, env=None):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **env) if env else None)
        return p.returncode, p.stdout, p.stderr.strip()


def expect(rc, err, status, *needles):
    assert rc == status, "exit status %d, expected %d; stderr: %s" % (rc, status, err)
    assert "\n" not in err, "stderr is more than one line: %r" % err
    for n in needles:
        assert n in err, "stderr lacks %r: %s" % (n, err)
    print("ok (status %d): %s" % (rc, err))


def safetensors(path):
    """name -> (shape, list of floats), checked the way renorm checks it."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = struct.unpack("<%df" % ((b - a) // 4), raw[8 + n + a:8 + n + b])
    return header.get("__metadata__", {}), out


def finite(path):
    _, tensors = safetensors(path)
    return all(v == v and abs(v) != float("inf") for t in tensors.values() for v in t)


def case_bad_flags(cli):
    for extra, needle in [(["--no-such-flag"], "--no-such-flag"), (["--batch", "abc"], "--batch"),
                          (["--steps", "10", "--batch"], "--batch"), (["--norm", "gn"], "--norm")]:
        rc, _, err = cli.run(cli.args("bad_flags", "--steps", "10", *extra))
        expect(rc, err, BAD_INPUT, needle)
    rc, out, _ = cli.run([cli.exe, "--help"])
    assert rc == OK and "--resume" in out, "--help: status %d" % rc


def case_bad_env(cli):
    """The CPU switches in the environment: a bad value is one line naming the variable, not ignored."""
    for var, value in [("RENORM_CPU_ISA", "sse9"), ("RENORM_CPU_CONV", "fast")]:
        rc, _, err = cli.run(cli.args("bad_env", "--steps", "2"), env={var: value})
        expect(rc, err, BAD_INPUT, var, "'%s'" % value)
    rc, _, err = cli.run(cli.args("bad_env", "--steps", "2"), env={"RENORM_CPU_ISA": "baseline",
                                                                    "RENORM_CPU_CONV": "im2col"})
    assert rc == OK, "RENORM_CPU_ISA=baseline RENORM_CPU_CONV=im2col: status %d: %s" % (rc, err)


def case_epochs_overflow(cli):
    rc, _, err = cli.run(cli.args("epochs_overflow", "--epochs", str(2**63 - 1)))
    expect(rc, err, BAD_INPUT, "--epochs")


def case_crafted_checkpoint(cli):
    run = os.path.join(cli.work, "crafted_checkpoint")
    rc, _, err = cli.run(cli.args("crafted_checkpoint", "--steps", "8", "--eval-every", "4", "--stop-after", "4"))
    assert rc == OK, err
    ck = os.path.join(run, "checkpoint.safetensors")
    with open(ck, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    del header["__metadata__"]["step"]  # formerly std::out_of_range: exit 134
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(ck, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    rc, _, err = cli.run([cli.exe, "--resume", run, "--no-progress"])
    expect(rc, err, BAD_INPUT, "checkpoint.safetensors", "'step'")


def interrupt(cli, sig, name):
    run = os.path.join(cli.work, name)
    p = subprocess.Popen(cli.args(name, "--steps", "40", "--eval-every", "20"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(run, "config.json")) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # inside the training loop
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    expect(p.returncode, err.strip(), INTERRUPTED, "stopped by " + name.upper(), "--resume " + run)
    meta, _ = safetensors(os.path.join(run, "checkpoint.safetensors"))
    assert 0 < int(meta["step"]) < 40, meta
    assert finite(os.path.join(run, "checkpoint.safetensors"))
    rc, out, err = cli.run([cli.exe, "--resume", run, "--no-progress"])
    assert rc == OK and "done, 40 steps" in out, "resume: status %d: %s %s" % (rc, out, err)
    print("ok: resumed from step %s to the end" % meta["step"])


def case_sigterm(cli):
    interrupt(cli, signal.SIGTERM, "sigterm")


def case_sigint(cli):
    interrupt(cli, signal.SIGINT, "sigint")


def case_diverge(cli):
    # --lr 1e4: the running std overflows by the first checkpoint (step 4): named, nothing written.
    # --lr 5: a checkpoint at step 2, then the validation loss is NaN at step 4: step 2's is the last good one.
    for lr, every, needles in [("1e4", "4", ["holds Inf", "checkpoint not written", "last good checkpoint: none"]),
                               ("5", "2", ["validation loss became nan at step 4", "(step 2)"])]:
        name = "diverge-lr" + lr
        run = os.path.join(cli.work, name)
        shutil.rmtree(run, ignore_errors=True)
        rc, _, err = cli.run(cli.args(name, "--steps", "40", "--eval-every", every, "--lr", lr))
        expect(rc, err, DIVERGED, "last good checkpoint: ", *needles)
        ck = os.path.join(run, "checkpoint.safetensors")
        if os.path.exists(ck):
            assert finite(ck), "a non-finite checkpoint was written"
            assert ck in err, "the checkpoint on disk is not the one named"
        else:
            assert "none written" in err
        assert "nan" in open(os.path.join(run, "metrics.csv")).read() or "holds Inf" in err


def case_durable_writes(cli):
    strace = shutil.which("strace")
    if not strace:
        print("SKIPPED: strace not installed (scripts/install-deps.sh installs it)")
        return
    log = os.path.join(cli.work, "strace.log")
    argv = [strace, "-f", "-qq", "-e", "trace=openat,fsync,rename", "-o", log] + cli.args("durable_writes", "--steps", "2")
    rc, _, err = cli.run(argv)
    assert rc == OK, err
    calls = [line.split(None, 1)[1] for line in open(log) if " " in line]
    for name in ["config.json", "metrics.csv", "checkpoint.safetensors", "model.safetensors"]:
        path = os.path.join(cli.work, "durable_writes", name)
        opened = [i for i, c in enumerate(calls) if c.startswith("openat(") and '"%s.tmp"' % path in c]
        assert opened, "%s was not written through %s.tmp" % (name, path)
        i = opened[-1]
        fd = calls[i].rsplit("= ", 1)[1].strip()
        renamed = next(j for j in range(i, len(calls)) if calls[j].startswith('rename("%s.tmp"' % path))
        assert any(calls[j].startswith("fsync(%s)" % fd) for j in range(i, renamed)), "%s: no fsync before rename" % name
        folder = [j for j in range(renamed, len(calls)) if calls[j].startswith("openat(") and "O_DIRECTORY" in calls[j]]
        assert folder, "%s: its folder is not opened after the rename" % name
        dfd = calls[folder[0]].rsplit("= ", 1)[1].strip()
        assert any(calls[j].startswith("fsync(%s)" % dfd) for j in range(folder[0], len(calls))), "%s: folder not synced" % name
        print("ok: %s: write, fsync, rename, fsync of the folder" % name)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES) + ["all"])
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    cli = Cli(a.exe, a.work)
    for name in (sorted(CASES) if a.case == "all" else [a.case]):
        shutil.rmtree(os.path.join(a.work, name), ignore_errors=True)
        CASES[name](cli)
    return 0


if __name__ == "__main__":
    sys.exit(main())
