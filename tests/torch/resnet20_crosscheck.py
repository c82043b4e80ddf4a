#!/usr/bin/env python3
"""A renorm-train ResNet-20 run's weights in an equivalent PyTorch ResNet-20 (issue 24).

Reads <run>/config.json (dataset, data folder, limits, norm), <run>/model.safetensors and the final
val_loss and val_acc of <run>/metrics.csv; builds He et al.'s CIFAR ResNet-20 in PyTorch (NCHW; option-A shortcuts
`F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))`; BatchNorm2d in eval mode with running_var = σ² − eps,
so that its sqrt(var + eps) is renorm's moving standard deviation σ), loads the weights (convolutions
[K,R,S,C] -> [K,C,R,S]), normalizes the validation images as renorm does (per-channel mean and standard
deviation of the training pixels / 255) and prints both losses and accuracies. Exit 0 when the losses
agree to 1e-4 (relative) and the accuracies to within one image, 1 when not, 2 for an unreadable run folder (one line naming the file).
A --precision bf16 run (config.json "precision") is evaluated as renorm evaluates it (models/model.h): the
input and every layer's output rounded to bfloat16 (round to nearest even, as torch's conversion), the
convolution and linear weights rounded as they are read, the sums float32. Where the two float32 results
before a rounding straddle a rounding point they round one bfloat16 ulp apart (2u = 2^-7 of the value, as
tests/support/parity.h's kParityTolBf16 says), so the losses must agree to 2^-7 (relative) and the
accuracies to within 1% of the images (predictions whose top two logits are within that of each other).
  /usr/bin/python3 tests/torch/resnet20_crosscheck.py RUN_DIR
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def fail(line):
    print(f"resnet20_crosscheck: {line}", file=sys.stderr)
    sys.exit(2)


def read_safetensors(path):
    try:
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        head = json.loads(raw[8:8 + n])
    except (OSError, ValueError, struct.error) as e:
        fail(f"{path}: not a safetensors file ({e})")
    body = raw[8 + n:]
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(body[a:b], dtype="<f4").reshape(t["shape"]).copy())
    return out


def load_images(cfg, train):
    d, kind = cfg["data-dir"], cfg["dataset"]
    if kind == "cifar10":
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        raw = b"".join(open(os.path.join(d, n), "rb").read() for n in names)
        rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
        labels, x = rec[:, 0].astype(np.int64), rec[:, 1:].reshape(-1, 3, 32, 32)
    else:
        prefix = "train" if train else "t10k"
        img = gzip.open(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz")).read()
        lab = gzip.open(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz")).read()
        x = np.frombuffer(img, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
        labels = np.frombuffer(lab, dtype=np.uint8, offset=8).astype(np.int64)
    limit = cfg["train-limit" if train else "val-limit"]
    if limit > 0:
        x, labels = x[:limit], labels[:limit]
    return x, labels


def identity(t):
    return t


def bf16(t):
    """t rounded to bfloat16 (nearest even), as a float32 tensor: what renorm stores between layers."""
    return t.to(torch.bfloat16).float()


class Block(nn.Module):
    def __init__(self, cin, cout, stride, normed, q=identity):
        super().__init__()
        self.q = q
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not normed)
        self.bn1 = nn.BatchNorm2d(cout) if normed else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not normed)
        self.bn2 = nn.BatchNorm2d(cout) if normed else nn.Identity()
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        q = self.q
        y = q(self.bn2(q(self.conv2(F.relu(q(self.bn1(q(self.conv1(x)))))))))
        s = x if self.stride == 1 and self.pad == 0 else F.pad(x[:, :, ::self.stride, ::self.stride],
                                                                 (0, 0, 0, 0, self.pad, self.pad))
        return q(F.relu(y + s))


class ResNet20(nn.Module):
    def __init__(self, channels, classes, normed, q=identity):
        super().__init__()
        self.q = q
        self.conv = nn.Conv2d(channels, 16, 3, 1, 1, bias=not normed)
        self.bn = nn.BatchNorm2d(16) if normed else nn.Identity()
        blocks, cin = [], 16
        for width in (16, 32, 64):
            for b in range(3):
                blocks.append(Block(cin, width, 2 if b == 0 and width != 16 else 1, normed, q))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        q = self.q
        x = self.blocks(F.relu(q(self.bn(q(self.conv(q(x)))))))
        return q(self.fc(q(x.mean(dim=(2, 3)))))


def load_weights(net, w, eps, normed, q=identity):
    """renorm's names: body index 0 conv, 1 norm, 3.. blocks (branch 0 conv, 1 norm, 3 conv, 4 norm), 13 fc."""
    def conv(m, key):
        m.weight.data = q(w[key + "weight"].permute(0, 3, 1, 2).contiguous())
        if m.bias is not None:
            m.bias.data = w[key + "bias"]

    def norm(m, key):
        if not normed:
            return
        m.weight.data, m.bias.data = w[key + "gamma"], w[key + "beta"]
        m.running_mean.data = w[key + "running_mean"]
        m.running_var.data = w[key + "running_std"] ** 2 - eps
        m.eps = eps

    # normed: conv, norm, relu, blocks [conv, norm, relu, conv, norm], pool, fc; without a norm the ReLUs are
    # fused into the convolutions: conv, blocks [conv, conv], pool, fc.
    first, second = (3, 3) if normed else (1, 1)
    conv(net.conv, "0.")
    norm(net.bn, "1.")
    for i, blk in enumerate(net.blocks):
        p = f"{first + i}."
        conv(blk.conv1, p + "0.")
        norm(blk.bn1, p + "1.")
        conv(blk.conv2, p + f"{second}.")
        norm(blk.bn2, p + f"{second + 1}.")
    fc = f"{first + 9 + 1}."
    net.fc.weight.data, net.fc.bias.data = q(w[fc + "weight"]), w[fc + "bias"]


def main():
    if len(sys.argv) != 2:
        fail("usage: resnet20_crosscheck.py RUN_DIR")
    run = sys.argv[1]
    try:
        cfg = json.load(open(os.path.join(run, "config.json")))
        last = [l for l in open(os.path.join(run, "metrics.csv")).read().splitlines()[1:] if l.split(",")[5]][-1]
    except (OSError, ValueError, IndexError) as e:
        fail(f"{run}: config.json or a validated metrics.csv row cannot be read ({e})")
    if cfg.get("model") != "resnet20":
        fail(f"{run}/config.json: model is {cfg.get('model')}, not resnet20")
    renorm_loss, renorm_acc = float(last.split(",")[4]), float(last.split(",")[5])
    normed = cfg["norm"] != "none"
    train_x, _ = load_images(cfg, True)
    x, labels = load_images(cfg, False)
    px = train_x.transpose(0, 2, 3, 1).reshape(-1, train_x.shape[1]) / 255.0
    mean, std = px.mean(axis=0), np.sqrt(np.maximum((px * px).mean(axis=0) - px.mean(axis=0) ** 2, 1e-12))
    xt = torch.from_numpy(((x / 255.0 - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32))
    low = cfg.get("precision", "fp32") == "bf16"
    q = bf16 if low else identity
    net = ResNet20(x.shape[1], 10, normed, q)
    load_weights(net, read_safetensors(os.path.join(run, "model.safetensors")), cfg["eps"], normed, q)
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(xt[i:i + 256]) for i in range(0, len(xt), 256)]).double()
    y = torch.from_numpy(labels)
    acc = float((logits.argmax(1) == y).double().mean())
    loss = float(F.cross_entropy(logits, y))
    print(f"renorm: validation loss {renorm_loss:.6g}, accuracy {renorm_acc:.6f}; PyTorch ResNet-20 with its "
          f"weights{' in bf16' if low else ''}: loss {loss:.6g}, accuracy {acc:.6f} ({len(labels)} images)")
    # The loss is the sharp test (every logit counts); metrics.csv keeps 6 digits, float32 sums differ a little.
    loss_tol, acc_tol = (2.0 ** -7, 0.01) if low else (1e-4, 1.0 / len(labels))
    same = abs(acc - renorm_acc) <= acc_tol + 1e-9 and abs(loss - renorm_loss) <= loss_tol * max(1.0, renorm_loss)
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
