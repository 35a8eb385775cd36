"""The compile pipeline: trace, passes, fusion, memory plan, generated replay.

``compile_fn`` is what ``jit`` calls on a new input signature::

    trace -> fold_constants -> fold_batch_norm -> fuse_conv_affine -> fuse_relu
          -> eliminate_dead -> drop_unused_saves -> fuse_conv_pool -> fuse -> plan
          -> Program

``NPUKERNEL_DEBUG`` prints what happened: ``1`` one line per compile, ``2`` also the IR
before and after the passes, ``3`` also the generated kernels and replay code.

Example:
    >>> import npukernel as npk
    >>> c = compile_fn(lambda x: npk.ops.relu(x + 1.0) * 2.0, (npk.Tensor([1.0, -3.0]),), {})
    >>> c.stats["kernels"], c.stats["fused"]
    (1, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from npukernel.graph import passes
from npukernel.graph.executor import Program
from npukernel.graph.fusion import fuse
from npukernel.graph.memory import plan
from npukernel.graph.tracer import trace


def debug_level() -> int:
    """The ``NPUKERNEL_DEBUG`` level (0 when unset or not a number)."""
    try:
        return int(os.environ.get("NPUKERNEL_DEBUG", "0"))
    except ValueError:
        return 0


@dataclass
class Compiled:
    """One compiled signature of a function.

    Attributes:
        program: The runnable program.
        result: The eager result of the tracing run (the first call's answer).
        seconds: Compile time (trace + passes + code generation; kernels compile lazily).
        stats: Counts: ops traced, kernels after passes, fused groups, folded, dropped.
        ir_before: The IR as traced (text).
    """

    program: Program
    result: Any
    seconds: float
    stats: dict = field(default_factory=dict)
    ir_before: str = ""
    param_meta: list = field(default_factory=list)
    param_arrays: list = field(default_factory=list)
    one_tensor: bool = False  # the result is one computed Tensor (set by jit)


def compile_fn(fn: Callable, args: tuple, kwargs: dict, name: str | None = None,
               fusion: bool = True) -> Compiled:  # fmt: skip
    """Trace ``fn(*args, **kwargs)`` and compile the graph (see the module docstring).

    Raises:
        GraphError: if the function cannot be traced (the message names the line).
    """
    t0 = perf_counter()
    tr, result = trace(fn, args, kwargs, name)
    g = tr.graph
    level = debug_level()
    before = str(g) if level >= 2 else ""
    traced = len(g.nodes)
    folded = passes.fold_constants(g, tr.trace_arrays)
    bn = passes.fold_batch_norm(g)
    conv_affine = passes.fuse_conv_affine(g) if fusion else 0
    relu_fused = passes.fuse_relu(g) if fusion else 0
    dropped = passes.eliminate_dead(g)
    passes.drop_unused_saves(g)
    conv_pool = passes.fuse_conv_pool(g) if fusion else 0
    fused = fuse(g) if fusion else 0
    mem = plan(g, tr.trace_arrays)
    program = Program(g, mem, tr.trace_arrays)
    seconds = perf_counter() - t0
    stats = {
        "ops": traced, "kernels": len(g.nodes), "fused": fused, "folded": folded,
        "batch_norm_folded": bn, "relu_fused": relu_fused, "conv_affine": conv_affine, "conv_pool": conv_pool, "dropped": dropped, "pooled_buffers": len(mem.buffers),
        "peak_bytes": mem.peak_bytes, "naive_bytes": mem.naive_bytes,
    }  # fmt: skip
    if level >= 1:
        print(f"[npukernel.jit] compiled '{g.name}' in {seconds * 1e3:.1f} ms: {traced} ops -> "
              f"{len(g.nodes)} kernels ({fused} fused, {folded} folded, {dropped} dead, "
              f"{bn} BatchNorm folded, {conv_affine + conv_pool} into convolutions, {relu_fused} ReLU fused); peak {mem.peak_bytes / 2**20:.1f} MiB of "
              f"{mem.naive_bytes / 2**20:.1f} MiB")  # fmt: skip
    if level >= 2:
        print("[npukernel.jit] IR as traced:\n" + before)
        print("[npukernel.jit] IR after passes:\n" + str(g))
    if level >= 3:
        for node in g.nodes:
            if node.kernel is not None:
                print(f"[npukernel.jit] kernel for {node.name}:\n{node.kernel.source}")
        print("[npukernel.jit] replay:\n" + program.source)
    return Compiled(program, result, seconds, stats, before)
