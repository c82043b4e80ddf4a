#!/usr/bin/env python3
"""renorm-train from the outside, as a hostile or unlucky user meets it (issue 12; docs/robustness.md).

Each case runs the real binary and checks its exit status (apps/exit_status.h) and that stderr is one
clear line naming what is wrong. Cases: bad flags (CLI11's errors too), a 64-bit --epochs, a crafted
checkpoint, SIGINT and SIGTERM mid-run (checkpoint, status 4, then --resume finishes), a run forced to
diverge (status 3, no non-finite checkpoint, the real last good one named), durable writes (fsync of
the file before its rename, of the folder after; needs strace); and (issue 22) one owner per run folder
(concurrent trainers, a finished run, a stale lock), one Ctrl-C delivered several times (under timeout,
to the process group), --resume from another directory with moved data, and a changed flag with --resume.

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
        self.exe, self.work = os.path.abspath(exe), work
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
                          (["--steps", "10", "--batch"], "--batch"), (["--norm", "gn"], "--norm"),
                          (["--model", "vgg"], "--model"),
                          # numbers that are not finite or out of range: the flag's fault, not a diverged run
                          (["--lr", "inf"], "--lr must be a finite number"), (["--eps", "nan"], "--eps must be a finite"),
                          (["--alpha", "2"], "--alpha must be in (0, 1]"), (["--rmax", "inf"], "--rmax must be a finite"),
                          (["--momentum", "nan"], "--momentum"), (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
                          (["--momentum", "1.5"], "--momentum must be in [0, 1), got 1.5"),
                          (["--optimizer", "adam", "--momentum", "-0.1"], "beta1 (--momentum) must be in [0, 1)")]:
        rc, _, err = cli.run(cli.args("bad_flags", "--steps", "10", *extra))
        expect(rc, err, BAD_INPUT, needle)
    rc, out, _ = cli.run([cli.exe, "--help"])
    assert rc == OK and "--resume" in out, "--help: status %d" % rc


def case_bad_env(cli):
    """The CPU switches in the environment: a bad value is one line naming the variable, not ignored."""
    for var, value in [("RENORM_CPU_ISA", "sse9"), ("RENORM_CPU_CONV", "fast")]:
        rc, _, err = cli.run(cli.args("bad_env/" + var, "--steps", "2"), env={var: value})
        expect(rc, err, BAD_INPUT, var, "'%s'" % value)
    rc, _, err = cli.run(cli.args("bad_env/good", "--steps", "2"), env={"RENORM_CPU_ISA": "baseline",
                                                                    "RENORM_CPU_CONV": "im2col"})
    assert rc == OK, "RENORM_CPU_ISA=baseline RENORM_CPU_CONV=im2col: status %d: %s" % (rc, err)


def case_precision(cli):
    """--precision: a bad value is one line naming the flag; tf32 trains and is recorded; bf16 trains, is recorded in config.json, and says
    once that it is slower where renorm runs without AVX512_BF16 or AMX (RENORM_CPU_ISA=avx2 holds it there)."""
    rc, _, err = cli.run(cli.args("precision/bad", "--steps", "2", "--precision", "fp16"))
    expect(rc, err, BAD_INPUT, "--precision", "'fp16'")
    rc, out, err = cli.run(cli.args("precision/tf32", "--steps", "2", "--precision", "tf32"))
    assert rc == OK, "--precision tf32: status %d: %s" % (rc, err)
    assert "precision tf32" in out, out
    assert json.load(open(os.path.join(cli.work, "precision/tf32/config.json")))["precision"] == "tf32"
    rc, out, err = cli.run(cli.args("precision/bf16", "--steps", "2", "--precision", "bf16"), env={"RENORM_CPU_ISA": "avx2"})
    if rc == BAD_INPUT and "RENORM_CPU_ISA" in err:
        print("SKIPPED: this CPU has no AVX2 to hold renorm to")
        return
    assert rc == OK, "--precision bf16: status %d: %s" % (rc, err)
    assert out.count("slower here than --precision fp32") == 1, out
    assert json.load(open(os.path.join(cli.work, "precision/bf16/config.json")))["precision"] == "bf16"
    print("ok: --precision fp16 refused by name; bf16 trains, recorded, and the note said once; tf32 trains, recorded")


def case_cuda_graph(cli):
    """--cuda-graph: a bad value is one line naming the flag; on and off both train (the CPU ignores it) and are
    recorded; a resumed run may switch it, since it changes how the step runs, not what it computes."""
    rc, _, err = cli.run(cli.args("cuda_graph/bad", "--steps", "2", "--cuda-graph", "maybe"))
    expect(rc, err, BAD_INPUT, "--cuda-graph", "'maybe'")
    run = os.path.join(cli.work, "cuda_graph/off")
    rc, _, err = cli.run(cli.args("cuda_graph/off", "--steps", "8", "--eval-every", "4", "--stop-after", "4",
                                  "--cuda-graph", "off"))
    assert rc == OK, "--cuda-graph off: status %d: %s" % (rc, err)
    assert json.load(open(os.path.join(run, "config.json")))["cuda-graph"] == "off"
    rc, out, err = cli.run([cli.exe, "--resume", run, "--no-progress", "--cuda-graph", "on"])
    assert rc == OK and "done, 8 steps" in out, (rc, out, err)
    print("ok: --cuda-graph maybe refused by name; off trains and is recorded; a resume may turn it on")


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


def wait_for(path, p, seconds=120):
    deadline = time.time() + seconds
    while not os.path.exists(path):
        assert p.poll() is None, "the run ended before %s appeared: %s" % (path, p.communicate())
        assert time.time() < deadline, "%s did not appear" % path
        time.sleep(0.05)


def files_of(run):
    return {n: open(os.path.join(run, n), "rb").read() for n in sorted(os.listdir(run)) if n != ".renorm.lock"}


def case_concurrent(cli):
    """Two trainers on one --out: the second is refused naming the first's pid; the first's files intact."""
    run = os.path.join(cli.work, "concurrent")
    first = subprocess.Popen(cli.args("concurrent", "--steps", "60", "--eval-every", "20", "--seed", "1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(os.path.join(run, "config.json"), first)
    rc, _, err = cli.run(cli.args("concurrent", "--steps", "5", "--seed", "2"))
    expect(rc, err, BAD_INPUT, "in use by another run", "pid %d" % first.pid)
    out, err = first.communicate(timeout=300)
    assert first.returncode == OK and "done, 60 steps" in out, (first.returncode, out, err)
    config = json.load(open(os.path.join(run, "config.json")))
    rows = open(os.path.join(run, "metrics.csv")).read().splitlines()
    assert config["steps"] == 60 and config["seed"] == 1 and rows[-1].startswith("60,"), (config, rows[-1])
    assert finite(os.path.join(run, "model.safetensors"))
    print("ok: the first run's config.json, metrics.csv (to step 60) and model are its own")


def case_finished_run(cli):
    """--out naming a finished run: refused, nothing touched; --overwrite replaces it."""
    run = os.path.join(cli.work, "finished_run")
    rc, _, err = cli.run(cli.args("finished_run", "--steps", "8", "--eval-every", "4"))
    assert rc == OK, err
    before = files_of(run)
    rc, _, err = cli.run(cli.args("finished_run", "--steps", "5"))
    expect(rc, err, BAD_INPUT, "holds a run already", "--resume", "--overwrite")
    assert files_of(run) == before, "a refused run changed the folder"
    rc, out, err = cli.run(cli.args("finished_run", "--steps", "5", "--overwrite"))
    assert rc == OK and "done, 5 steps" in out, (rc, out, err)
    assert json.load(open(os.path.join(run, "config.json")))["steps"] == 5
    print("ok: a finished run is refused untouched; --overwrite replaces it")


def case_stale_lock(cli):
    """A run killed with SIGKILL holds no lock: the folder's next run (its resume) goes ahead."""
    run = os.path.join(cli.work, "stale_lock")
    p = subprocess.Popen(cli.args("stale_lock", "--steps", "100000", "--eval-every", "4"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wait_for(os.path.join(run, "checkpoint.safetensors"), p)
    p.kill()
    p.communicate()
    assert "pid %d" % p.pid in open(os.path.join(run, ".renorm.lock")).read()  # what it left behind
    rc, out, err = cli.run([cli.exe, "--resume", run, "--no-progress", "--stop-after", "8"])
    assert rc == OK, "resume after SIGKILL: status %d: %s" % (rc, err)
    print("ok: the killed run's lock file did not block the next run")


def signalled(argv, deliver, check_run):
    """Starts argv in a session of its own, waits until it trains, then deliver(pid) sends the signals."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(os.path.join(check_run, "metrics.csv"), p)
    time.sleep(0.5)  # inside the training loop
    deliver(p.pid)
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err.strip()


def expect_one_stop(cli, name, rc, err):
    run = os.path.join(cli.work, name)
    expect(rc, err, INTERRUPTED, "stopped by SIGINT after step", "--resume " + run)
    meta, _ = safetensors(os.path.join(run, "checkpoint.safetensors"))
    assert 0 < int(meta["step"]) < 100000 and err.split("after step ")[1].startswith(meta["step"] + ";"), (meta, err)
    print("ok: one stop, checkpoint of step %s" % meta["step"])


def case_sigint_timeout(cli):
    """Ctrl-C under timeout: the group's SIGINT and timeout's forwarded copy are one request (status 4)."""
    argv = ["timeout", "-s", "INT", "600"] + cli.args("sigint_timeout", "--steps", "100000", "--eval-every", "1000")
    rc, _, err = signalled(argv, lambda pid: os.killpg(pid, signal.SIGINT), os.path.join(cli.work, "sigint_timeout"))
    expect_one_stop(cli, "sigint_timeout", rc, err)


def case_sigint_group(cli):
    """SIGINT to the process group three times within 50 ms (a terminal, a launcher, a retry): one request."""
    def burst(pid):
        for _ in range(3):
            os.killpg(pid, signal.SIGINT)
            time.sleep(0.02)
    argv = cli.args("sigint_group", "--steps", "100000", "--eval-every", "1000")
    rc, _, err = signalled(argv, burst, os.path.join(cli.work, "sigint_group"))
    expect_one_stop(cli, "sigint_group", rc, err)


def case_resume_elsewhere(cli):
    """--resume from another directory with the data moved: --data-dir (or $RENORM_DATA_DIR) finds it,
    other data is refused by its fingerprint."""
    name = "resume_elsewhere"
    work = os.path.join(cli.work, name)
    os.makedirs(work)
    data = os.path.join(work, "data")
    shutil.copytree(cli.data, data)
    argv = [cli.exe, "--data-dir", "data", "--batch", "16", "--microbatch", "4", "--device", "cpu", "--threads", "1",
            "--no-progress", "--out", "run", "--steps", "12", "--eval-every", "4", "--stop-after", "4"]
    p = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300)
    assert p.returncode == OK, p.stderr
    moved = os.path.join(work, "moved-data")
    os.rename(data, moved)
    other = os.path.join(work, "other-data")
    make_cifar(other, per_file=41)
    elsewhere = os.path.join(work, "elsewhere")
    os.makedirs(elsewhere)
    run = os.path.join("..", "run")
    def resume(*extra, env=None):
        q = subprocess.run([cli.exe, "--resume", run, "--no-progress"] + list(extra), cwd=elsewhere, capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, **(env or {})))
        return q.returncode, q.stdout, q.stderr.strip()
    rc, _, err = resume()
    expect(rc, err, BAD_INPUT, "data folder", "gone", "--data-dir")
    rc, _, err = resume("--data-dir", other)
    expect(rc, err, BAD_INPUT, "--data-dir " + other, "not the data this run trained on")
    rc, _, err = resume("--stop-after", "8", env={"RENORM_DATA_DIR": moved})
    assert rc == OK, "resume with $RENORM_DATA_DIR: %d %s" % (rc, err)
    rc, out, err = resume("--data-dir", moved)
    assert rc == OK and "done, 12 steps" in out, "resume with --data-dir: %d %s %s" % (rc, out, err)
    assert json.load(open(os.path.join(work, "run", "config.json")))["data-dir"] == moved
    print("ok: resumed from another directory with the data moved; other data refused")


def case_resume_changed_flag(cli):
    """A flag given with --resume that would change the run is refused naming it; the same value is fine."""
    run = os.path.join(cli.work, "resume_changed_flag")
    rc, _, err = cli.run(cli.args("resume_changed_flag", "--steps", "12", "--eval-every", "4", "--stop-after", "4"))
    assert rc == OK, err
    for flag, value in [("--lr", "5"), ("--norm", "bn"), ("--steps", "20"), ("--model", "resnet20")]:
        rc, _, err = cli.run([cli.exe, "--resume", run, "--no-progress", flag, value])
        expect(rc, err, BAD_INPUT, flag + ": " + value + " given", "keeps its own settings")
    rc, out, err = cli.run([cli.exe, "--resume", run, "--no-progress", "--lr", "0.01", "--threads", "2"])
    assert rc == OK and "done, 12 steps" in out, (rc, out, err)
    print("ok: changed flags refused by name; an unchanged one and --threads accepted")


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
