"""Trace a Python function into a :class:`~npukernel.graph.ir.Graph`.

The function runs once, eagerly, on the real inputs, while ``npukernel.tracing`` reports
every operator call, host update and value read to the :class:`Tracer`. Each array an
operator produces is remembered by identity, so a later call that receives it (even
through ``detach()`` or a gradient rule's ``node.output()``) is wired to the right value.
A tensor the tracer has never seen is a Parameter (read live on every run) or a constant
(copied now). Reading a traced value from Python (``if loss > 0:``, ``loss.item()``)
would bake one run's data into the graph, so it raises :class:`GraphError` naming the
line.

Example:
    >>> import npukernel as npk
    >>> tr, out = trace(lambda x: npk.ops.relu(x) * 2, (npk.Tensor([1.0, -1.0]),))
    >>> [n.name for n in tr.graph.nodes]
    ['relu', 'mul']
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from npukernel import tracing
from npukernel.errors import GraphError
from npukernel.graph.ir import CONST, INPUT, NODE, PARAM, SAVED, Graph, Node, Value
from npukernel.graph.memory import block_of
from npukernel.ops.opdef import RANDOM
from npukernel.tensor import Parameter, Tensor

# frames inside npukernel are not the line a user should look at: a node made by
# nn.Conv2d is reported at the user's construct line that called the layer
_MACHINERY = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,)

FALLBACK_HINT = (
    "Run it in PYNATIVE mode instead (npukernel.set_context(mode=npukernel.PYNATIVE_MODE)), "
    "or pass fallback=True to npukernel.jit to fall back automatically with a warning."
)


def user_site(skip_machinery: bool = True) -> tuple[str, str]:
    """``("file:line", "source text")`` of the innermost frame outside the machinery."""
    frame = sys._getframe(1)
    while frame is not None:
        fname = frame.f_code.co_filename
        if not (skip_machinery and fname.startswith(_MACHINERY)):
            line = linecache.getline(fname, frame.f_lineno).strip()
            return (
                f"{os.path.relpath(fname) if fname.startswith(os.getcwd()) else fname}:{frame.f_lineno}",
                line,
            )
        frame = frame.f_back
    return "<unknown>", ""


class Tracer:
    """Receives the tracing hooks and builds the graph."""

    def __init__(self, name: str) -> None:
        self.graph = Graph(name)
        self.by_array: dict[int, Value] = {}
        self.by_obj: dict[int, tuple[Value, int | None]] = {}
        self.params: dict[int, Value] = {}
        self.seeds: set[int] = set()
        self.keep: list[Any] = []  # keeps traced arrays alive so their ids stay unique
        self.trace_arrays: dict[int, np.ndarray] = {}  # value id -> array seen while tracing

    # -- values ----------------------------------------------------------------------
    def _register(self, v: Value, arr: np.ndarray) -> Value:
        self.by_array[id(arr)] = v
        self.keep.append(arr)
        self.trace_arrays[v.id] = arr
        v.root = block_of(arr)
        return v

    def add_input(self, t: Tensor) -> Value:
        """Make ``t`` a graph input."""
        arr = t._data
        v = self.graph.new_value(INPUT, arr.shape, arr.dtype.name)
        self.graph.inputs.append(v)
        return self._register(v, arr)

    def value_of(self, t: Tensor) -> Value:
        """The value ``t`` holds: traced, a Parameter, or a new constant."""
        if isinstance(t, Parameter):
            v = self.params.get(id(t))
            if v is None:
                arr = t._data
                v = self.graph.new_value(PARAM, arr.shape, arr.dtype.name, param=t)
                v.root = block_of(arr)
                self.params[id(t)] = v
                self.graph.params.append(v)
                self.trace_arrays[v.id] = arr
                self.by_array[id(arr)] = v  # p.detach() in a gradient rule is still p
                self.keep.append(arr)
            return v
        v = self.by_array.get(id(t._data))
        if v is not None:
            return v
        arr = np.array(t._data, copy=True)  # a plain tensor made outside the graph: frozen
        v = self.graph.new_value(CONST, arr.shape, arr.dtype.name, const=arr)
        self.graph.consts.append(v)
        return self._register(v, t._data)

    def _attr_ref(self, a: Any) -> tuple[Value, int | None] | None:
        hit = self.by_obj.get(id(a))
        if hit is not None:
            return hit
        if isinstance(a, np.ndarray):
            v = self.by_array.get(id(a))
            if v is not None:
                return v, None
        return None

    # -- hooks -----------------------------------------------------------------------
    def record_op(self, op: Any, inputs: Sequence[Tensor], attrs: dict, outs: Sequence[Tensor],
                  saved: Any) -> None:  # fmt: skip
        """An operator ran (called from ``ops.dispatch.apply``)."""
        ins = [self.value_of(t) for t in inputs]
        static: dict = {}
        dyn: list = []
        for key, a in attrs.items():
            ref = self._attr_ref(a)
            if ref is not None:
                dyn.append((key, ref[0], ref[1]))
            else:
                static[key] = a
        g = self.graph
        out_values = [
            self._register(g.new_value(NODE, t._data.shape, t._data.dtype.name), t._data)
            for t in outs
        ]
        node = Node(op.name, op, ins, static, out_values, dyn_attrs=dyn, device=inputs[0]._device)
        for v in out_values:
            v.producer = node
        if saved is not None:
            sv = g.new_value(SAVED, None, "", producer=node)
            node.saved = sv
            self.keep.append(saved)
            self.by_obj[id(saved)] = (sv, None)
            if isinstance(saved, (tuple, list)):
                for k, part in enumerate(saved):
                    self.keep.append(part)
                    self.by_obj[id(part)] = (sv, k)
            self.trace_arrays[sv.id] = saved
        if op.group == RANDOM and static.get("seed") in self.seeds:
            node.fresh_seed = True
        node.site = user_site()[0]
        g.nodes.append(node)

    def record_host(self, name: str, fn: Callable, inputs: Sequence[Tensor],
                    mutates: Sequence[Tensor]) -> None:  # fmt: skip
        """Host code ran on tensors' arrays (``tracing.host_call``)."""
        ins = [self.value_of(t) for t in (*inputs, *mutates)]
        node = Node(f"host:{name}", None, ins, {}, [], host=fn, site=user_site()[0])
        self.graph.nodes.append(node)

    def on_read(self, t: Tensor, how: str) -> None:
        """Python reads a tensor's value: an error unless it is a constant."""
        v = self.by_array.get(id(t._data))
        if v is None and not isinstance(t, Parameter):
            return  # a constant made outside the graph
        if v is not None and v.kind == CONST:
            return
        site, line = user_site()
        what = "a Parameter's value" if isinstance(t, Parameter) else "a traced tensor's value"
        raise GraphError(
            f"For 'jit', '{self.graph.name}' reads {what} with {how} at {site}"
            + (f" (`{line}`)" if line else "")
            + ". A compiled graph cannot depend on tensor values through Python: data-dependent "
            "'if'/'while', item() and asnumpy() inside a compiled function are not supported "
            "(use ops.where for data-dependent choices). " + FALLBACK_HINT
        )

    def on_write(self, t: Tensor, how: str) -> None:
        """Python changes a tensor in place: the replay would not repeat it."""
        site, line = user_site()
        raise GraphError(
            f"For 'jit', '{self.graph.name}' changes a tensor in place with {how} at {site}"
            + (f" (`{line}`)" if line else "")
            + ". In-place assignment is not recorded in a compiled graph; compute a new tensor "
            "instead (ops.where, ops.concat...). " + FALLBACK_HINT
        )

    def on_seed(self, seed: int) -> None:
        """A random kernel's seed came from the global generator: redraw it every run."""
        self.seeds.add(seed)


def flatten(obj: Any, leaves: list) -> Any:
    """Replace each Tensor in nested tuples/lists/dicts by its index in ``leaves``."""
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return _Leaf(len(leaves) - 1)
    if isinstance(obj, tuple):
        return tuple(flatten(o, leaves) for o in obj)
    if isinstance(obj, list):
        return [flatten(o, leaves) for o in obj]
    if isinstance(obj, dict):
        return {k: flatten(o, leaves) for k, o in obj.items()}
    return obj


def unflatten(tree: Any, leaves: Sequence[Any]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(tree, _Leaf):
        return leaves[tree.index]
    if isinstance(tree, tuple):
        return tuple(unflatten(o, leaves) for o in tree)
    if isinstance(tree, list):
        return [unflatten(o, leaves) for o in tree]
    if isinstance(tree, dict):
        return {k: unflatten(o, leaves) for k, o in tree.items()}
    return tree


class _Leaf:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<out {self.index}>"


def trace(fn: Callable, args: tuple, kwargs: dict | None = None,
          name: str | None = None) -> tuple[Tracer, Any]:  # fmt: skip
    """Run ``fn(*args, **kwargs)`` once under a tracer.

    Returns:
        ``(tracer, result)``: the tracer (``tracer.graph`` is the graph, outputs set) and
        the eager result of this run.

    Raises:
        GraphError: for value reads (see :meth:`Tracer.on_read`) or nested tracing.
    """
    if tracing.state.tracer is not None:
        raise GraphError("For 'jit', a graph is already being traced in this thread.")
    tr = Tracer(name or getattr(fn, "__qualname__", type(fn).__name__))
    leaves: list[Tensor] = []
    flatten((args, kwargs or {}), leaves)
    for t in leaves:
        tr.add_input(t)
    tracing.state.tracer = tr
    try:
        result = fn(*args, **(kwargs or {}))
    finally:
        tracing.state.tracer = None
    out_leaves: list[Tensor] = []
    tree = flatten(result, out_leaves)
    g = tr.graph
    g.outputs = [tr.value_of(t) for t in out_leaves]
    g.out_tree = tree
    return tr, result
