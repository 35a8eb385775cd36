"""The graph IR: values, nodes and the graph that holds them.

A traced step becomes a list of :class:`Node` in execution order. Each node is one
operator (an ``OpDef``), one host update (an optimizer step) or, after fusion, one
generated kernel; it reads :class:`Value` objects and produces new ones. A value is a
graph input, a Parameter (read from the live Parameter on every run), a constant, an
operator output, or the context a kernel saved for its gradient::

    %3 = conv2d(%0, $conv1.weight) {stride=(1, 1), ...}     # at lenet.py:21
    %4, ^4 = max_pool2d(%3) {kernel_size=(2, 2), ...}       # ^4: saved for backward
    host momentum_update(%30, %31, ...)                      # mutates Parameters

Example:
    >>> g = Graph("f")
    >>> x = g.new_value("input", (2, 3), "float32")
    >>> str(x)
    '%0'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INPUT, PARAM, CONST, NODE, SAVED = "input", "param", "const", "node", "saved"


@dataclass(eq=False, slots=True)
class Value:
    """One value flowing through the graph.

    Attributes:
        id: Number within the graph (``%id`` in printouts).
        kind: ``input``, ``param``, ``const``, ``node`` (an output) or ``saved``.
        shape: Static shape (None for a saved context).
        dtype: Numpy dtype name ("" for a saved context).
        producer: The node that makes it (None for inputs, params, constants).
        param: The Parameter object for ``param`` values.
        const: The array for ``const`` values.
        root: Key of the memory block it lives in (views share their base's root).
    """

    id: int
    kind: str
    shape: tuple | None
    dtype: str
    producer: Node | None = None
    param: Any = None
    const: np.ndarray | None = None
    root: int = -1

    def __str__(self) -> str:
        if self.kind == PARAM:
            return f"${self.param.name}"
        if self.kind == SAVED:
            return f"^{self.id}"
        return f"%{self.id}"

    @property
    def nbytes(self) -> int:
        """Bytes of the value (0 for a saved context)."""
        if self.shape is None:
            return 0
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(eq=False, slots=True)
class Node:
    """One step of the graph.

    Attributes:
        name: Operator name, ``host:<name>`` or ``fused:<n>``.
        op: The OpDef (None for host and fused nodes).
        inputs: Values read.
        attrs: Static attributes.
        dyn_attrs: ``(attr, value, index)``: attributes that take a value at run time
            (a saved context, or element ``index`` of one).
        outputs: Values produced.
        saved: The saved-context value (``op.saves``), or None.
        host: For host nodes, ``fn(*arrays)``; it may change its inputs in place.
        fresh_seed: Whether the ``seed`` attribute is drawn anew on every run.
        site: ``file:line`` of the user code that made the call.
        group: For fused nodes, the nodes they replace (in order).
        kernel: For fused nodes, the generated kernel's description.
        device: The Device the node runs on.
    """

    name: str
    op: Any
    inputs: list[Value]
    attrs: dict
    outputs: list[Value]
    dyn_attrs: list[tuple[str, Value, int | None]] = field(default_factory=list)
    saved: Value | None = None
    host: Callable[..., Any] | None = None
    fresh_seed: bool = False
    site: str = ""
    group: list[Node] = field(default_factory=list)
    kernel: Any = None
    device: Any = None

    @property
    def is_host(self) -> bool:
        """Whether this node runs host code (never removed, never reordered)."""
        return self.host is not None

    def reads(self) -> list[Value]:
        """Every value this node needs: inputs and run-time attributes."""
        return self.inputs + [v for _, v, _ in self.dyn_attrs]

    def produces(self) -> list[Value]:
        """Outputs and the saved context."""
        return self.outputs + ([self.saved] if self.saved is not None else [])

    def __str__(self) -> str:
        outs = ", ".join(str(v) for v in self.produces())
        ins = ", ".join(str(v) for v in self.inputs)
        dyn = "".join(
            f", {k}={v}" + (f"[{i}]" if i is not None else "") for k, v, i in self.dyn_attrs
        )
        attrs = ", ".join(f"{k}={_short(a)}" for k, a in self.attrs.items())
        body = f"{self.name}({ins}{dyn})" + (f" {{{attrs}}}" if attrs else "")
        lhs = f"{outs} = " if outs else ""
        where = f"    # {self.site}" if self.site else ""
        return f"{lhs}{body}{where}"


def _short(a: Any) -> str:
    if isinstance(a, np.ndarray):
        return f"array{list(a.shape)}"
    if isinstance(a, np.dtype):
        return a.name
    text = repr(a)
    return text if len(text) <= 40 else text[:37] + "..."


class Graph:
    """A traced function: inputs, parameters, constants, nodes in order, outputs.

    Attributes:
        name: The traced function's name.
        inputs: Input values in argument order (flattened).
        params: Parameter values.
        nodes: Nodes in execution order.
        outputs: Output values (flattened; ``out_tree`` rebuilds the structure).
        out_tree: The function result with each Tensor replaced by its output index.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.params: list[Value] = []
        self.consts: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.out_tree: Any = None
        self._next = 0

    def new_value(self, kind: str, shape: tuple | None, dtype: str, **kw: Any) -> Value:
        """A fresh value numbered after the existing ones."""
        v = Value(self._next, kind, shape, dtype, **kw)
        self._next += 1
        return v

    def users(self) -> dict[int, list[Node]]:
        """Value id -> nodes that read it, in execution order."""
        table: dict[int, list[Node]] = {}
        for node in self.nodes:
            for v in node.reads():
                table.setdefault(v.id, []).append(node)
        return table

    def kernel_count(self) -> int:
        """Launches one run makes (operators, fused kernels and host updates)."""
        return len(self.nodes)

    def __str__(self) -> str:
        head = ", ".join(f"{v}: {v.dtype}{list(v.shape or ())}" for v in self.inputs)
        lines = [f"graph {self.name}({head}) {{"]
        for p in self.params:
            lines.append(f"  param {p}: {p.dtype}{list(p.shape or ())}")
        for node in self.nodes:
            lines.append(f"  {node}")
            for inner in node.group:
                lines.append(f"      | {inner}")
        lines.append(f"  return {', '.join(str(v) for v in self.outputs)}")
        lines.append("}")
        return "\n".join(lines)
