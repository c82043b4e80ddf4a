#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (tests/fuzz/corpus/<target>/): small valid inputs of every reader,
and a few invalid ones near the edges, so that libFuzzer starts from the formats' real structure; and the
crafted inputs of issue 12's findings as crash regressions (tests/fuzz/crashes/<target>/).
Deterministic; rerun after a format change: /usr/bin/python3 tests/fuzz/make_seeds.py"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data, kind="corpus"):
    folder = os.path.join(HERE, kind, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata):
    header, data = {"__metadata__": metadata}, b""
    for name, shape, values in tensors:
        begin = len(data)
        data += struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [begin, len(data)]}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


CONFIG = {"renorm_version": "0.1.0", "device_name": "CPU (2 threads)", "dataset": "cifar10", "data-dir": "data",
          "norm": "brn", "batch": 16, "microbatch": 4, "epochs": 0, "steps": 2, "optimizer": "sgd", "lr": 0.01,
          "lr-schedule": "cosine", "lr-warmup": 0, "lr-step-size": 0, "lr-gamma": 0.1, "momentum": 0.9,
          "nesterov": False, "weight-decay": 0.0005, "rmax": 3, "dmax": 5, "clip-warmup": -1, "rmax-steps": -1,
          "dmax-steps": -1, "alpha": 0.01, "eps": 0.001, "eval-every": 0, "log-every": 50, "sampler": "iid",
          "augment": False, "device": "cpu", "seed": 1, "threads": 0, "train-limit": 0, "val-limit": 0}


def main():
    meta = {"step": "8", "elapsed_s": "1.5", "optimizer_steps": "8", "format": "renorm checkpoint v1"}
    put("safetensors", "two-tensors", safetensors([("param/0.weight", [2, 3], [0.5] * 6), ("buffer/0.running_mean", [3], [0, 1, 2])], meta))
    put("safetensors", "scalar-and-empty", safetensors([("s", [], [2.5]), ("e", [0, 4], [])], {}))
    put("safetensors", "rank5", safetensors([("r", [1, 1, 1, 2, 1], [1, -1])], {"k": "v"}))
    put("safetensors", "header-only", safetensors([], meta))
    put("json", "object", json.dumps({"a": [1, 2.5, -3e-7, True, None, "x\u00e9\n"], "b": {"c": {}}}))
    put("json", "numbers", "[0, -0, 1e308, 18446744073709551615, -9223372036854775808, 1.5e-320]")
    put("json", "config", json.dumps(CONFIG, indent=2))
    put("json", "nested", "[" * 60 + "]" * 60)
    put("config", "config.json", json.dumps(CONFIG, indent=2))
    put("config", "fashion-adam", json.dumps(dict(CONFIG, dataset="fashion-mnist", optimizer="adam", lr=0.001,
                                                  norm="bn", seed=18446744073709551615)))
    record = lambda label: bytes([label]) + bytes((i * 7) % 256 for i in range(3072))
    put("cifar10", "one-record", record(3))
    put("cifar10", "two-records", record(0) + record(9))
    put("cifar10", "bad-label", record(10))
    images = struct.pack(">IIII", 2051, 2, 2, 2) + bytes(range(8))
    labels = struct.pack(">II", 2049, 2) + bytes([1, 9])
    put("idx", "two-images", bytes([len(images)]) + images + labels)
    put("idx", "bad-magic", bytes([16]) + struct.pack(">IIII", 2052, 1, 1, 1) + struct.pack(">II", 2049, 1) + b"\0")
    regressions()


def regressions():
    """The inputs of issue 12's findings, kept as crash regressions (tests/fuzz/crashes/<target>/)."""
    def one(a, b):
        return '{"w":{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}}' % (a, b)
    def raw(header, data):
        header += " " * (-len(header) % 8)
        return struct.pack("<Q", len(header)) + header.encode() + data
    base = len(raw(one(2**64 - 1, 2**64 - 1), b""))  # 8 + the padded header: its length does not change below
    b = 2**64 - base + 4
    put("safetensors", "offsets-wrap-2e64", raw(one(b - 4, b), b"\1\2\3\4"), "crashes")
    entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
    put("safetensors", "offsets-overlap", raw('{"a":%s,"b":%s}' % (entry, entry), b"\0" * 4), "crashes")
    put("safetensors", "count-wraps-to-0", raw('{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}', b""), "crashes")
    put("safetensors", "deep-header", raw("[" * 5000 + "]" * 5000, b""), "crashes")
    put("json", "deep-5000", "[" * 5000 + "]" * 5000, "crashes")
    for key, value in [("batch", "1e30"), ("steps", "18446744073709551615"), ("lr", "1e300"), ("threads", "1e10")]:
        put("config", "%s-%s" % (key, value), json.dumps(CONFIG, indent=2).replace('"%s": %s' % (key, json.dumps(CONFIG[key])),
                                                                                   '"%s": %s' % (key, value)), "crashes")
    images = struct.pack(">IIII", 2051, 4, 2**31, 2**31)  # 4 * 2^62 pixels: 2^64 wraps to 0
    put("idx", "pixel-count-wraps", bytes([len(images)]) + images + struct.pack(">II", 2049, 4) + bytes([1, 2, 3, 4]), "crashes")


if __name__ == "__main__":
    main()
