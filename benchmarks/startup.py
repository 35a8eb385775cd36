"""Start-up costs: ``import npukernel`` and a fresh process's first train step.

Run from the repository root::

    .venv/bin/python benchmarks/startup.py [--models lenet] [--chunks 5] [--cold 1]

1. ``import npukernel`` in a fresh interpreter, timed inside it (median of ``--chunks``),
   beside the whole process's wall time (interpreter start + import).
2. The first training step of each model (default LeNet-5, batch 64:
   ``TrainOneStepCell(WithLossCell(net, SoftmaxCrossEntropyWithLogits(sparse=True,
   reduction="mean")), nn.Momentum)``) in a new process, in PYNATIVE and GRAPH_MODE:
   with a warm numba cache (one unreported run warms it, then the median of ``--chunks``
   runs) and with a cold one (``NPUKERNEL_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` pointed at
   fresh temporary directories; ``--cold`` runs, median). Each run also reports its import
   time and its second step, which shows what the first step paid for.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from harness import ROOT, child_env, load_note, median, npukernel_graph, run_child

IMPORT_ONLY = (
    "import time; t = time.perf_counter(); import npukernel; print(time.perf_counter() - t)"
)
SHAPES = {"mlp": (1, 28, 28), "lenet": (1, 28, 28), "resnet20": (3, 32, 32)}


def first_step(name: str, mode: str, batch: int = 64) -> dict:
    """The child: import, build and the first two train steps of one model, in seconds."""
    t0 = time.perf_counter()
    import numpy as np

    import npukernel as npk
    from npukernel import nn

    t_import = time.perf_counter() - t0
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from models import MODELS

    if mode == "graph":
        npk.set_context(mode=npk.GRAPH_MODE)
    npk.set_seed(0)
    cls, shape = MODELS[name]
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    net = cls()
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt).set_train()
    rng = np.random.default_rng(0)
    x = npk.Tensor(rng.standard_normal((batch, *shape), dtype=np.float32))
    y = npk.Tensor(rng.integers(0, 10, batch).astype(np.int32))
    t = time.perf_counter()
    step(x, y)
    t_first = time.perf_counter() - t
    compile_s = (
        getattr(npukernel_graph(), "last_compile_seconds", None) if mode == "graph" else None
    )
    t = time.perf_counter()
    step(x, y)
    t_second = time.perf_counter() - t
    return {
        "import": t_import,
        "first": t_first,
        "second": t_second,
        "compile": compile_s() if compile_s is not None else None,
        "graph_active": npukernel_graph() is not None,
    }


def time_import(repeats: int) -> tuple[list, list]:
    """In-process import seconds and whole-process wall seconds of ``repeats`` fresh imports."""
    inside, wall = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", IMPORT_ONLY], env=child_env(), cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
        wall.append(time.perf_counter() - t)
        inside.append(float(out.stdout.strip().splitlines()[-1]))
    return inside, wall


def run_first_steps(name: str, mode: str, runs: int, cold: bool) -> list[dict]:
    """``runs`` fresh processes each timing one first step (cold: empty caches each time)."""
    me = [sys.executable, __file__, "--child", f"{name}:{mode}"]
    out = []
    if not cold:
        run_child(me)  # warms numba's and npukernel's caches
    for _ in range(runs):
        if cold:
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                r = run_child(me, env=child_env(NPUKERNEL_CACHE_DIR=a, NUMBA_CACHE_DIR=b))
        else:
            r = run_child(me)
        if r:
            out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="lenet")
    ap.add_argument("--chunks", type=int, default=5, help="import repeats and warm-cache runs")
    ap.add_argument("--cold", type=int, default=1, help="cold-cache runs per mode")
    ap.add_argument("--modes", default="pynative,graph")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, mode = args.child.split(":")
        print(json.dumps(first_step(name, mode)))
        return
    inside, wall = time_import(args.chunks)
    print(f"{load_note()}")
    print(f"import npukernel: {median(inside):.3f} s inside the process, {median(wall):.3f} s "
          f"process wall (median of {args.chunks})")  # fmt: skip
    rows = []
    for name in args.models.split(","):
        for mode in args.modes.split(","):
            for cache, runs in (("warm", args.chunks), ("cold", args.cold)):
                rs = run_first_steps(name, mode, runs, cache == "cold")
                if rs:
                    rows.append((name, mode, cache, len(rs), rs))
    if any(r[1] == "graph" for r in rows) and not any(rs[0]["graph_active"] for *_, rs in rows):
        print("note: npukernel.graph is not there yet, so GRAPH_MODE ran op by op (as PYNATIVE)")
    print(f"\nfirst train step, batch 64, fresh process; {load_note()}; medians; seconds")
    print(f"{'model':9s}{'mode':>10s}{'cache':>7s}{'runs':>5s}{'import':>9s}{'1st step':>10s}"
          f"{'2nd step':>10s}{'compile':>9s}")  # fmt: skip
    for name, mode, cache, n, rs in rows:
        comp = [r["compile"] for r in rs if r["compile"] is not None]
        comp_s = f"{median(comp):9.2f}" if comp else f"{'-':>9s}"
        print(f"{name:9s}{mode:>10s}{cache:>7s}{n:5d}{median([r['import'] for r in rs]):9.3f}"
              f"{median([r['first'] for r in rs]):10.3f}{median([r['second'] for r in rs]):10.4f}{comp_s}")  # fmt: skip


if __name__ == "__main__":
    main()
