"""The PyTorch twins of benchmarks/models.py, and the torch / onnxruntime benchmark children.

Run with the benchmark venv's python (torch 2.13 CPU; onnxruntime and onnx for ``onnx``),
normally by ``train.py`` and ``infer.py`` rather than by hand::

    .bench-venv/bin/python benchmarks/torch_models.py train '[["lenet", 64]]' 5
    .bench-venv/bin/python benchmarks/torch_models.py infer '["lenet"]' 5
    .bench-venv/bin/python benchmarks/torch_models.py onnx '["lenet"]' 5

Each prints one JSON line of per-call seconds (see ``harness.py``). 2 threads, float32.
The shapes match models.py: MLP 784-256-128-10, LeNet-5 on 1x28x28, ResNet-20 (CIFAR,
16/32/64 channels) on 3x32x32. Weights are PyTorch's random init.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from harness import COUNTS, first_call, per_call, per_chunk

SHAPES = {"mlp": (1, 28, 28), "lenet": (1, 28, 28), "resnet20": (3, 32, 32)}


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )  # fmt: skip


def lenet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = torch.relu(self.b1(self.c1(x)))
        o = self.b2(self.c2(o))
        return torch.relu(o + (x if self.down is None else self.down(x)))


def resnet20() -> nn.Module:
    layers = [nn.Conv2d(3, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            layers.append(Block(cin, cout, stride if i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


BUILD = {"mlp": mlp, "lenet": lenet, "resnet20": resnet20}


def train(cases: list, chunks: int) -> dict:
    """First-step seconds and seconds per SGD-momentum step, per chunk, for each ``(model, batch)``."""
    res = {}
    for name, batch in cases:
        net = BUILD[name]()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        lossf = nn.CrossEntropyLoss()
        x = torch.randn(batch, *SHAPES[name])
        y = torch.randint(0, 10, (batch,))

        def step(net=net, opt=opt, lossf=lossf, x=x, y=y) -> None:
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(x), y)
            loss.backward()
            opt.step()

        first = first_call(step)
        res[f"{name}-b{batch}"] = {"first": first, "ts": per_chunk(step, COUNTS[name][2], chunks)}
    return res


def infer_torch(names: list, chunks: int) -> dict:
    """Eager inference (eval mode, ``torch.inference_mode``): batch-1 and batch-64 call times."""
    res = {}
    for name in names:
        net = BUILD[name]().eval()
        n1, n64, _ = COUNTS[name]
        with torch.inference_mode():
            for batch, n, timer in ((1, n1, per_call), (64, n64, per_chunk)):
                x = torch.randn(batch, *SHAPES[name])
                first = first_call(lambda net=net, x=x: net(x))
                res[f"{name}-b{batch}"] = {
                    "first": first,
                    "ts": timer(lambda net=net, x=x: net(x), n, chunks),
                }
    return res


def infer_onnx(names: list, chunks: int) -> dict:
    """onnxruntime on the exported twins (dynamic batch axis), 2 intra-op threads, 1 inter-op."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path = str(Path(tmp) / f"{name}.onnx")
            net = BUILD[name]().eval()
            torch.onnx.export(net, (torch.randn(1, *SHAPES[name]),), path, dynamo=False,
                              input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})  # fmt: skip
            sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            n1, n64, _ = COUNTS[name]
            rng = np.random.default_rng(0)
            for batch, n, timer in ((1, n1, per_call), (64, n64, per_chunk)):
                feed = {"x": rng.standard_normal((batch, *SHAPES[name]), dtype=np.float32)}
                first = first_call(lambda sess=sess, feed=feed: sess.run(None, feed))
                ts = timer(lambda sess=sess, feed=feed: sess.run(None, feed), n, chunks)
                res[f"{name}-b{batch}"] = {"first": first, "ts": ts}
    return {"onnxruntime": ort.__version__, "res": res}


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    what, arg, chunks = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    if what == "train":
        out = {"torch": torch.__version__, "res": train(arg, chunks)}
    elif what == "infer":
        out = {"torch": torch.__version__, "res": infer_torch(arg, chunks)}
    elif what == "onnx":
        out = infer_onnx(arg, chunks)
    else:
        raise SystemExit(f"unknown child {what!r}: train, infer or onnx")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
