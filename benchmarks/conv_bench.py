"""Conv2d forward and forward+backward: npukernel's kernels against PyTorch CPU.

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

# (name, N, C, H=W, OC, kernel, padding)
SHAPES = [
    ("b64 3->16 32x32 k3p1", 64, 3, 32, 16, 3, 1),
    ("b64 64->64 16x16 k3p1", 64, 64, 16, 64, 3, 1),
]

TORCH_WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(2)
cases = {}
for name, n, c, h, oc, k, p in json.loads(sys.argv[1]):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, h, generator=g, requires_grad=True)
    conv = torch.nn.Conv2d(c, oc, k, padding=p, bias=False)
    dy = torch.randn(n, oc, h + 2 * p - k + 1, h + 2 * p - k + 1, generator=g)

    def fwd(x=x, conv=conv):
        with torch.no_grad():
            conv(x)

    def fwd_bwd(x=x, conv=conv, dy=dy):
        x.grad = None
        conv.weight.grad = None
        conv(x).backward(dy)

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


def npukernel_cases() -> dict[str, dict]:
    sys.path.insert(0, str(ROOT))
    from npukernel.kernels.conv import conv2d_backward, conv2d_forward

    cases = {}
    rng = np.random.default_rng(0)
    for name, n, c, h, oc, k, p in SHAPES:
        x = rng.standard_normal((n, c, h, h), dtype=np.float32)
        w = rng.standard_normal((oc, c, k, k), dtype=np.float32)
        args = ((1, 1), (p, p, p, p), (1, 1), 1)
        y, _ = conv2d_forward(x, w, *args)
        dy = rng.standard_normal(y.shape, dtype=np.float32)

        def fwd(x=x, w=w, args=args):
            conv2d_forward(x, w, *args)

        def fwd_bwd(x=x, w=w, dy=dy, args=args):
            _, ctx = conv2d_forward(x, w, *args)
            conv2d_backward(dy, x, w, ctx, *args)

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

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
        self.proc = subprocess.Popen(
            [str(BENCH_PY), "-c", TORCH_WORKER, json.dumps(SHAPES)],
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
    args = ap.parse_args()
    if args.repeats < 7:
        ap.error("--repeats must be at least 7")
    ours = npukernel_cases()
    torch = None if args.no_torch else TorchWorker()
    res: dict = {}
    load0 = os.getloadavg()[0]
    try:
        for name, *_ in SHAPES:
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
    print(f"{'shape':24s} {'pass':8s} {'npukernel ms':>12s} {'torch ms':>9s} {'ratio':>6s}")
    for (name, pass_), (mine, theirs) in res.items():
        ours_ms = 1e3 * float(np.median(mine))
        if theirs:
            torch_ms = 1e3 * float(np.median(theirs))
            ratio = torch_ms / ours_ms
            print(f"{name:24s} {pass_:8s} {ours_ms:12.2f} {torch_ms:9.2f} {ratio:6.2f}")
        else:
            print(f"{name:24s} {pass_:8s} {ours_ms:12.2f}")


if __name__ == "__main__":
    main()
