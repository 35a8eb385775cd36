"""Memory planning: when each buffer dies, and which fused outputs can share storage.

Every value lives in a memory block (its *root*: a view shares its base's block), and a
block is alive until the last node that reads any value in it, or any saved context
that holds an array of it. Two consequences:

- the replay code drops each value right after its last reader (``del``), so the
  allocator can hand the memory to the next kernel instead of growing the peak;
- outputs of fused kernels, whose storage graph mode allocates itself, are placed in a
  small set of buffers kept between runs: a buffer is reused as soon as its previous
  block is dead, so a steady-state step allocates (and page-faults) nothing for them.

Example:
    >>> import npukernel as npk
    >>> from npukernel.graph.tracer import trace
    >>> from npukernel.graph.fusion import fuse
    >>> f = lambda x: npk.ops.relu(npk.ops.relu(x * 2) * 3) * 4
    >>> tr, _ = trace(f, (npk.Tensor([1.0, -1.0]),))
    >>> fuse(tr.graph)
    1
    >>> plan(tr.graph, tr.trace_arrays).buffers   # the result is returned: not pooled
    []
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from npukernel.graph.ir import Graph


def _arrays_in(obj: Any, depth: int = 0) -> list[np.ndarray]:
    """Arrays held by a saved context (arrays, tuples, dicts, simple objects)."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if depth > 2 or obj is None or isinstance(obj, (int, float, str, bool)):
        return []
    if isinstance(obj, (tuple, list)):
        items = list(obj)
    elif isinstance(obj, dict):
        items = list(obj.values())
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    elif hasattr(obj, "__slots__"):
        items = [getattr(obj, s, None) for s in obj.__slots__]
    else:
        return []
    return [a for it in items for a in _arrays_in(it, depth + 1)]


def block_of(arr: np.ndarray) -> int:
    """Identity of the memory block an array lives in (a view's ultimate base)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return id(arr)


@dataclass
class Plan:
    """Result of planning.

    Attributes:
        last_use: Value id -> index of the last node that needs the value (-1: never).
        pooled: Value id -> buffer index for fused outputs placed in kept buffers.
        buffers: ``(shape, dtype)`` of each kept buffer.
        peak_bytes: Estimated peak of live intermediate bytes with early release.
        naive_bytes: Bytes of all intermediates (what keeping everything would cost).
    """

    last_use: dict[int, int] = field(default_factory=dict)
    pooled: dict[int, int] = field(default_factory=dict)
    buffers: list[tuple[tuple, str]] = field(default_factory=list)
    peak_bytes: int = 0
    naive_bytes: int = 0


def plan(graph: Graph, arrays: dict) -> Plan:
    """Lifetimes, early release and buffer sharing for ``graph`` (nodes in final order)."""
    end = len(graph.nodes)
    result = Plan()
    root_end: dict[int, int] = {}
    for v in graph.outputs:
        root_end[v.root] = end + 1  # returned to the caller: lives forever
    for i, node in enumerate(graph.nodes):
        for v in node.reads():
            result.last_use[v.id] = i
            root_end[v.root] = max(root_end.get(v.root, -1), i)
    for node in graph.nodes:  # a saved context keeps the blocks of its arrays alive
        sv = node.saved
        if sv is None:
            continue
        until = result.last_use.get(sv.id, -1)
        for a in _arrays_in(arrays.get(sv.id)):
            r = block_of(a)
            root_end[r] = max(root_end.get(r, -1), until)
    for v in graph.outputs:
        result.last_use[v.id] = end
    # kept buffers for fused outputs, greedy in execution order
    free: dict[tuple, list[int]] = {}
    releases: list[tuple[int, int, tuple]] = []  # (node index, buffer, key)
    live = peak = naive = 0
    for i, node in enumerate(graph.nodes):
        for _end, b, key in [x for x in releases if x[0] < i]:
            free.setdefault(key, []).append(b)
        releases = [x for x in releases if x[0] >= i]
        for v in node.outputs:
            naive += v.nbytes
            own_end = root_end.get(v.root, -1)
            if node.kernel is not None and own_end <= end:
                key = (v.shape, v.dtype)
                pool = free.get(key)
                if pool:
                    b = pool.pop()
                else:
                    b = len(result.buffers)
                    result.buffers.append(key)
                result.pooled[v.id] = b
                releases.append((own_end, b, key))
    # peak of live bytes with release at last use (an estimate: views counted once)
    events: dict[int, int] = {}
    for node_i, node in enumerate(graph.nodes):
        for v in node.outputs:
            events[node_i] = events.get(node_i, 0) + v.nbytes
            stop = root_end.get(v.root, node_i)
            events[stop + 1] = events.get(stop + 1, 0) - v.nbytes
    for i in sorted(events):
        live += events[i]
        peak = max(peak, live)
    result.peak_bytes, result.naive_bytes = peak, naive
    return result
