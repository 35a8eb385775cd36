"""Kernel benchmarks: GEMM vs numpy, conv2d vs PyTorch CPU, eager launch overhead.

Run from the repository root (``make bench``)::

    .venv/bin/python benchmarks/kernels.py [--repeats 9] [--rounds 2] [--no-torch]

npukernel and numpy run in this process; PyTorch (``.bench-venv``, created on first use
with ``pip install torch==2.13.0``, a wheel already on disk) runs in a child process with
``torch.set_num_threads(2)``, because two frameworks' thread pools in one process fight
for the two cores. Medians over all repeats of all rounds; the rounds alternate sides so
a burst of load on the shared machine hits both. Ratios are ``their_time / our_time``
(above 1: npukernel is faster).
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
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import conv_bench  # noqa: E402

GEMM_SIZES = (256, 512, 1024, 2048)

TORCH_LAUNCH = r"""
import json, time, torch
torch.set_num_threads(2)
a = torch.ones(1); b = torch.ones(1)
for _ in range(2000): a + b
ts = []
for _ in range(9):
    t = time.perf_counter()
    for _ in range(2000): a + b
    ts.append((time.perf_counter() - t) / 2000)
print(json.dumps({"add": ts, "torch": torch.__version__}))
"""


def ensure_bench_venv() -> bool:
    """Create .bench-venv with torch 2.13.0 when missing; False if that fails."""
    if conv_bench.BENCH_PY.exists():
        return True
    venv = ROOT / ".bench-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "torch==2.13.0", "numpy"], check=True
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"(no PyTorch side: {exc})")
        return False
    return True


def gemm(repeats: int) -> dict[int, tuple[list[float], list[float]]]:
    import npukernel as npk
    from npukernel import ops

    rng = np.random.default_rng(0)
    out = {}
    for n in GEMM_SIZES:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        ta, tb = npk.Tensor(a), npk.Tensor(b)
        ours, theirs = [], []
        # interleaved, so a burst of load hits both sides; small sizes get more turns
        # (about 0.4 s a side), as one 9-turn run of a 2 ms GEMM swung by 15 %
        turns = max(repeats, min(60, int(0.4 / (3 * 2 * n**3 / 100e9))))
        for _ in range(turns):
            ours += conv_bench._time(lambda ta=ta, tb=tb: ops.matmul(ta, tb), 3)
            theirs += conv_bench._time(lambda a=a, b=b: np.matmul(a, b), 3)
        out[n] = (ours, theirs)
    return out


def launch(repeats: int) -> tuple[list[float], list[float]]:
    import npukernel as npk

    a, b = npk.Tensor([1.0]), npk.Tensor([1.0])
    x, y = np.ones(1, np.float32), np.ones(1, np.float32)

    def per_call(fn):
        for _ in range(2000):
            fn()
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(2000):
                fn()
            ts.append((time.perf_counter() - t) / 2000)
        return ts

    return per_call(lambda: a + b), per_call(lambda: x + y)


def torch_launch() -> dict | None:
    env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
    out = subprocess.run([str(conv_bench.BENCH_PY), "-c", TORCH_LAUNCH], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    use_torch = not args.no_torch and ensure_bench_venv()
    print(
        f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds x {args.repeats} repeats; medians"
    )

    print("\nGEMM float32 (ops.matmul through dispatch vs np.matmul, same process)")
    print(f"{'n':>6s} {'npukernel GFLOP/s':>18s} {'numpy GFLOP/s':>14s} {'ratio':>6s}")
    acc: dict[int, tuple[list, list]] = {n: ([], []) for n in GEMM_SIZES}
    for _ in range(args.rounds):
        for n, (o, t) in gemm(args.repeats).items():
            acc[n][0].extend(o)
            acc[n][1].extend(t)
    for n, (o, t) in acc.items():
        fo, ft = 2 * n**3 / np.median(o) / 1e9, 2 * n**3 / np.median(t) / 1e9
        print(f"{n:6d} {fo:18.1f} {ft:14.1f} {np.median(t) / np.median(o):6.2f}")

    print("\nconv2d float32, kernels (benchmarks/conv_bench.py, run as its own process)")
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "conv_bench.py"),
        "--repeats",
        str(args.repeats),
    ]
    if not use_torch:
        cmd.append("--no-torch")
    print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.rstrip())

    print("\nEager launch overhead: a + b on 1-element float32 tensors (µs per call)")
    ours_l, np_l = launch(args.repeats)
    line = f"npukernel {1e6 * np.median(ours_l):.2f}   numpy {1e6 * np.median(np_l):.2f}"
    if use_torch:
        tl = torch_launch()
        line += f"   torch {1e6 * np.median(tl['add']):.2f}   ratio torch/npukernel {np.median(tl['add']) / np.median(ours_l):.2f}"
    print(line)


if __name__ == "__main__":
    main()
