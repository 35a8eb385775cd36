"""Elementwise fusion: chains of elementwise operators become one generated kernel.

Grouping walks the nodes in order. An elementwise node (an OpDef with a ``scalar``
function) joins the open group of an input's producer when it has the group's output
shape and every input is either full-size, a scalar or a per-channel vector (one run of
dimensions, like a bias ``(C,)`` on ``(N, C)`` or BatchNorm's ``(1, C, 1, 1)``). A group
closes as soon as a node outside it reads one of its values (the group runs where its
last member was, so an earlier reader would find nothing) and at every host update.
Matmul, convolution, reductions and movement cut chains.

Each group becomes one kernel whose source is generated from the scalar functions of
``kernels/scalar.py`` (a lone elementwise node too: the direct call skips the eager
kernel's per-call broadcast analysis); temporaries stay in registers and only values read
outside the group are stored::

    for q in range(outer):                 # with per-channel operands
        for c in range(C):
            s1 = bias[c]
            for k in range(inner):
                i = (q * C + c) * inner + k
                t0 = add(x[i], s1)
                out0[i] = relu(t0)

The source depends only on the expression and the operand kinds, not on shapes, so one
compiled kernel serves every batch size and numba caches it on disk.

Example:
    >>> import npukernel as npk
    >>> from npukernel.graph.tracer import trace
    >>> b = npk.Tensor([1.0, 2.0])
    >>> tr, _ = trace(lambda x: npk.ops.relu(x + b), (npk.Tensor([[1.0, -3.0]]),))
    >>> fuse(tr.graph)
    1
    >>> [n.name for n in tr.graph.nodes]
    ['fused:add+relu']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from npukernel.graph.ir import Graph, Node, Value
from npukernel.kernels import codegen
from npukernel.ops.opdef import ELEMENTWISE

FULL, SCALAR, CHANNEL = "full", "scalar", "channel"


def _pattern(shape: tuple, operand: tuple) -> tuple[str, int, int] | None:
    """How ``operand`` broadcasts to ``shape``: (kind, size, inner) or None."""
    if operand == shape:
        return FULL, 0, 0
    if int(np.prod(operand, dtype=np.int64)) == 1:
        return SCALAR, 1, 1
    if len(operand) > len(shape):
        return None
    padded = (1,) * (len(shape) - len(operand)) + tuple(operand)
    kept = [d for d, (a, b) in enumerate(zip(padded, shape)) if a == b and a != 1]
    if any(a not in (1, b) for a, b in zip(padded, shape)) or not kept:
        return None
    lo, hi = kept[0], kept[-1] + 1
    if any(padded[d] != shape[d] for d in range(lo, hi)):
        return None  # broadcast dims inside the run
    size = int(np.prod(shape[lo:hi], dtype=np.int64))
    inner = int(np.prod(shape[hi:], dtype=np.int64))
    return CHANNEL, size, inner


def _fusable(node: Node) -> bool:
    op = node.op
    if op is None or not op.scalar or op.group not in ELEMENTWISE or op.view or op.saves:
        return False
    if len(node.outputs) != 1 or node.dyn_attrs:
        return False
    out = node.outputs[0]
    if not out.shape or 0 in out.shape:
        return False
    dts = [v.dtype for v in (*node.inputs, out)]
    if "float16" in dts or "" in dts:
        return False
    if op.scalar == "cast" and node.attrs["dtype"].name == "float16":
        return False
    return all(_pattern(out.shape, v.shape) is not None for v in node.inputs)


@dataclass
class _Group:
    shape: tuple
    nodes: list
    closed: bool = False


def fuse(graph: Graph) -> int:
    """Replace each group of fusable nodes by one generated kernel.

    Returns:
        How many groups fused two or more nodes.
    """
    group_of: dict[int, _Group] = {}  # value id -> open group that produced it
    groups: list[_Group] = []
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    for node in graph.nodes:
        target = None
        if _fusable(node):
            shape = node.outputs[0].shape
            for v in node.inputs:
                g = group_of.get(v.id)
                if g is None or g.closed or g.shape != shape or g is target:
                    continue
                if target is None:
                    target = g
                else:  # two open groups meet here: one kernel for both
                    target.nodes = sorted(target.nodes + g.nodes, key=lambda n: order[id(n)])
                    for n in g.nodes:
                        for o in n.outputs:
                            group_of[o.id] = target
                    g.nodes, g.closed = [], True
        if node.is_host:
            for g in groups:
                g.closed = True
        for v in node.reads():  # a reader outside a group closes it
            g = group_of.get(v.id)
            if g is not None and g is not target:
                g.closed = True
        if target is None and _fusable(node):
            target = _Group(node.outputs[0].shape, [])
            groups.append(target)
        if target is not None:
            target.nodes.append(node)
            for v in node.outputs:
                group_of[v.id] = target
    # a lone elementwise node becomes a one-node kernel too: the generated call skips the
    # eager kernel's per-call broadcast analysis (several microseconds on small tensors)
    chosen = {id(n): g for g in groups if g.nodes for n in g.nodes}
    if not chosen:
        return 0
    users = graph.users()
    outputs = {v.id for v in graph.outputs}
    new_nodes: list[Node] = []
    for node in graph.nodes:
        g = chosen.get(id(node))
        if g is None:
            new_nodes.append(node)
        elif node is g.nodes[-1]:
            new_nodes.append(_fused_node(g.nodes, users, outputs))
    graph.nodes = new_nodes
    return sum(1 for g in groups if len(g.nodes) > 1)


def _fused_node(nodes: list[Node], users: dict, graph_outputs: set) -> Node:
    members = {id(n) for n in nodes}
    made = {v.id for n in nodes for v in n.outputs}
    ext: list[Value] = []
    for n in nodes:
        for v in n.inputs:
            if v.id not in made and all(v is not e for e in ext):
                ext.append(v)
    outs = [
        v
        for n in nodes
        for v in n.outputs
        if v.id in graph_outputs or any(id(u) not in members for u in users.get(v.id, []))
    ]
    shape = nodes[-1].outputs[0].shape
    kernel = FusedKernel(nodes, ext, outs, shape)
    name = "fused:" + "+".join(n.name for n in nodes)
    fused = Node(name, None, ext, {}, outs, site=nodes[0].site, group=list(nodes),
                 kernel=kernel, device=nodes[0].device)  # fmt: skip
    for v in outs:
        v.producer = fused
    return fused


class FusedKernel:
    """The generated kernel of one fused group and how to call it.

    Attributes:
        source: The generated Python/numba source.
        patterns: Per external input, ``(kind, size, inner)``.
        fn: The compiled function ``fn(n, [C, inner,] out..., in...)`` (loaded lazily).
    """

    def __init__(self, nodes: list[Node], ext: list[Value], outs: list[Value],
                 shape: tuple) -> None:  # fmt: skip
        self.size = int(np.prod(shape, dtype=np.int64))
        self.patterns = [_pattern(shape, v.shape) for v in ext]
        chan = {(s, i) for k, s, i in self.patterns if k == CHANNEL}
        self.nested = len(chan) == 1
        self.channel = next(iter(chan)) if self.nested else None
        self.source = self._generate(nodes, ext, outs)
        self._fn: Any = None

    @property
    def fn(self) -> Any:
        """The compiled kernel."""
        if self._fn is None:
            self._fn = codegen.load_source("fused", self.source).fused
        return self._fn

    def _generate(self, nodes: list[Node], ext: list[Value], outs: list[Value]) -> str:
        names: dict[int, str] = {}
        loads, body, pre = [], [], []
        params = ["n"] + (["C", "inner"] if self.nested else [])
        params += [f"o{j}" for j in range(len(outs))] + [f"a{j}" for j in range(len(ext))]
        for j, (v, (kind, _, _)) in enumerate(zip(ext, self.patterns)):
            if kind == FULL:
                names[v.id] = f"a{j}[i]"
            elif kind == SCALAR:
                pre.append(f"    s{j} = a{j}[0]")
                names[v.id] = f"s{j}"
            elif self.nested:
                loads.append(f"s{j} = a{j}[c]")
                names[v.id] = f"s{j}"
            else:
                params += [f"n{j}", f"d{j}"]
                names[v.id] = f"a{j}[(i // d{j}) % n{j}]"
        fns = set()
        for t, node in enumerate(nodes):
            args = [names[v.id] for v in node.inputs]
            sc = node.op.scalar
            if sc == "cast":
                dt = node.attrs["dtype"]
                expr = f"({args[0]} != 0)" if dt.kind == "b" else f"np.{dt.name}({args[0]})"
            elif sc == "where":
                expr = f"({args[1]} if {args[0]} else {args[2]})"
            else:
                fns.add(sc)
                expr = f"{sc}({', '.join(args)})"
            body.append(f"t{t} = {expr}")
            names[node.outputs[0].id] = f"t{t}"
        for j, v in enumerate(outs):
            body.append(f"o{j}[i] = {names[v.id]}")
        head = "import numpy as np\nfrom numba import njit\n"
        if fns:
            head += f"from npukernel.kernels.scalar import {', '.join(sorted(fns))}\n"
        src = [head, "", '@njit(cache=True, nogil=True, error_model="numpy")',
               f"def fused({', '.join(params)}):", *pre]  # fmt: skip
        if self.nested:  # inner == 1 (a bias on (N, C)): the loop over channels is innermost
            src += [
                "    if inner == 1:",
                "        for q in range(n // C):",
                "            for c in range(C):",
                "                i = q * C + c",
                *(f"                {x}" for x in loads),
                *(f"                {x}" for x in body),
                "        return",
                "    for q in range(n // (C * inner)):",
                "        for c in range(C):",
                *(f"            {x}" for x in loads),
                "            base = (q * C + c) * inner",
                "            for k in range(inner):",
                "                i = base + k",
                *(f"                {x}" for x in body),
            ]
        else:
            src += ["    for i in range(n):", *(f"        {x}" for x in body)]
        return "\n".join(src) + "\n"

    def precompile(self, out_dtypes: list[str], in_dtypes: list[str]) -> None:
        """Compile the kernel for these dtypes now (or load it from numba's disk cache).

        The compile time then counts at compile, and the first run is not slowed.
        """
        fn = self.fn
        if not hasattr(fn, "compile"):  # NUMBA_DISABLE_JIT=1: plain Python
            return
        import numba

        ints = len(self.call_args()) + len(self.tail_args())
        arrays = [numba.typeof(np.empty(1, dt)) for dt in (*out_dtypes, *in_dtypes)]
        lead = len(self.call_args())
        sig = [numba.int64] * lead + arrays + [numba.int64] * (ints - lead)
        fn.compile(tuple(sig))

    def call_args(self) -> list[str]:
        """Leading integer arguments (``n`` and the channel layout) as source text."""
        lead = [str(self.size)]
        if self.nested:
            lead += [str(self.channel[0]), str(self.channel[1])]
        return lead

    def tail_args(self) -> list[str]:
        """Trailing integer arguments for non-nested channel operands."""
        if self.nested:
            return []
        out = []
        for kind, size, inner in self.patterns:
            if kind == CHANNEL:
                out += [str(size), str(inner)]
        return out
