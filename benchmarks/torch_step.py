#!/usr/bin/python3
"""The peer of renorm-bench-step: the same training step (the CIFAR CNN or ResNet-20) in PyTorch, and, with
--renorm BIN, both run alternately in one process tree so that the ratios compare like with like.

The network is renorm's CifarCnn (models/cifar_cnn.h): three blocks of [conv3x3-relu-norm, conv3x3-relu-norm,
maxpool2, dropout .2/.3/.4] with 32/64/128 channels, then dense(10); softmax cross-entropy; SGD, momentum 0.9,
lr 0.001; batch 128 of 32x32x3 normal inputs. --model resnet20: renorm's ResNet20 (models/resnet.h; He et al.
2016, section 4.2): a 3x3 stem of 16 channels, three stages of three basic blocks (16, 32, 64 channels, stride 2
at the first block of stages 2 and 3), option-A shortcuts (strided subsample, channels zero-padded), each
convolution followed by the norm (conv-norm-relu; no convolution bias where a norm follows), global average
pooling, dense(10): the same network tests/torch/resnet20_crosscheck.py loads renorm's weights into. Norms: none; batchnorm over the minibatch (torch.nn.BatchNorm2d,
cuDNN/oneDNN); batchnorm and Batch Renorm over microbatches of M, written in PyTorch ops (there is no library
op for either): per microbatch mean and biased variance, r = clip(sigma_B/sigma, 1/rmax, rmax) and
d = clip((mu_B-mu)/sigma, -dmax, dmax) held constant for the gradient, moving mean and std updated once per
step from the microbatch means (kernels/renorm.h). Layouts: PyTorch's default (NCHW) and channels_last.
--precision bf16: PyTorch under torch.autocast(bfloat16) (its mixed-precision policy: convolutions and
GEMMs in bfloat16, float32 weights, reductions per its op lists) against renorm-bench-step --precision bf16;
--precision fp32,bf16 runs both, alternated in each round, and adds renorm's bf16 step over its fp32 one.
Timing: the median of --steps timed steps after two warm-ups, the device synchronized around each.
--modes (CUDA): besides eager, the strongest PyTorch configurations of the same step, each timed as --steps
steps queued back to back between two CUDA events (ms per step; renorm's peer is renorm-bench-step's
replayed-graph column, timed the same way): graph (the whole step — forward, backward, optimizer — captured
with torch.cuda.graph after warm-up on a side stream and replayed: PyTorch's "whole network capture"),
compile-ro (torch.compile(mode="reduce-overhead"): Inductor kernels and CUDA graphs) and compile-mx
(torch.compile(mode="max-autotune-no-cudagraphs")); the optimizer is fused where this PyTorch has it.

  /usr/bin/python3 benchmarks/torch_step.py [--model cifar-cnn|resnet20] [--device cpu|cuda] [--threads N] [--steps 10]
      [--renorm build/release/benchmarks/renorm-bench-step] [--rounds 3] [--json FILE] [--tf32] [--cudnn-benchmark]
      [--precision fp32|bf16|fp32,bf16] [--modes eager,graph,compile-ro,compile-mx] [--norms "none,brn M=4"]
      [--layouts default,channels_last]

Debian's python3-torch is the CPU peer (/usr/bin/python3); on a GPU machine any python3 with CUDA torch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MicroNorm(nn.Module):
    """Batchnorm (rmax = 1, dmax = 0) or Batch Renorm over microbatches of m examples, in PyTorch ops."""

    def __init__(self, c, m, rmax, dmax, eps=1e-3, alpha=0.01):
        super().__init__()
        self.m, self.rmax, self.dmax, self.eps, self.alpha = m, rmax, dmax, eps, alpha
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("mean", torch.zeros(c))
        self.register_buffer("std", torch.ones(c))

    def forward(self, x):
        b, c, h, w = x.shape
        g = x.reshape(b // self.m, self.m, c, h, w)
        mu = g.mean(dim=(1, 3, 4), keepdim=True)
        var = g.var(dim=(1, 3, 4), unbiased=False, keepdim=True)
        sigma = torch.sqrt(var + self.eps)
        xhat = (g - mu) / sigma
        if self.rmax != 1.0 or self.dmax != 0.0:
            with torch.no_grad():
                r = torch.clamp(sigma / self.std.view(1, 1, c, 1, 1), 1.0 / self.rmax, self.rmax)
                d = torch.clamp((mu - self.mean.view(1, 1, c, 1, 1)) / self.std.view(1, 1, c, 1, 1), -self.dmax, self.dmax)
            xhat = xhat * r + d
        with torch.no_grad():
            self.mean += self.alpha * (mu.mean(dim=0).view(c) - self.mean)
            self.std += self.alpha * (sigma.mean(dim=0).view(c) - self.std)
        y = xhat * self.weight.view(1, 1, c, 1, 1) + self.bias.view(1, 1, c, 1, 1)
        return y.reshape(b, c, h, w)


def make_norm(kind, c, m, batch):
    if kind == "none":
        return nn.Identity()
    if kind == "bn" and m == batch:
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
    return MicroNorm(c, m, 3.0 if kind == "brn" else 1.0, 5.0 if kind == "brn" else 0.0)


def make_cnn(kind, m, batch):
    layers, cin = [], 3
    for cout, p in ((32, 0.2), (64, 0.3), (128, 0.4)):
        for _ in range(2):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), make_norm(kind, cout, m, batch)]
            cin = cout
        layers += [nn.MaxPool2d(2), nn.Dropout(p)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * 4 * 128, 10))


class Block(nn.Module):
    """ResNet-20's basic block: conv-norm-relu, conv-norm, + shortcut (option A), relu."""

    def __init__(self, cin, cout, stride, kind, m, batch):
        super().__init__()
        normed = kind != "none"
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not normed)
        self.n1 = make_norm(kind, cout, m, batch)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not normed)
        self.n2 = make_norm(kind, cout, m, batch)
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        y = self.n2(self.conv2(F.relu(self.n1(self.conv1(x)))))
        s = x if self.stride == 1 and self.pad == 0 else F.pad(x[:, :, ::self.stride, ::self.stride],
                                                                 (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + s)


def make_resnet20(kind, m, batch):
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=kind == "none"), make_norm(kind, 16, m, batch), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(3):
            layers.append(Block(cin, cout, stride if b == 0 else 1, kind, m, batch))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def make_model(model, kind, m, batch):
    return make_resnet20(kind, m, batch) if model == "resnet20" else make_cnn(kind, m, batch)


def time_steps(model, kind, m, layout, device, batch, steps, precision="fp32"):
    torch.manual_seed(1)
    net = make_model(model, kind, m, batch).to(device)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    net = net.to(memory_format=fmt)
    x = torch.randn(batch, 3, 32, 32, device=device).to(memory_format=fmt)
    labels = (torch.arange(batch, device=device) % 10)
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    ms = []
    for s in range(steps + 2):  # two warm-ups
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(net(x), labels)
        loss.backward()
        opt.step()
        sync()
        if s >= 2:
            ms.append(1000.0 * (time.perf_counter() - t0))
    return statistics.median(ms)


def make_opt(net):
    try:  # the fused (one-kernel) SGD where this PyTorch has it, else the foreach one
        return torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, fused=True)
    except (TypeError, RuntimeError):
        return torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, foreach=True)


def events_ms(step, steps):
    """ms per step of `steps` calls queued back to back between two CUDA events."""
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(steps):
        step()
    stop.record()
    stop.synchronize()
    return start.elapsed_time(stop) / steps


def time_mode(mode, model, kind, m, layout, batch, steps, precision):
    """CUDA: the step in `mode` (graph, compile-ro, compile-mx), ms per step queued back to back."""
    torch.manual_seed(1)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    net = make_model(model, kind, m, batch).cuda().to(memory_format=fmt)
    x = torch.randn(batch, 3, 32, 32, device="cuda").to(memory_format=fmt)
    labels = torch.arange(batch, device="cuda") % 10
    opt = make_opt(net)
    fwd = net if mode == "graph" else torch.compile(
        net, mode="reduce-overhead" if mode == "compile-ro" else "max-autotune-no-cudagraphs")

    def step():
        opt.zero_grad(set_to_none=mode == "graph")
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(fwd(x), labels)
        loss.backward()
        opt.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up (and compilation) off the default stream, as graph capture wants
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    if mode != "graph":
        return events_ms(step, steps)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        step()
    return events_ms(g.replay, steps)


NORMS, LAYOUTS = None, ("default", "channels_last")  # --norms (None: all five) and --layouts


def configs(batch, micro):
    every = [("none", batch), ("bn", batch), ("bn", micro), ("brn", batch), ("brn", micro)]
    return [c for c in every if NORMS is None or label(*c) in NORMS]


def label(kind, m):
    return kind if kind == "none" else f"{kind} M={m}"


def torch_round(args, precision):
    out = {}
    for kind, m in configs(args.batch, args.microbatch):
        for layout in LAYOUTS:
            out[(label(kind, m), layout)] = time_steps(args.model, kind, m, layout, args.device, args.batch, args.steps,
                                                       precision)
            for mode in args.modes[1:]:
                try:
                    out[(label(kind, m), layout + " " + mode)] = time_mode(mode, args.model, kind, m, layout, args.batch,
                                                                          args.steps, precision)
                except Exception as e:  # one line naming the configuration; the others still run
                    print(f"torch_step: {mode} {label(kind, m)} {layout}: {type(e).__name__}: {str(e).splitlines()[0]}",
                          file=sys.stderr)
    return out


def renorm_precision(args, precision):
    """renorm's --precision beside PyTorch's: with --tf32, renorm's fp32 step runs as --precision tf32 (its
    convolutions and GEMMs on TF32 tensor cores too), so TF32 is on or off on both sides."""
    return "tf32" if args.tf32 and precision == "fp32" else precision


def renorm_round(args, precision):
    """renorm's ms/step per norm: the synced median (eager), and on CUDA the replayed graph's, queued back to back."""
    precision = renorm_precision(args, precision)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "step.json")
        subprocess.run([args.renorm, "--model", args.model, "--device", args.device, "--batch", str(args.batch), "--microbatch",
                        str(args.microbatch), "--steps", str(args.steps), "--precision", precision, "--json", path],
                       check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            rows = json.load(f)["results"]
    out = {r["norm"]: r["ms_per_step"] for r in rows}
    out.update({r["norm"] + " graph": r["graph_gpu_ms"] for r in rows if "graph_gpu_ms" in r})
    return out


def queued_table(args, precisions, torch_ms, renorm_ms):
    """The steps queued back to back: each PyTorch mode at its better layout, renorm's replayed graph, and
    renorm's graph over the best PyTorch configuration of the row."""
    rows, modes = [], args.modes[1:]
    for p in precisions:
        print(f"\n{p}, steps queued back to back (ms/step between CUDA events), each PyTorch mode at its better layout:")
        print(f"{'norm':<12} " + " ".join(f"{m:>11}" for m in modes) + f" {'renorm graph':>13}  best PyTorch / renorm")
        for kind, m in configs(args.batch, args.microbatch):
            name = label(kind, m)
            best = {}
            for mode in modes:
                vals = [statistics.median(torch_ms[(p, name, lay + " " + mode)]) for lay in LAYOUTS
                        if (p, name, lay + " " + mode) in torch_ms]
                best[mode] = min(vals) if vals else None
            r = renorm_ms.get((p, name + " graph"))
            r = statistics.median(r) if r else None
            done = [v for v in best.values() if v]
            ratio = f"{min(done) / r:5.2f}x" if r and done else "-"
            print(f"{name:<12} " + " ".join(f"{v:11.3f}" if v else f"{'failed':>11}" for v in best.values()) +
                  (f" {r:13.3f}" if r else f" {'-':>13}") + f"  {ratio}")
            rows.append({"precision": p, "norm": name, "queued_torch_ms": best, "queued_renorm_graph_ms": r})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="cifar-cnn", choices=["cifar-cnn", "resnet20"])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: all cores)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--microbatch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--renorm", help="renorm-bench-step binary: run it and PyTorch alternately, print ratios")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of renorm and PyTorch (with --renorm)")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--tf32", action="store_true",
                    help="CUDA: let cuDNN and cuBLAS use TF32 (PyTorch's default for convolutions), and run renorm's "
                         "fp32 step as --precision tf32 (issue 26); off: both plain float32")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="CUDA: torch.backends.cudnn.benchmark = True")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp32,bf16"],
                    help="bf16: PyTorch's autocast to bfloat16 beside renorm's --precision bf16; fp32,bf16: both")
    ap.add_argument("--modes", default="eager", help="CUDA: eager and any of graph, compile-ro, compile-mx (comma separated)")
    ap.add_argument("--norms", help="only these rows, comma separated (none, bn M=128, bn M=4, brn M=128, brn M=4)")
    ap.add_argument("--layouts", default="default,channels_last", help="PyTorch layouts: default, channels_last or both")
    args = ap.parse_args()
    global NORMS, LAYOUTS
    NORMS = args.norms.split(",") if args.norms else None
    LAYOUTS = tuple(args.layouts.split(","))
    if not set(LAYOUTS) <= {"default", "channels_last"}:
        ap.error(f"--layouts: default and/or channels_last, got {args.layouts}")
    args.modes = args.modes.split(",")
    known = {"eager", "graph", "compile-ro", "compile-mx"}
    if args.modes[0] != "eager" or not set(args.modes) <= known:
        ap.error(f"--modes: 'eager' first, then any of graph, compile-ro, compile-mx; got {','.join(args.modes)}")
    if len(args.modes) > 1 and args.device != "cuda":
        ap.error("--modes graph/compile-*: CUDA only (--device cuda)")
    if args.device == "cuda":
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
    threads = args.threads or os.cpu_count()
    torch.set_num_threads(threads)
    if args.renorm:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    dev = (f"{torch.cuda.get_device_name()}, TF32 {'on' if args.tf32 else 'off'} (PyTorch and renorm), cudnn.benchmark "
           f"{'on' if args.cudnn_benchmark else 'off'}") if args.device == "cuda" else f"CPU, {threads} threads"
    precisions = args.precision.split(",")
    print(f"{args.model} training step, batch {args.batch}, precision {args.precision}: PyTorch {torch.__version__} on {dev}",
          flush=True)
    torch_ms, renorm_ms = {}, {}
    for _ in range(args.rounds if args.renorm else 1):
        for p in precisions:
            if args.renorm:
                for k, v in renorm_round(args, p).items():
                    renorm_ms.setdefault((p, k), []).append(v)
            for k, v in torch_round(args, p).items():
                torch_ms.setdefault((p,) + k, []).append(v)
    rows = []
    for p in precisions:
        print(f"\n{p}:\n{'norm':<12} {'torch NCHW':>11} {'torch NHWC':>11} {'renorm':>9}  images/s: torch best, renorm, ratio")
        for kind, m in configs(args.batch, args.microbatch):
            name = label(kind, m)
            t = {lay: statistics.median(torch_ms[(p, name, lay)]) for lay in LAYOUTS}
            best = min(t.values())
            r = statistics.median(renorm_ms[(p, name)]) if (p, name) in renorm_ms else None
            ratio = f"{best / r:5.2f}x" if r else "-"
            rs = f"{r:9.2f}" if r else f"{'-':>9}"
            print(f"{name:<12} {t.get('default', float('nan')):11.2f} {t.get('channels_last', float('nan')):11.2f} {rs}  "
                  f"{1000 * args.batch / best:8.0f} {1000 * args.batch / r if r else 0:8.0f} {ratio}")
            rows.append({"precision": p, "norm": name, "torch_ms": t, "renorm_ms": r})
    print("(ms/step, median over rounds of the median step; ratio = renorm images/s over PyTorch's best layout)")
    if len(args.modes) > 1:
        rows += queued_table(args, precisions, torch_ms, renorm_ms)
    if args.renorm and len(precisions) == 2:
        print("\nrenorm bf16 over renorm fp32 (images/s): " + ", ".join(
            f"{label(k, m)} {statistics.median(renorm_ms[('fp32', label(k, m))]) / statistics.median(renorm_ms[('bf16', label(k, m))]):.2f}x"
            for k, m in configs(args.batch, args.microbatch)))
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"model": args.model, "device": dev, "torch": torch.__version__, "batch": args.batch, "rounds": args.rounds,
                       "precision": args.precision, "rows": rows}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
