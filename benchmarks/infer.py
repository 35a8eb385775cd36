"""Inference speed: npukernel PYNATIVE and GRAPH_MODE vs PyTorch eager and onnxruntime.

Run from the repository root::

    .venv/bin/python benchmarks/infer.py [--models mlp,lenet,resnet20] [--chunks 5]

For each model of models.py (eval mode: BatchNorm uses its moving statistics), float32,
2 threads: batch-1 latency (median over single calls, ms) and batch-64 throughput (median
of ``--chunks`` timed chunks after a warm-up chunk, img/s); ``--rounds N`` runs every side N
times, taking turns, and pools the samples. npukernel runs under
``set_train(False)`` + ``no_grad`` (what ``Model.predict`` does), PyTorch under
``torch.inference_mode``, onnxruntime on the PyTorch twins exported with
``torch.onnx.export(dynamo=False)`` (2 intra-op threads, 1 inter-op). Every framework, and
each npukernel mode, runs in its own process. Ratios are speed ratios (their time / our
time): above 1, npukernel is faster. Weights are random on both sides. The onnxruntime
column needs ``.bench-venv/bin/pip install onnxruntime onnx``; a side that fails is left
out with its error on stderr.
"""

from __future__ import annotations

import argparse
import json
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
    per_call,
    per_chunk,
    run_rounds,
)

BATCHES = (1, 64)


def run_npukernel(names: list, chunks: int, mode: str) -> dict:
    """The npukernel child: per-call seconds for each model at batch 1 and 64."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from models import MODELS

    import npukernel as npk

    npk.set_seed(0)
    if mode == "graph":
        npk.set_context(mode=npk.GRAPH_MODE)
    res = {}
    with npk.no_grad():
        for name in names:
            cls, shape = MODELS[name]
            net = cls()
            net.set_train(False)
            rng = np.random.default_rng(0)
            n1, n64, _ = COUNTS[name]
            for batch, n, timer in ((1, n1, per_call), (64, n64, per_chunk)):
                x = npk.Tensor(rng.standard_normal((batch, *shape), dtype=np.float32))
                first = first_call(lambda net=net, x=x: net(x).asnumpy())
                ts = timer(lambda net=net, x=x: net(x).asnumpy(), n, chunks)
                res[f"{name}-b{batch}"] = {"first": first, "ts": ts}
    return {"graph_active": npukernel_graph() is not None, "res": res}


def report(names: list, chunks: int, sides: dict) -> None:
    """Print the latency and throughput tables with speed ratios."""
    cols = list(sides)
    print(
        f"\n{load_note()}; medians ({chunks} chunks at batch 64); 2 threads, float32; ratios = speed ratios (>1: npukernel faster)"
    )
    if "GRAPH" in sides and not sides["GRAPH"].get("graph_active"):
        print("note: npukernel.graph is not there yet, so GRAPH_MODE ran op by op (as PYNATIVE)")
    ratios = [("GRAPH", "onnxrt"), ("GRAPH", "torch"), ("PYNATIVE", "torch")]
    ratios = [(a, b) for a, b in ratios if a in sides and b in sides]
    for batch, title, unit in ((1, "batch-1 latency", "ms"), (64, "batch-64 throughput", "img/s")):
        print(f"\n{title} ({unit})")
        print(
            f"{'model':10s}"
            + "".join(f"{c:>10s}" for c in cols)
            + "".join(f"{a + '/' + b:>16s}" for a, b in ratios)
        )
        for name in names:
            key = f"{name}-b{batch}"
            secs = {c: median(sides[c]["res"][key]["ts"]) for c in cols}
            shown = [secs[c] * 1e3 if batch == 1 else batch / secs[c] for c in cols]
            line = f"{name:10s}" + "".join(
                f"{v:10.3f}" if batch == 1 else f"{v:10.0f}" for v in shown
            )
            line += "".join(f"{secs[b] / secs[a]:16.2f}" for a, b in ratios)
            print(line)
    print("\nfirst call, s (GRAPH_MODE: trace + compile; all: kernel compile or cache load)")
    print(f"{'case':12s}" + "".join(f"{c:>10s}" for c in cols))
    for name in names:
        for batch in BATCHES:
            key = f"{name}-b{batch}"
            print(f"{key:12s}" + "".join(f"{sides[c]['res'][key]['first']:10.3f}" for c in cols))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,lenet,resnet20")
    ap.add_argument("--chunks", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="run every side this many times, in turn")
    ap.add_argument("--side", choices=["all", "npukernel"], default="all")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = [n for n in ("mlp", "lenet", "resnet20") if n in args.models.split(",")]
    if args.child:
        print(json.dumps(run_npukernel(names, args.chunks, args.child)))
        return
    me = [sys.executable, __file__, "--models", ",".join(names), "--chunks", str(args.chunks)]
    children = {"PYNATIVE": [*me, "--child", "pynative"], "GRAPH": [*me, "--child", "graph"]}
    if args.side == "all" and not BENCH_PY.exists():
        print(f"{BENCH_PY} missing: npukernel only (see benchmarks/kernels.py to create it)")
    elif args.side == "all":
        child = [str(BENCH_PY), str(HERE / "torch_models.py")]
        children["torch"] = [*child, "infer", json.dumps(names), str(args.chunks)]
        children["onnxrt"] = [*child, "onnx", json.dumps(names), str(args.chunks)]
    sides = run_rounds(children, args.rounds)
    versions = {"torch": "torch", "onnxrt": "onnxruntime"}
    versions = {k: sides[k][v] for k, v in versions.items() if sides.get(k)}
    if versions:
        print("versions:", ", ".join(f"{k} {v}" for k, v in versions.items()))
    report(names, args.chunks * args.rounds, {k: v for k, v in sides.items() if v is not None})


if __name__ == "__main__":
    main()
