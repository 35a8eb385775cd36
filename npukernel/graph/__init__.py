"""Graph mode: trace a step once, compile it, replay it without per-op dispatch.

``npukernel.jit(fn)`` (or ``set_context(mode=GRAPH_MODE)``, which makes top-level Cell
calls compile) traces forward, backward and optimizer update into one IR of OpDef
nodes, folds constants and inference BatchNorm, drops dead code, fuses elementwise
chains into generated numba kernels, plans buffer reuse and generates straight-line
replay code. ``show(fn, *inputs)`` draws the result in a notebook.

Example:
    >>> import npukernel as npk
    >>> f = npk.jit(lambda x: npk.ops.relu(x - 1.0) * 3.0)
    >>> f(npk.Tensor([2.0, 0.0])).asnumpy().tolist()
    [3.0, 0.0]
"""

from npukernel.graph.compiler import Compiled, compile_fn, debug_level
from npukernel.graph.function import (
    JitFunction,
    bump_phase,
    compiled,
    jit,
    last_compile_seconds,
)
from npukernel.graph.ir import Graph, Node, Value
from npukernel.graph.show import GraphView, show
from npukernel.graph.tracer import trace

__all__ = [
    "Compiled", "Graph", "GraphView", "JitFunction", "Node", "Value", "bump_phase",
    "compile_fn", "compiled", "debug_level", "jit", "last_compile_seconds", "show", "trace",
]  # fmt: skip
