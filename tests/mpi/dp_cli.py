#!/usr/bin/env python3
"""Data-parallel renorm-train under a real launcher (issue 13; docs/distributed.md). Each case runs the
real binary through mpirun on generated CIFAR-10-format data (tests/cli/hostile_cli.py's make_cifar).

Cases:
  equivalence   2 ranks of 16 examples (per-rank norm) against one process with --batch 32 --microbatch 16:
                parameters and moving averages after 20 steps within TOL (below), and the same files.
  sync_norm     2 ranks with --sync-norm against one process normalizing over the whole minibatch of 32.
  resume        a 2-rank run stopped at step 10 and resumed with 2 ranks equals the uninterrupted 2-rank
                run bitwise; its checkpoint resumed by one process ends within TOL of the one-process run.
  bad_batch     3 ranks and --batch 32: status 2, the line names --batch.
  flag_mismatch ranks started with different --lr: status 2, the line names the setting.
  sigterm_rank  SIGTERM to rank 1 only: every rank stops after the same step, status 4, rank 0's checkpoint.
  sigint_launcher  SIGINT to the process group of mpirun -np 2 (a terminal's Ctrl-C; mpirun forwards its
                own copy): one stop, status 4, rank 0's checkpoint.
  kill_rank     SIGKILL to rank 1 mid-run: mpirun ends with a non-zero status within 30 s; rank 0's files
                (config.json, metrics.csv, checkpoint) are complete.

Why TOL and not bitwise: one process sums each gradient over the whole minibatch, K ranks sum over their
shares and then add the K sums; the float results differ in the last bits, and 20 training steps amplify
that (max-pool ties route gradients differently once values move by rounding). TOL = 1e-3 is 10x the
difference between two one-process runs that differ only in their thread count (the same kind of
rounding: 3.8e-5 for the parameters, 1.1e-4 for the moving averages, measured on 2026-11-30); forgetting
to average the moving averages gives 1e-2, drawing every rank's dropout from the first shard's mask 6.5e-3.

  dp_cli.py --exe renorm-train --mpirun "mpirun --oversubscribe --allow-run-as-root" --work DIR --case NAME
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from hostile_cli import make_cifar, safetensors  # noqa: E402

TOL = 1e-3
BAD_INPUT = 2
HERE = os.path.dirname(os.path.abspath(__file__))
# Small and quick, with everything that must line up across ranks switched on: augmentation, dropout,
# Batch Renorm with r and d active from step 5 and a fast-moving average.
RUN = ["--batch", "32", "--steps", "20", "--lr", "0.0005", "--alpha", "0.1", "--clip-warmup", "5", "--rmax-steps",
       "10", "--dmax-steps", "10", "--augment", "--eval-every", "10", "--log-every", "5", "--device", "cpu",
       "--threads", "1", "--no-progress"]


class Runner:
    def __init__(self, exe, mpirun, work):
        self.exe, self.mpirun, self.work = exe, mpirun.split(), work
        self.data = os.path.join(work, "data")
        if not os.path.exists(os.path.join(self.data, "test_batch.bin")):
            make_cifar(self.data, per_file=128, test=200)

    def out(self, name):
        return os.path.join(self.work, name)

    def argv(self, ranks, out, *extra):
        exe = [self.exe, "--data-dir", self.data, "--out", self.out(out)] + RUN + list(extra)
        return (self.mpirun + ["-np", str(ranks)] + exe) if ranks > 1 else exe

    def run(self, argv, timeout=600):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def train(self, ranks, out, *extra):
        rc, so, se = self.run(self.argv(ranks, out, *extra))
        assert rc == 0, "%d rank(s) %s: exit %d\n%s\n%s" % (ranks, out, rc, so, se)
        return so


def compare(a, b, tol):
    p = subprocess.run([sys.executable, os.path.join(HERE, "compare_safetensors.py"), a, b, "--tol", str(tol)],
                       capture_output=True, text=True)
    print(p.stdout.strip())
    assert p.returncode == 0, "%s and %s differ by more than %g:\n%s" % (a, b, tol, p.stdout + p.stderr)


def case_equivalence(r):
    so = r.train(2, "dp2")
    assert "(2 ranks of 16)" in so, so
    r.train(1, "one", "--microbatch", "16")
    compare(r.out("one/model.safetensors"), r.out("dp2/model.safetensors"), TOL)
    assert sorted(os.listdir(r.out("one"))) == sorted(os.listdir(r.out("dp2"))), "different files"
    cfg = json.load(open(r.out("dp2/config.json")))
    assert cfg["world_size"] == 2 and cfg["microbatch"] == 16, cfg
    rows = [open(r.out(d + "/metrics.csv")).read().count("\n") for d in ("one", "dp2")]
    assert rows[0] == rows[1], "metrics.csv rows: %s" % rows
    print("ok: 2 ranks = one process with microbatch 16 within %g; the same files" % TOL)


def case_sync_norm(r):
    r.train(2, "dp2", "--sync-norm")
    r.train(1, "one")  # --microbatch 0: the whole minibatch of 32 is one group
    compare(r.out("one/model.safetensors"), r.out("dp2/model.safetensors"), TOL)
    cfg = json.load(open(r.out("dp2/config.json")))
    assert cfg["sync-norm"] is True and cfg["microbatch"] == 0, cfg
    rc, _, err = r.run(r.argv(2, "bad", "--sync-norm", "--microbatch", "8"))
    expect_bad_input(rc, err, "--sync-norm normalizes over the whole minibatch")
    print("ok: 2 ranks with --sync-norm = one process normalizing over the whole minibatch within %g" % TOL)


def case_resume(r):
    r.train(2, "whole")
    r.train(2, "part", "--stop-after", "10")
    shutil.copytree(r.out("part"), r.out("part1"))  # step 10, for the one-process continuation below
    rc, so, se = r.run(r.mpirun + ["-np", "2", r.exe, "--resume", r.out("part"), "--no-progress"])
    assert rc == 0, "resume: exit %d\n%s%s" % (rc, so, se)
    _, a = safetensors(r.out("whole/model.safetensors"))
    _, b = safetensors(r.out("part/model.safetensors"))
    assert a == b, "a resumed 2-rank run is not bitwise the uninterrupted one"
    r.train(1, "one", "--microbatch", "16")
    rc, so, se = r.run([r.exe, "--resume", r.out("part1"), "--out", r.out("resumed1"), "--no-progress"])
    assert rc == 0, "1-process resume of a 2-rank run: exit %d\n%s%s" % (rc, so, se)
    compare(r.out("one/model.safetensors"), r.out("resumed1/model.safetensors"), TOL)
    print("ok: resumed with 2 ranks bitwise; its checkpoint continued by one process within %g" % TOL)


def expect_bad_input(rc, err, needle):
    assert rc == BAD_INPUT, "exit %d, expected %d: %s" % (rc, BAD_INPUT, err)
    assert needle in err, "stderr lacks %r: %s" % (needle, err)
    print("ok (status %d): %s" % (rc, err.strip().splitlines()[0]))


def case_bad_batch(r):
    rc, _, err = r.run(r.argv(3, "bad"))
    expect_bad_input(rc, err, "--batch 32 is not divisible by the 3 ranks")


def case_flag_mismatch(r):
    a = [r.exe, "--data-dir", r.data, "--out", r.out("mm")] + RUN
    rc, _, err = r.run(r.mpirun + ["-np", "1"] + a + [":", "-np", "1"] + a + ["--lr", "0.1"])
    expect_bad_input(rc, err, "differ from rank 0's")
    assert '"lr": 0.1' in err, err


def rank_pid(out, rank):
    """The pid of rank `rank` of the renorm-train writing to `out` (from /proc)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if out.encode() in cmd and cmd[0].endswith(b"renorm-train") and ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
            return int(pid)
    return None


def case_kill_rank(r):
    out = r.out("killed")
    argv = r.argv(2, "killed", "--steps", "100000", "--eval-every", "5")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not os.path.exists(os.path.join(out, "checkpoint.safetensors")):
        assert p.poll() is None and time.time() < deadline, "no checkpoint written"
        time.sleep(0.2)
    pid = rank_pid(out, 1)
    assert pid, "rank 1 not found"
    os.kill(pid, signal.SIGKILL)
    t0 = time.time()
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("the run did not end within 30 s of rank 1's death")
    assert p.returncode != 0, "mpirun exited 0 after a rank was killed"
    json.load(open(os.path.join(out, "config.json")))
    lines = open(os.path.join(out, "metrics.csv")).read().splitlines()
    assert lines[0].startswith("step,") and all(len(l.split(",")) == len(lines[0].split(",")) for l in lines), lines
    meta, tensors = safetensors(os.path.join(out, "checkpoint.safetensors"))
    assert int(meta["step"]) % 5 == 0 and tensors, meta
    print("ok: rank 1 killed; mpirun ended with status %d after %.1f s; rank 0's files complete (checkpoint of "
          "step %s)" % (p.returncode, time.time() - t0, meta["step"]))


def case_sigterm_rank(r):
    out = r.out("stopped")
    p = subprocess.Popen(r.argv(2, "stopped", "--steps", "100000", "--eval-every", "50"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not os.path.exists(os.path.join(out, "metrics.csv")) or open(os.path.join(out, "metrics.csv")).read().count("\n") < 3:
        assert p.poll() is None and time.time() < deadline, "no progress"
        time.sleep(0.2)
    os.kill(rank_pid(out, 1), signal.SIGTERM)  # one rank only: the ranks must still stop together
    so, se = p.communicate(timeout=120)
    assert p.returncode == 4, "exit %d, expected 4\n%s%s" % (p.returncode, so, se)
    assert "stopped by a signal to another rank after step" in se, se  # rank 0 speaks; rank 1 got it
    meta, _ = safetensors(os.path.join(out, "checkpoint.safetensors"))
    print("ok: SIGTERM to rank 1: both ranks stopped after step %s, status 4, checkpoint written" % meta["step"])


def case_sigint_launcher(r):
    """Ctrl-C at a terminal running mpirun -np 2: SIGINT reaches the terminal's process group and the
    launcher forwards its own signal to the ranks (OpenMPI's mpirun: SIGTERM). Open MPI starts the ranks in
    process groups of their own, so the test adds the copies a rank gets under srun (the terminal's SIGINT
    and srun's forwarded SIGINT): two SIGINTs to each rank. All of it is one request: every
    rank finishes the same step, rank 0 writes the checkpoint, the run ends with status 4."""
    out = r.out("sigint")
    p = subprocess.Popen(r.argv(2, "sigint", "--steps", "100000", "--eval-every", "1000"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    while not os.path.exists(os.path.join(out, "metrics.csv")) or open(os.path.join(out, "metrics.csv")).read().count("\n") < 2:
        assert p.poll() is None and time.time() < deadline, "no progress"
        time.sleep(0.2)
    ranks = [rank_pid(out, k) for k in (0, 1)]
    assert all(ranks), "ranks not found"
    for pid in ranks:
        os.kill(pid, signal.SIGINT)  # the terminal's copy
    time.sleep(0.02)  # apart, so that the kernel does not merge them into one pending signal
    for pid in ranks:
        os.kill(pid, signal.SIGINT)  # a launcher's forwarded SIGINT (srun forwards it as it came)
    os.killpg(p.pid, signal.SIGINT)  # to mpirun, which forwards SIGTERM
    so, se = p.communicate(timeout=120)
    # mpirun's own status is Open MPI's: 1 once mpirun itself was signalled (4, the ranks' status, when only
    # they were). What is ours: no rank died of a signal, and rank 0 stopped once, after the step whose
    # checkpoint is on disk, saying how to resume.
    assert p.returncode in (1, 4), "exit %d\n%s%s" % (p.returncode, so, se)
    assert "exited on signal" not in se and "stopped by SIG" in se and "--resume " + out in se, se
    meta, _ = safetensors(os.path.join(out, "checkpoint.safetensors"))
    assert se.count("stopped by") == 1 and "after step %s;" % meta["step"] in se, (meta, se)
    print("ok: Ctrl-C to mpirun and its ranks: one stop after step %s, checkpoint written, mpirun status %d"
          % (meta["step"], p.returncode))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--mpirun", required=True, help="the launcher with its options, one string")
    ap.add_argument("--work", required=True)
    ap.add_argument("--case", required=True)
    a = ap.parse_args()
    work = os.path.join(a.work, a.case)
    subprocess.run(["rm", "-rf", work], check=True)
    os.makedirs(work)
    r = Runner(os.path.abspath(a.exe), a.mpirun, work)
    globals()["case_" + a.case](r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
