"""Conv2d forward and forward+backward: npukernel's kernels against PyTorch CPU.

Run from the repository root with the main venv::

    .venv/bin/python benchmarks/conv_bench.py [--repeats 9] [--rounds 2]

The npukernel side runs in this process. The PyTorch side runs in a separate process
(``.bench-venv``, ``torch.set_num_threads(2)``) because two frameworks' thread pools in one
process fight for the cores; it sends its timings back as JSON on stdout. The two sides
alternate for ``--rounds`` rounds and the medians are taken over all rounds, so a burst of
load on the machine hits both. ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are removed
from the environment of both (they slow OpenBLAS down); the tests keep them.

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

# (name, N, C, H=W, OC, kernel, padding)
SHAPES = [
    ("b64 3->16 32x32 k3p1", 64, 3, 32, 16, 3, 1),
    ("b64 64->64 16x16 k3p1", 64, 64, 16, 64, 3, 1),
]

TORCH_SIDE = r"""
import json, sys, time
import torch
torch.set_num_threads(2)
shapes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
res = {}
for name, n, c, h, oc, k, p in shapes:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, h, generator=g, requires_grad=True)
    conv = torch.nn.Conv2d(c, oc, k, padding=p, bias=False)
    dy = torch.randn(n, oc, h + 2 * p - k + 1, h + 2 * p - k + 1, generator=g)

    def fwd():
        with torch.no_grad():
            conv(x)

    def fwd_bwd():
        x.grad = None
        conv.weight.grad = None
        conv(x).backward(dy)

    out = {}
    for key, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
        for _ in range(3):
            fn()
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        out[key] = ts
    res[name] = out
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "res": res}))
"""


def _time(fn, repeats: int) -> list[float]:
    for _ in range(3):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


def run_npukernel(repeats: int) -> dict[str, dict[str, list[float]]]:
    sys.path.insert(0, str(ROOT))
    from npukernel.kernels.conv import conv2d_backward, conv2d_forward

    res = {}
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

        res[name] = {"fwd": _time(fwd, repeats), "fwd_bwd": _time(fwd_bwd, repeats)}
    return res


def run_torch(repeats: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
    out = subprocess.run(
        [str(BENCH_PY), "-c", TORCH_SIDE, json.dumps(SHAPES), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="timed calls per round (>= 7)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating npukernel/torch rounds")
    ap.add_argument("--no-torch", action="store_true", help="time npukernel only")
    args = ap.parse_args()
    ours: dict = {}
    theirs: dict = {}
    info = {}
    for _ in range(args.rounds):
        for name, d in run_npukernel(args.repeats).items():
            for key, ts in d.items():
                ours.setdefault(name, {}).setdefault(key, []).extend(ts)
        if not args.no_torch:
            t = run_torch(args.repeats)
            info = {"torch": t["torch"], "threads": t["threads"]}
            for name, d in t["res"].items():
                for key, ts in d.items():
                    theirs.setdefault(name, {}).setdefault(key, []).extend(ts)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds x {args.repeats} repeats")
    if info:
        print(f"torch {info['torch']} with {info['threads']} threads")
    print(f"{'shape':24s} {'pass':8s} {'npukernel ms':>12s} {'torch ms':>9s} {'ratio':>6s}")
    for name, *_ in SHAPES:
        for key in ("fwd", "fwd_bwd"):
            ours_ms = 1e3 * float(np.median(ours[name][key]))
            if theirs:
                torch_ms = 1e3 * float(np.median(theirs[name][key]))
                print(
                    f"{name:24s} {key:8s} {ours_ms:12.2f} {torch_ms:9.2f} {torch_ms / ours_ms:6.2f}"
                )
            else:
                print(f"{name:24s} {key:8s} {ours_ms:12.2f}")


if __name__ == "__main__":
    main()
