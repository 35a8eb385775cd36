"""Training throughput: npukernel PYNATIVE (and GRAPH_MODE once it exists) vs PyTorch eager.

Run from the repository root::

    .venv/bin/python benchmarks/train.py [--models mlp,lenet,resnet20] [--chunks 5]

Each framework runs in its own process (their thread pools would fight for the 2 cores),
2 threads, float32, SGD momentum 0.9, softmax cross-entropy, synthetic data of the right
shape. After warm-up, the median of ``--chunks`` timed chunks of steps is reported as
images per second; the ratio is npukernel / PyTorch (above 1: npukernel is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".bench-venv" / "bin" / "python"
_SLOW_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
CASES = [("mlp", 64), ("mlp", 256), ("lenet", 64), ("resnet20", 64)]

TORCH_SIDE = r"""
import json, sys, time
import torch, torch.nn as nn
torch.set_num_threads(2)
torch.manual_seed(0)
cases, chunks = json.loads(sys.argv[1]), int(sys.argv[2])

def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))

def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))

class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.c1 = nn.Conv2d(cin, cout, 3, stride, 1); s.b1 = nn.BatchNorm2d(cout)
        s.c2 = nn.Conv2d(cout, cout, 3, 1, 1); s.b2 = nn.BatchNorm2d(cout)
        s.down = None if (stride == 1 and cin == cout) else nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.BatchNorm2d(cout))
    def forward(s, x):
        o = torch.relu(s.b1(s.c1(x))); o = s.b2(s.c2(o))
        return torch.relu(o + (x if s.down is None else s.down(x)))

def resnet20():
    layers = [nn.Conv2d(3, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            layers.append(Block(cin, cout, stride if i == 0 else 1)); cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)

shapes = {"mlp": (1, 28, 28), "lenet": (1, 28, 28), "resnet20": (3, 32, 32)}
res = {}
for name, batch in cases:
    net = {"mlp": mlp, "lenet": lenet, "resnet20": resnet20}[name]()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    x = torch.randn(batch, *shapes[name]); y = torch.randint(0, 10, (batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(net(x), y); loss.backward(); opt.step()
    steps = {"mlp": 100, "lenet": 40, "resnet20": 3}[name]
    for _ in range(steps): step()
    ts = []
    for _ in range(chunks):
        t = time.perf_counter()
        for _ in range(steps): step()
        ts.append((time.perf_counter() - t) / steps)
    res[f"{name}-b{batch}"] = ts
print(json.dumps({"torch": torch.__version__, "res": res}))
"""

STEPS = {"mlp": 100, "lenet": 40, "resnet20": 3}


def run_npukernel(cases: list, chunks: int, mode: str) -> dict:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import numpy as np
    from models import MODELS

    import npukernel as npk
    from npukernel import nn

    npk.set_seed(0)
    if mode == "graph":
        npk.set_context(mode=npk.GRAPH_MODE)
    res = {}
    for name, batch in cases:
        cls, shape = MODELS[name]
        net = cls()
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
        step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt)
        rng = np.random.default_rng(0)
        x = npk.Tensor(rng.standard_normal((batch, *shape), dtype=np.float32))
        y = npk.Tensor(rng.integers(0, 10, batch).astype(np.int32))
        steps = STEPS[name]
        for _ in range(steps):
            step(x, y)
        ts = []
        for _ in range(chunks):
            t = time.perf_counter()
            for _ in range(steps):
                step(x, y)
            ts.append((time.perf_counter() - t) / steps)
        res[f"{name}-b{batch}"] = ts
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,lenet,resnet20")
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--side", choices=["all", "npukernel"], default="all")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    wanted = set(args.models.split(","))
    cases = [c for c in CASES if c[0] in wanted]
    if args.child:
        print(json.dumps(run_npukernel(cases, args.chunks, args.child)))
        return
    env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
    env.setdefault("OMP_NUM_THREADS", "2")
    results = {}
    for mode in ("pynative",):
        out = subprocess.run([sys.executable, __file__, "--models", args.models, "--chunks", str(args.chunks),
                              "--child", mode], env=env, capture_output=True, text=True, check=True)  # fmt: skip
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    torch = None
    if args.side == "all" and BENCH_PY.exists():
        out = subprocess.run([str(BENCH_PY), "-c", TORCH_SIDE, json.dumps(cases), str(args.chunks)], env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
        torch = json.loads(out.stdout.strip().splitlines()[-1])
    import numpy as np

    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.chunks} chunks; img/s")
    head = f"{'model':14s} {'PYNATIVE':>10s}"
    if torch:
        head += f" {'torch ' + torch['torch']:>18s} {'PYNATIVE/torch':>15s}"
    print(head)
    for name, batch in cases:
        key = f"{name}-b{batch}"
        ours = batch / float(np.median(results["pynative"][key]))
        line = f"{key:14s} {ours:10.0f}"
        if torch:
            theirs = batch / float(np.median(torch["res"][key]))
            line += f" {theirs:18.0f} {ours / theirs:15.2f}"
        print(line)


if __name__ == "__main__":
    main()
