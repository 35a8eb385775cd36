"""Conv2d, max-pool and batch-norm kernels, forward and forward+backward, against PyTorch CPU.

The cases are the layers of the training benchmarks' models (LeNet-5 and ResNet-20 at
batch 64) plus one larger convolution; ``--only TEXT`` keeps the cases whose name
contains TEXT (``--only lenet``, ``--only r20``).

Run from the repository root with the main venv::

    .venv/bin/python benchmarks/conv_bench.py [--repeats 9] [--block 3]

The npukernel side runs in this process. The PyTorch side runs in a separate process
(``.bench-venv``, ``torch.set_num_threads(2)``) because two frameworks' thread pools in one
process fight for the cores. That process stays up and answers timing requests over a
pipe (JSON lines), so the two sides take turns in blocks of ``--block`` calls until each
has ``--repeats`` timed calls per case: a burst of load on this shared 2-core machine then
hits both, and the medians stay comparable. Between blocks both sides sleep briefly so
that the other framework's spinning worker threads (OpenMP, OpenBLAS) have gone idle.
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed from the environment of both
(they slow OpenBLAS down); the tests keep them.

Set-up of the PyTorch venv (a wheel already on disk)::

    python3 -m venv .bench-venv && .bench-venv/bin/pip install torch==2.13.0 numpy

Ratios are ``torch_time / npukernel_time``: above 1 means npukernel is faster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

_SLOW_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(k in os.environ for k in _SLOW_ENV):  # before numpy loads OpenBLAS
    env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH_PY = ROOT / ".bench-venv" / "bin" / "python"
PAUSE_S = 0.3  # longer than the spin-wait of idle OpenMP / OpenBLAS workers

# Convolutions: (name, N, C, H=W, OC, kernel, stride, padding). The first layer of each
# model (input channels 1 or 3) needs no input gradient, as in training.
CONVS = [
    ("lenet c1 1->6 28 k5", 64, 1, 28, 6, 5, 1, 0),
    ("lenet c2 6->16 12 k5", 64, 6, 12, 16, 5, 1, 0),
    ("r20 3->16 32 k3", 64, 3, 32, 16, 3, 1, 1),
    ("r20 16->16 32 k3", 64, 16, 32, 16, 3, 1, 1),
    ("r20 16->32 32 k3 s2", 64, 16, 32, 32, 3, 2, 1),
    ("r20 32->32 16 k3", 64, 32, 16, 32, 3, 1, 1),
    ("r20 32->64 16 k3 s2", 64, 32, 16, 64, 3, 2, 1),
    ("r20 64->64 8 k3", 64, 64, 8, 64, 3, 1, 1),
    ("r20 16->32 32 k1 s2", 64, 16, 32, 32, 1, 2, 0),
    ("r20 32->64 16 k1 s2", 64, 32, 16, 64, 1, 2, 0),
    ("b64 64->64 16x16 k3p1", 64, 64, 16, 64, 3, 1, 1),
]
# 2x2 stride-2 max pooling (LeNet): (name, shape)
POOLS = [("lenet pool1", (64, 6, 24, 24)), ("lenet pool2", (64, 16, 8, 8))]
# batch norm in training mode (ResNet-20): (name, shape)
NORMS = [("r20 bn 16x32", (64, 16, 32, 32)), ("r20 bn 32x16", (64, 32, 16, 16)),
         ("r20 bn 64x8", (64, 64, 8, 8))]  # fmt: skip
CASES = [("conv", *c) for c in CONVS] + [("pool", *c) for c in POOLS] + [("bn", *c) for c in NORMS]

TORCH_WORKER = r"""
import json, sys, time
import torch
import torch.nn.functional as F
torch.set_num_threads(2)
cases = {}
g = torch.Generator().manual_seed(0)
for kind, name, *spec in json.loads(sys.argv[1]):
    if kind == "conv":
        n, c, h, oc, k, s, p = spec
        x = torch.randn(n, c, h, h, generator=g, requires_grad=c not in (1, 3))
        mod = torch.nn.Conv2d(c, oc, k, stride=s, padding=p, bias=False)
    elif kind == "pool":
        x = torch.randn(*spec[0], generator=g, requires_grad=True)
        mod = lambda t: F.max_pool2d(t, 2, 2)
    else:
        x = torch.randn(*spec[0], generator=g, requires_grad=True)
        mod = torch.nn.BatchNorm2d(spec[0][1]).train()
    with torch.no_grad():
        dy = torch.randn(mod(x).shape, generator=g)
    params = list(mod.parameters()) if isinstance(mod, torch.nn.Module) else []

    def fwd(x=x, mod=mod):
        with torch.no_grad():
            mod(x)

    def fwd_bwd(x=x, mod=mod, dy=dy, params=params):
        x.grad = None
        for q in params:
            q.grad = None
        mod(x).backward(dy)

    cases[name] = {"fwd": fwd, "fwd_bwd": fwd_bwd}
    for fn in cases[name].values():
        for _ in range(3):
            fn()
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    fn = cases[req["shape"]][req["pass"]]
    fn()
    ts = []
    for _ in range(req["n"]):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    print(json.dumps(ts), flush=True)
"""


def _conv_case(rng, n, c, h, oc, k, s, p):
    from npukernel.kernels.conv import conv2d_backward, conv2d_forward

    x = rng.standard_normal((n, c, h, h), dtype=np.float32)
    w = rng.standard_normal((oc, c, k, k), dtype=np.float32)
    args = ((s, s), (p, p, p, p), (1, 1), 1)
    dy = rng.standard_normal(conv2d_forward(x, w, *args)[0].shape, dtype=np.float32)
    need_dx = c not in (1, 3)

    def fwd():
        conv2d_forward(x, w, *args)

    def fwd_bwd():
        _, ctx = conv2d_forward(x, w, *args)
        conv2d_backward(dy, x, w, ctx, *args, need_dx=need_dx)

    return fwd, fwd_bwd


def _pool_case(rng, shape):
    from npukernel.kernels.pool import max_pool2d_backward, max_pool2d_forward

    x = rng.standard_normal(shape, dtype=np.float32)
    dy = rng.standard_normal(max_pool2d_forward(x, (2, 2), (2, 2))[0].shape, dtype=np.float32)

    def fwd():
        max_pool2d_forward(x, (2, 2), (2, 2))

    def fwd_bwd():
        _, idx = max_pool2d_forward(x, (2, 2), (2, 2))
        max_pool2d_backward(dy, idx, shape)

    return fwd, fwd_bwd


def _bn_case(rng, shape):
    from npukernel.kernels.norm import batch_norm_backward, batch_norm_train_forward

    x = rng.standard_normal(shape, dtype=np.float32)
    gamma = np.ones(shape[1], np.float32)
    beta = np.zeros(shape[1], np.float32)
    dy = rng.standard_normal(shape, dtype=np.float32)

    def fwd():
        batch_norm_train_forward(x, gamma, beta, 1e-5, return_var=True)

    def fwd_bwd():
        _, mean, invstd, _ = batch_norm_train_forward(x, gamma, beta, 1e-5, return_var=True)
        batch_norm_backward(dy, x, gamma, mean, invstd)

    return fwd, fwd_bwd


def npukernel_cases(selected) -> dict[str, dict]:
    sys.path.insert(0, str(ROOT))
    make = {"conv": _conv_case, "pool": _pool_case, "bn": _bn_case}
    cases = {}
    rng = np.random.default_rng(0)
    for kind, name, *spec in selected:
        fwd, fwd_bwd = make[kind](rng, *spec)
        cases[name] = {"fwd": fwd, "fwd_bwd": fwd_bwd}
        for fn in cases[name].values():
            for _ in range(3):
                fn()
    return cases


def _time(fn, n: int) -> list[float]:
    fn()  # one untimed call after the pause
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


class TorchWorker:
    """The PyTorch side: a subprocess answering ``{"shape", "pass", "n"}`` requests."""

    def __init__(self, selected) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
        self.proc = subprocess.Popen(
            [str(BENCH_PY), "-c", TORCH_WORKER, json.dumps(selected)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.info = json.loads(self.proc.stdout.readline())

    def time(self, shape: str, pass_: str, n: int) -> list[float]:
        self.proc.stdin.write(json.dumps({"shape": shape, "pass": pass_, "n": n}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="timed calls per case and side")
    ap.add_argument("--block", type=int, default=3, help="consecutive calls per turn")
    ap.add_argument("--no-torch", action="store_true", help="time npukernel only")
    ap.add_argument("--only", default="", help="cases whose name contains this text")
    args = ap.parse_args()
    if args.repeats < 7:
        ap.error("--repeats must be at least 7")
    selected = [c for c in CASES if args.only in c[1]]
    ours = npukernel_cases(selected)
    torch = None if args.no_torch else TorchWorker(selected)
    res: dict = {}
    load0 = os.getloadavg()[0]
    try:
        for _, name, *_ in selected:
            for pass_ in ("fwd", "fwd_bwd"):
                mine: list[float] = []
                theirs: list[float] = []
                while len(mine) < args.repeats:
                    n = min(args.block, args.repeats - len(mine))
                    time.sleep(PAUSE_S)
                    mine += _time(ours[name][pass_], n)
                    if torch is not None:
                        time.sleep(PAUSE_S)
                        theirs += torch.time(name, pass_, n)
                res[(name, pass_)] = (mine, theirs)
    finally:
        if torch is not None:
            torch.close()
    print(
        f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f}; "
        f"{args.repeats} timed calls per case and side, in blocks of {args.block}"
    )
    if torch is not None:
        print(f"torch {torch.info['torch']} with {torch.info['threads']} threads")
    print(f"{'case':24s} {'pass':8s} {'npukernel ms':>12s} {'torch ms':>9s} {'ratio':>6s}")
    for (name, pass_), (mine, theirs) in res.items():
        ours_ms = 1e3 * float(np.median(mine))
        if theirs:
            torch_ms = 1e3 * float(np.median(theirs))
            ratio = torch_ms / ours_ms
            print(f"{name:24s} {pass_:8s} {ours_ms:12.2f} {torch_ms:9.2f} {ratio:6.2f}")
        else:
            print(f"{name:24s} {pass_:8s} {ours_ms:12.2f}")
    for model in ("lenet", "r20"):  # the layers of one training step, once each
        rows = [
            (m, t) for (name, pass_), (m, t) in res.items() if pass_ == "fwd_bwd" and model in name
        ]
        if rows:
            ours_ms = sum(1e3 * float(np.median(m)) for m, _ in rows)
            line = f"{model + ' layers, sum':24s} {'fwd_bwd':8s} {ours_ms:12.2f}"
            if all(t for _, t in rows):
                torch_ms = sum(1e3 * float(np.median(t)) for _, t in rows)
                line += f" {torch_ms:9.2f} {torch_ms / ours_ms:6.2f}"
            print(line)


if __name__ == "__main__":
    main()
