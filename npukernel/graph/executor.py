"""Turn a planned graph into one generated Python function that replays it.

The replay is straight-line code: one line per kernel call, arguments in local
variables, static attributes bound once, each intermediate dropped after its last
reader. There is no per-operator dispatch, validation or tape; those ran once, while
tracing. With ``NPUKERNEL_DEBUG=3`` the source is printed::

    def replay(i0, i1):
        p0 = P0._data
        v3 = k0(i0, p0, **a0)
        v5 = B0; fk1(4096, 16, 256, F0, v3.reshape(-1), c2.reshape(-1))
        del v3
        ...
        return (v9,)

While a profiler is recording, a second variant times every node and records one
launch per node; otherwise each run records a single ``graph:<name>`` launch.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from time import perf_counter
from typing import Any

import numpy as np

from npukernel.device import core as _core
from npukernel.errors import KernelError, NpuError
from npukernel.graph.ir import CONST, INPUT, PARAM, Graph, Node, Value
from npukernel.graph.memory import Plan
from npukernel.random import next_seed


def _name(v: Value, inputs: dict[int, int]) -> str:
    if v.kind == INPUT:
        return f"i{inputs[v.id]}"
    if v.kind == PARAM:
        return f"p{v.id}"
    if v.kind == CONST:
        return f"c{v.id}"
    return f"{'s' if v.kind == 'saved' else 'v'}{v.id}"


def _flat(name: str, v: Value) -> str:
    """``name`` as the 1-D array a fused kernel takes (a 1-D value already is one)."""
    return name if len(v.shape) == 1 else f"{name}.reshape(-1)"


class Program:
    """A compiled graph ready to run.

    Attributes:
        graph: The graph (after passes).
        plan: Its memory plan.
        source: The generated replay source.
        flops, bytes_moved: Totals of one run (for the launch record and cost model).
    """

    def __init__(self, graph: Graph, plan: Plan, arrays: dict) -> None:
        self.graph = graph
        self.plan = plan
        self.flops, self.bytes_moved, self.costs = _costs(graph, arrays)
        self.ns: dict[str, Any] = {"np": np, "_empty": np.empty, "_seed": next_seed}
        self.source, self.lines = self._generate(timed=False)
        self.timed_source, self.timed_lines = "", []  # made when a profiler first needs it
        # Idle replays, each with its own pooled buffers: a run takes one (or makes one,
        # when other threads hold them all) and gives it back, so threads sharing a net
        # never write into each other's buffers. list.pop/append are atomic.
        self._idle: list[Callable] = []
        self._idle_timed: list[Callable] = []
        self.device = next((n.device for n in graph.nodes if n.device is not None), None)

    # -- code generation ---------------------------------------------------------------
    def _generate(self, timed: bool) -> tuple[str, list[int]]:
        g, ns = self.graph, self.ns
        inputs = {v.id: k for k, v in enumerate(g.inputs)}
        for v in g.params:
            ns[f"P{v.id}"] = v.param
        for v in g.consts:
            ns[f"c{v.id}"] = v.const
        args = ", ".join(f"i{k}" for k in range(len(g.inputs)))
        body = [f"def replay({args}):"]
        owner = [-1]  # node index of each body line (-1: prologue)
        used_params = {v.id for n in g.nodes for v in n.reads() if v.kind == PARAM}
        used_params |= {v.id for v in g.outputs if v.kind == PARAM}
        for v in g.params:
            if v.id in used_params:
                body.append(f"    p{v.id} = P{v.id}._data")
                owner.append(-1)
        if timed:
            body.append("    _t = _clock()")
            owner.append(-1)
        dying: dict[int, list[Value]] = {}
        for j, n in enumerate(g.nodes):  # node results die after their last reader
            for v in n.produces():
                dying.setdefault(self.plan.last_use.get(v.id, j), []).append(v)
        for j, node in enumerate(g.nodes):
            for line in self._node_lines(j, node, inputs):
                body.append("    " + line)
                owner.append(j)
            if timed:
                body.append(f"    _t = _rec({j}, _t)")
                owner.append(j)
            gone = [_name(v, inputs) for v in dying.get(j, [])]
            if gone:
                body.append(f"    del {', '.join(gone)}")
                owner.append(j)
        outs = ", ".join(_name(v, inputs) for v in g.outputs)
        body.append(f"    return ({outs}{',' if len(g.outputs) == 1 else ''})")
        owner.append(-1)
        return "\n".join(body) + "\n", owner

    def _node_lines(self, j: int, node: Node, inputs: dict[int, int]) -> list[str]:
        ns = self.ns
        outs = [_name(v, inputs) for v in node.outputs]
        if node.kernel is not None:
            fk = node.kernel
            if f"fk{j}" not in ns:  # compiled (or loaded from the disk cache) now
                fk.precompile([v.dtype for v in node.outputs], [v.dtype for v in node.inputs])
            ns[f"fk{j}"] = fk.fn
            lines, out_args = [], []
            for v in node.outputs:
                b = self.plan.pooled.get(v.id)
                if b is None:
                    lines.append(f"{_name(v, inputs)} = _empty({v.shape!r}, {v.dtype!r})")
                    out_args.append(_flat(_name(v, inputs), v))
                else:
                    lines.append(f"{_name(v, inputs)} = B{b}")
                    out_args.append(f"F{b}")
            in_args = []
            for v in node.inputs:
                if v.kind == CONST:  # flattened once, here
                    ns[f"cf{v.id}"] = np.ascontiguousarray(v.const).reshape(-1)
                    in_args.append(f"cf{v.id}")
                else:
                    in_args.append(_flat(_name(v, inputs), v))
            call = ", ".join(fk.call_args() + out_args + in_args + fk.tail_args())
            lines.append(f"fk{j}({call})")
            return lines
        args = [_name(v, inputs) for v in node.inputs]
        if node.is_host:
            ns[f"h{j}"] = node.host
            return [f"h{j}({', '.join(args)})"]
        op = node.op
        if op.name == "reshape" and not node.dyn_attrs and len(args) == 1:
            # a view: written out, it skips a call with keyword attributes (~1 us)
            return [f"{outs[0]} = {args[0]}.reshape({node.outputs[0].shape!r})"]
        npu = node.device is None or node.device.kind == "npu"
        kernel = op.npu if npu else op.cpu
        direct = getattr(kernel, "without_float16", None)
        if direct is not None and all(v.dtype != "float16" for v in node.reads()):
            # no float16 operand: skip half_in_float's per-call scan and re-packing of the
            # arguments (1-2 us a call; a batch-1 ResNet-20 has 23 such nodes)
            kernel = direct
        special = None
        if npu and op.specialize is not None and not node.dyn_attrs and not node.fresh_seed:
            shapes = [v.shape for v in node.inputs]
            special = op.specialize(shapes, [v.dtype for v in node.inputs], dict(node.attrs))
        if special is not None:  # its attributes are bound: called with the arrays only
            ns[f"k{j}"] = special
            call = f"k{j}({', '.join(args)})"
        else:
            ns[f"k{j}"] = kernel
            attrs = dict(node.attrs)
            extra = []
            if node.fresh_seed:
                attrs.pop("seed", None)
                extra.append("seed=_seed()")
            for key, v, idx in node.dyn_attrs:
                ref = _name(v, inputs) + (f"[{idx}]" if idx is not None else "")
                extra.append(f"{key}={ref}")
            if attrs:
                ns[f"a{j}"] = attrs
                extra.insert(0, f"**a{j}")
            call = f"k{j}({', '.join(args + extra)})"
        lhs = ", ".join(outs) + ("," if len(outs) == 1 and op.n_outputs != 1 else "")
        if op.saves:
            return [f"_r, {_name(node.saved, inputs)} = {call}", f"{lhs} = _r"]
        return [f"{lhs} = {call}" if lhs else call]

    # -- running -----------------------------------------------------------------------
    def _compile(self, timed: bool) -> Callable:
        if timed and not self.timed_source:
            self.timed_source, self.timed_lines = self._generate(timed=True)
        src = self.timed_source if timed else self.source
        code = compile(src, f"<graph {self.graph.name}{' timed' if timed else ''}>", "exec")
        scope = dict(self.ns)
        for b, (shape, dt) in enumerate(self.plan.buffers):
            arr = np.empty(shape, dt)
            scope[f"B{b}"], scope[f"F{b}"] = arr, arr.reshape(-1)
        if timed:
            scope["_clock"] = perf_counter
            scope["_rec"] = self._record_node
        exec(code, scope)  # noqa: S102 - our own generated source
        return scope["replay"]

    def _record_node(self, j: int, t0: float) -> float:
        now = perf_counter()
        node = self.graph.nodes[j]
        flops, nbytes, shapes, dtype, unit = self.costs[j]
        dev = node.device or self.device
        if dev is not None:
            dev.record_launch(node.name, shapes, dtype, flops, nbytes, unit, now - t0)
        return perf_counter()

    def run(self, arrays: list[np.ndarray]) -> tuple:
        """Run once on input arrays; return output arrays."""
        timed = bool(_core._SINKS)
        idle = self._idle_timed if timed else self._idle
        try:
            fn = idle.pop()
        except IndexError:  # the first run, or every replay is busy in another thread
            fn = self._compile(timed)
        t0 = perf_counter()
        try:
            outs = fn(*arrays)
        except NpuError:
            raise
        except Exception as exc:
            raise self._kernel_error(exc, timed) from exc
        finally:
            idle.append(fn)
        if not timed and self.device is not None:
            self.device.record_launch(f"graph:{self.graph.name}", (), "float32", self.flops,
                                      self.bytes_moved, "cube", perf_counter() - t0)  # fmt: skip
        return outs

    def _kernel_error(self, exc: Exception, timed: bool) -> KernelError:
        owner = self.timed_lines if timed else self.lines
        line = None
        for frame, lineno in traceback.walk_tb(sys.exc_info()[2]):
            if frame.f_code.co_filename.startswith("<graph"):
                line = lineno
        node = None
        if line is not None and 0 < line <= len(owner) and owner[line - 1] >= 0:
            node = self.graph.nodes[owner[line - 1]]
        where = f" in node '{node.name}' (traced at {node.site})" if node is not None else ""
        return KernelError(
            f"For 'jit', running graph '{self.graph.name}' failed{where}: "
            f"{type(exc).__name__}: {exc}. Set NPUKERNEL_DEBUG=3 to see the generated code."
        )


def _costs(graph: Graph, arrays: dict) -> tuple[int, int, list]:
    total_f = total_b = 0
    per = []
    for node in graph.nodes:
        members = node.group or [node]
        f = b = 0
        unit, dtype, shapes = "vector", "float32", ()
        for m in members:
            if m.op is None:
                n = sum(v.nbytes for v in m.inputs)
                f, b = f + n // 4, b + 2 * n
                continue
            ins = [arrays.get(v.id) if v.kind != CONST else v.const for v in m.inputs]
            outs = [arrays.get(v.id) for v in m.outputs]
            try:
                mf, mb = m.op.cost(ins, outs, m.attrs)
            except Exception:  # a cost rule needing run-time attrs: count the bytes
                mf, mb = 0, sum(v.nbytes for v in (*m.inputs, *m.outputs))
            f, b = f + int(mf), b + int(mb)
            unit = m.op.unit
            shapes = tuple(v.shape for v in m.inputs)
            dtype = m.outputs[0].dtype if m.outputs else dtype
        if node.group:  # a fused kernel reads its inputs and writes its outputs once
            b = sum(v.nbytes for v in (*node.inputs, *node.outputs))
        per.append((f, b, shapes, dtype or "float32", unit))
        total_f, total_b = total_f + f, total_b + b
    return total_f, total_b, per
