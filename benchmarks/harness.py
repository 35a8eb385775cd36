"""What every benchmark shares: the timing protocol and running one framework per process.

Standard library only: both the project venv and ``.bench-venv`` (torch, onnxruntime)
import it. Each framework runs in a child process (two thread pools in one process fight
for the 2 cores); a child prints one JSON line of raw seconds and the parent takes medians.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
BENCH_PY = ROOT / ".bench-venv" / "bin" / "python"
#: Set by some images; they make OpenBLAS pick a slow kernel.
_SLOW_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: Per model: (batch-1 calls per chunk, batch-64 calls per chunk, training steps per chunk).
#: Sized so a full run of each script stays near three minutes on 2 cores.
COUNTS = {"mlp": (200, 100, 100), "lenet": (100, 20, 40), "resnet20": (10, 1, 3)}


def first_call(fn: Callable[[], object]) -> float:
    """Seconds taken by the first call of ``fn`` (tracing, compiling, cache loads)."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def per_call(fn: Callable[[], object], calls: int, chunks: int) -> list[float]:
    """Seconds of each of ``calls * chunks`` single calls, after ``calls`` warm-up calls."""
    for _ in range(calls):
        fn()
    out = []
    for _ in range(calls * chunks):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def per_chunk(fn: Callable[[], object], calls: int, chunks: int) -> list[float]:
    """Mean seconds per call in each of ``chunks`` chunks of ``calls`` calls, after one warm-up chunk."""
    for _ in range(calls):
        fn()
    out = []
    for _ in range(chunks):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        out.append((time.perf_counter() - t) / calls)
    return out


def median(xs: list[float]) -> float:
    """The median (mean of the middle two for an even count)."""
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def child_env(**extra: str) -> dict:
    """The environment for a benchmark child: 2 OpenMP threads, no slow-BLAS overrides."""
    env = {k: v for k, v in os.environ.items() if k not in _SLOW_ENV}
    env.setdefault("OMP_NUM_THREADS", "2")
    env.update(extra)
    return env


def run_child(cmd: list, env: dict | None = None, timeout: float = 600) -> dict | None:
    """Run one benchmark child and parse its last stdout line; None (and why) if it fails."""
    try:
        out = subprocess.run(cmd, env=env or child_env(), capture_output=True, text=True,
                             timeout=timeout, check=True)  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        tail = (getattr(e, "stderr", None) or str(e)).strip().splitlines()[-3:]
        print(f"  [{Path(str(cmd[1])).name} {' '.join(map(str, cmd[2:3]))} failed: {' | '.join(tail)}]",
              file=sys.stderr)  # fmt: skip
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_note() -> str:
    """The 1-minute load average, to print beside the figures (the machine is shared)."""
    return f"load average {os.getloadavg()[0]:.2f}"


def npukernel_graph() -> object | None:
    """``npukernel.graph`` once graph mode has landed (``npk.jit`` exists), else None.

    Until then ``set_context(mode=GRAPH_MODE)`` is accepted and runs op by op.
    """
    import npukernel

    if not hasattr(npukernel, "jit"):
        return None
    try:
        from npukernel import graph
    except ImportError:
        return None
    return graph


def merge_rounds(rounds: list[dict]) -> dict | None:
    """Pool the children's results of several rounds: all timed chunks, median first call."""
    rounds = [r for r in rounds if r]
    if not rounds:
        return None
    out = dict(rounds[0], res={})
    for key in rounds[0]["res"]:
        cases = [r["res"][key] for r in rounds]
        merged = {
            "first": median([c["first"] for c in cases]),
            "ts": [t for c in cases for t in c["ts"]],
        }
        comp = [c["compile"] for c in cases if c.get("compile") is not None]
        merged["compile"] = median(comp) if comp else None
        out["res"][key] = merged
    return out


def run_rounds(children: dict, rounds: int, timeout: float = 600) -> dict:
    """Run every child (name -> command) once per round, sides taking turns, and pool rounds.

    Taking turns spreads a burst of load from the shared machine over all sides.
    """
    got: dict = {name: [] for name in children}
    for _ in range(rounds):
        for name, cmd in children.items():
            got[name].append(run_child(cmd, timeout=timeout))
    return {name: merge_rounds(rs) for name, rs in got.items()}
