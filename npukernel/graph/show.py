"""Draw a compiled graph for a notebook: one box per kernel, edges for data flow.

``show(fn, *inputs)`` traces and compiles ``fn`` as ``jit`` would and returns a
:class:`GraphView`, which Jupyter renders as SVG (and ``str()`` prints as IR text).
Boxes are coloured by the unit that runs them on the NPU: Cube (matmul, convolution),
Vector (everything elementwise, fused kernels in green), host updates in grey.

Example:
    >>> import npukernel as npk
    >>> view = show(lambda x: npk.ops.relu(x + 1.0) * 2.0, npk.Tensor([1.0, -2.0]))
    >>> view.svg().startswith("<svg")
    True
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from npukernel.graph.compiler import compile_fn
from npukernel.graph.ir import Graph, Node

_COLOURS = {"cube": "#f4a261", "vector": "#8ecae6", "dma": "#e9c46a", "fused": "#90be6d",
            "host": "#c8c8c8", "scalar": "#cdb4db"}  # fmt: skip
_W, _H, _GAP = 260, 34, 18


def _kind(node: Node) -> str:
    if node.is_host:
        return "host"
    if node.kernel is not None:
        return "fused"
    return node.op.unit if node.op is not None else "scalar"


class GraphView:
    """A compiled graph as SVG (``_repr_svg_``) and as text (``str``).

    Attributes:
        graph: The graph after passes.
        stats: The compile statistics (ops traced, kernels, fused groups...).
    """

    def __init__(self, graph: Graph, stats: dict) -> None:
        self.graph = graph
        self.stats = stats

    def __str__(self) -> str:
        return str(self.graph)

    def svg(self) -> str:
        """The drawing as an SVG string."""
        nodes = self.graph.nodes
        index = {id(v): i for i, n in enumerate(nodes) for v in n.produces()}
        height = len(nodes) * (_H + _GAP) + 60
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W + 260}" height="{height}" '
                 'font-family="sans-serif" font-size="12">',
                 f'<text x="8" y="18" font-weight="bold">{escape(self.graph.name)}: '
                 f'{self.stats.get("ops", "?")} ops traced, {len(nodes)} kernels, '
                 f'{self.stats.get("fused", 0)} fused</text>']  # fmt: skip
        for i, node in enumerate(nodes):
            y = 30 + i * (_H + _GAP)
            for v in node.reads():
                j = index.get(id(v))
                if j is None:
                    continue
                y0 = 30 + j * (_H + _GAP) + _H
                if j == i - 1:
                    parts.append(f'<line x1="{_W // 2}" y1="{y0}" x2="{_W // 2}" y2="{y}" '
                                 'stroke="#555" marker-end="url(#a)"/>')  # fmt: skip
                else:
                    bend = _W + 20 + min(200, 12 * (i - j))
                    parts.append(f'<path d="M{_W} {y0 - _H // 2} C{bend} {y0}, {bend} {y}, '
                                 f'{_W} {y + _H // 2}" fill="none" stroke="#999"/>')  # fmt: skip
            label = node.name if len(node.name) <= 34 else node.name[:31] + "..."
            shape = node.outputs[0].shape if node.outputs else ()
            parts.append(
                f"<g><title>{escape(str(node))}</title>"
                f'<rect x="10" y="{y}" width="{_W - 10}" height="{_H}" rx="6" '
                f'fill="{_COLOURS[_kind(node)]}" stroke="#333"/>'
                f'<text x="18" y="{y + 15}">{escape(label)}</text>'
                f'<text x="18" y="{y + 28}" fill="#333">{escape(str(list(shape or ())))}</text></g>'
            )
        parts.append('<defs><marker id="a" markerWidth="8" markerHeight="8" refX="6" refY="3" '
                     'orient="auto"><path d="M0,0 L6,3 L0,6" fill="#555"/></marker></defs></svg>')  # fmt: skip
        return "".join(parts)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        return f"<div style='overflow:auto;max-height:600px'>{self.svg()}</div>"


def show(fn: Callable, *inputs: Any, fusion: bool = True) -> GraphView:
    """Trace and compile ``fn(*inputs)`` and return a drawable view of the graph.

    Note that tracing runs ``fn`` once (a train step applies one update).

    Example:
        >>> import npukernel as npk
        >>> print(show(lambda x: x * 2.0, npk.Tensor([1.0])))  # doctest: +ELLIPSIS
        graph <lambda>(%0: float32[1]) {
        ...
    """
    compiled = compile_fn(fn, inputs, {}, fusion=fusion)
    return GraphView(compiled.program.graph, compiled.stats)
