"""Training throughput: npukernel PYNATIVE and GRAPH_MODE vs PyTorch eager (and MindSpore CPU).

Run from the repository root::

    .venv/bin/python benchmarks/train.py [--models mlp,lenet,resnet20] [--chunks 5]

Each framework, and each npukernel mode, runs in its own process (their thread pools
would fight for the 2 cores), 2 threads, float32, SGD momentum 0.9, softmax cross-entropy,
synthetic data of the right shape. The first step is timed on its own (GRAPH_MODE traces
and compiles there; every side may compile or load kernels); then, after a warm-up chunk,
the median of ``--chunks`` timed chunks of steps is reported as images per second
(``--rounds N`` runs every side N times, taking turns, and pools the chunks). Ratios
are npukernel / PyTorch (above 1: npukernel is faster).

MindSpore runs the same code as npukernel (models.py and this file's child, with the name
``npukernel`` bound to ``mindspore``) in GRAPH_MODE, from ``.bench-venv/ms-venv``; it is
created here on first use (``pip install mindspore==2.10.0``, about a minute) and skipped with a note if that fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from harness import (
    BENCH_PY,
    COUNTS,
    HERE,
    ROOT,
    first_call,
    load_note,
    median,
    npukernel_graph,
    per_chunk,
    run_rounds,
)

CASES = [("mlp", 64), ("mlp", 256), ("lenet", 64), ("resnet20", 64)]
MS_VENV = ROOT / ".bench-venv" / "ms-venv"
MS_PY = MS_VENV / "bin" / "python"


def run_npukernel(cases: list, chunks: int, mode: str) -> dict:
    """The child: first-step and per-step seconds; ``mode`` is pynative, graph or mindspore."""
    if mode == "mindspore":  # MindSpore's API is the one npukernel copies: run the same code
        import mindspore

        mindspore.set_context(mode=mindspore.GRAPH_MODE, runtime_num_threads=2)
        mindspore.set_device("CPU")
        sys.modules["npukernel"] = mindspore
    sys.path.insert(0, str(ROOT))
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
        step = nn.TrainOneStepCell(
            nn.WithLossCell(net, loss), opt
        ).set_train()  # as torch: BN trains
        rng = np.random.default_rng(0)
        x = npk.Tensor(rng.standard_normal((batch, *shape), dtype=np.float32))
        y = npk.Tensor(rng.integers(0, 10, batch).astype(np.int32))
        first = first_call(lambda step=step, x=x, y=y: step(x, y))
        ts = per_chunk(lambda step=step, x=x, y=y: step(x, y), COUNTS[name][2], chunks)
        res[f"{name}-b{batch}"] = {"first": first, "compile": _compile_seconds(mode), "ts": ts}
    return {
        "version": npk.__version__,
        "graph_active": npukernel_graph() is not None,
        "res": res,
    }


def _compile_seconds(mode: str) -> float | None:
    """npukernel.graph's own compile time of the last signature, where it reports one."""
    if mode != "graph":
        return None
    fn = getattr(npukernel_graph(), "last_compile_seconds", None)
    return fn() if fn is not None else None


def ensure_mindspore() -> str | None:
    """Create the MindSpore venv when missing; None when usable, else the reason it is not."""
    if not MS_PY.exists():
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(MS_VENV)], check=True, capture_output=True
            )
            subprocess.run([str(MS_PY), "-m", "pip", "install", "-q", "mindspore==2.10.0"], check=True,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            tail = (getattr(e, "stderr", None) or str(e)).strip().splitlines()[-1:]
            return f"pip install mindspore failed: {' '.join(tail)}"
    return None


def report(cases: list, chunks: int, sides: dict) -> None:
    """Print img/s per side, ratios to PyTorch, and GRAPH_MODE's first step apart."""
    print(f"\n{load_note()}; medians of {chunks} chunks; img/s; 2 threads, float32")
    if "GRAPH" in sides and not sides["GRAPH"].get("graph_active"):
        print("note: npukernel.graph is not there yet, so GRAPH_MODE ran op by op (as PYNATIVE)")
    cols = list(sides)
    ratios = [
        (a, "torch") for a in ("GRAPH", "PYNATIVE", "MindSpore") if a in sides and "torch" in sides
    ]
    print(
        f"{'case':14s}"
        + "".join(f"{c:>11s}" for c in cols)
        + "".join(f"{a + '/' + b:>17s}" for a, b in ratios)
    )
    for name, batch in cases:
        key = f"{name}-b{batch}"
        secs = {c: median(sides[c]["res"][key]["ts"]) for c in cols}
        line = f"{key:14s}" + "".join(f"{batch / secs[c]:11.0f}" for c in cols)
        print(line + "".join(f"{secs[b] / secs[a]:17.2f}" for a, b in ratios))
    print("\nfirst step vs steady step, ms (GRAPH_MODE: the first step traces and compiles)")
    print(f"{'case':14s}" + "".join(f"{c + ' 1st':>15s}{c + ' step':>15s}" for c in cols))
    for name, batch in cases:
        key = f"{name}-b{batch}"
        r = {c: sides[c]["res"][key] for c in cols}
        print(
            f"{key:14s}"
            + "".join(f"{r[c]['first'] * 1e3:15.1f}{median(r[c]['ts']) * 1e3:15.2f}" for c in cols)
        )
    if "GRAPH" in sides:
        comp = [sides["GRAPH"]["res"][f"{n}-b{b}"]["compile"] for n, b in cases]
        if any(c is not None for c in comp):
            print("GRAPH compile (npukernel.graph.last_compile_seconds), s: "
                  + ", ".join(f"{n}-b{b} {c:.2f}" for (n, b), c in zip(cases, comp) if c is not None))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,lenet,resnet20")
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="run every side this many times, in turn")
    ap.add_argument("--side", choices=["all", "npukernel"], default="all")
    ap.add_argument("--no-mindspore", action="store_true", help="skip the MindSpore column")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    wanted = set(args.models.split(","))
    cases = [c for c in CASES if c[0] in wanted]
    if args.child:
        print(json.dumps(run_npukernel(cases, args.chunks, args.child)))
        return
    me = [__file__, "--models", args.models, "--chunks", str(args.chunks), "--child"]
    children = {
        "PYNATIVE": [sys.executable, *me, "pynative"],
        "GRAPH": [sys.executable, *me, "graph"],
    }
    why = None
    if args.side == "all":
        if BENCH_PY.exists():
            children["torch"] = [str(BENCH_PY), str(HERE / "torch_models.py"), "train", json.dumps(cases),
                                 str(args.chunks)]  # fmt: skip
        else:
            print(f"{BENCH_PY} missing: no PyTorch column (see benchmarks/kernels.py to create it)")
        why = "skipped (--no-mindspore)" if args.no_mindspore else ensure_mindspore()
        if why is None:
            children["MindSpore"] = [str(MS_PY), *me, "mindspore"]
    sides = run_rounds(children, args.rounds, timeout=900)
    if sides.get("torch"):
        print(f"torch {sides['torch']['torch']}")
    if "MindSpore" in sides:
        if sides["MindSpore"]:
            print(f"MindSpore {sides['MindSpore']['version']} (GRAPH_MODE, CPU)")
        else:
            why = "its child failed (stderr above)"
    if why:
        print(f"MindSpore: not installable here ({why})" if "pip" in why else f"MindSpore: {why}")
    report(cases, args.chunks * args.rounds, {k: v for k, v in sides.items() if v is not None})


if __name__ == "__main__":
    main()
