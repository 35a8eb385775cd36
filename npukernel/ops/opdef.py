"""``OpDef``: every operator declared once, and the registry that holds them.

An ``OpDef`` carries everything the rest of npukernel needs to know about an operator:
its group (the fuser and cost model reason about groups, not names), how to validate
attributes, the kernels per device kind, the gradient rule, the cost of a launch and
example inputs that the generated tests use. Dispatch, autodiff, the profiler, the op
table in the docs and ``tests/ops`` all read this one entry.

Example:
    >>> from npukernel.ops.opdef import OPS
    >>> OPS["relu"].group
    'unary'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from npukernel.errors import NpuError

#: Operator groups, tinygrad-style: the fuser fuses UNARY/BINARY chains, cuts at the rest.
UNARY, BINARY, TERNARY, REDUCE, MOVEMENT = "unary", "binary", "ternary", "reduce", "movement"
MATMUL, CONV, POOL, NORM, SOFTMAX, LOSS, RANDOM, CAST = (
    "matmul",
    "conv",
    "pool",
    "norm",
    "softmax",
    "loss",
    "random",
    "cast",
)
ELEMENTWISE = frozenset({UNARY, BINARY, TERNARY, CAST})

#: Which unit of an AI core runs each group (the cost model's roofline uses it).
UNIT_OF_GROUP = {
    UNARY: "vector",
    BINARY: "vector",
    TERNARY: "vector",
    CAST: "vector",
    REDUCE: "vector",
    MOVEMENT: "dma",
    MATMUL: "cube",
    CONV: "cube",
    POOL: "vector",
    NORM: "vector",
    SOFTMAX: "vector",
    LOSS: "vector",
    RANDOM: "vector",
}

Kernel = Callable[..., Any]

_F16 = np.dtype("float16")
_F32 = np.dtype("float32")


def half_in_float(kernel: Kernel, saves: bool = False) -> Kernel:
    """Wrap a kernel that has no float16 version: compute in float32, return float16.

    The Cube and Vector units take fp16 natively; numba does not, so float16 operands are
    widened on the way in and the results rounded on the way out (``ctx`` is kept in
    float32 when ``saves``).
    """

    def down(r: Any) -> Any:
        if isinstance(r, np.ndarray):
            return r.astype(_F16) if r.dtype == _F32 else r
        if isinstance(r, tuple):
            return tuple(down(x) for x in r)
        return r

    def wrapped(*arrays: Any, **attrs: Any) -> Any:
        if not any(isinstance(a, np.ndarray) and a.dtype == _F16 for a in arrays):
            return kernel(*arrays, **attrs)
        up = [
            a.astype(_F32) if isinstance(a, np.ndarray) and a.dtype == _F16 else a for a in arrays
        ]
        if "ctx" in attrs or "probs" in attrs or "mean" in attrs or "mask" in attrs:
            attrs = {k: (v.astype(_F32) if isinstance(v, np.ndarray) and v.dtype == _F16 else v)
                     for k, v in attrs.items()}  # fmt: skip
        result = kernel(*up, **attrs)
        if saves:
            return down(result[0]), result[1]
        return down(result)

    wrapped.__name__ = getattr(kernel, "__name__", "kernel")
    wrapped.__wrapped__ = kernel  # type: ignore[attr-defined]
    # graph mode knows every dtype when it compiles: without float16 it calls this directly
    wrapped.without_float16 = kernel  # type: ignore[attr-defined]
    return wrapped


def default_cost(
    inputs: list[np.ndarray], outputs: list[np.ndarray], attrs: dict
) -> tuple[int, int]:
    """One operation per output element; every input and output byte moves once."""
    nbytes = 0
    for a in inputs:
        nbytes += a.nbytes
    size = 0
    for o in outputs:
        nbytes += o.nbytes
        size += o.size
    return size, nbytes


@dataclass(slots=True, eq=False)
class OpDef:
    """One operator, declared once.

    Attributes:
        name: Operator name as in ``mindspore.ops`` (``"conv2d"``).
        group: One of the group constants above.
        npu: Kernel for ``npu`` devices: ``npu(*arrays, **attrs)`` returns an array, a
            tuple of arrays (``n_outputs > 1``) or, when ``saves`` is set, ``(result, ctx)``
            where ``ctx`` is kept for the gradient rule.
        cpu: Reference kernel (plain numpy) with the same contract; the definition every
            ``npu`` kernel is tested against.
        check: ``check(*arrays, **attrs) -> attrs`` validates inputs and attributes
            *before* any kernel runs and returns normalised attributes; raises ``NpuError``.
        grad: ``grad(ctx, *douts) -> tuple`` of input gradients (Tensors or None), built
            from ordinary ops; None when the op is not differentiable. With several
            outputs, the ``dout`` of an output nothing depended on is None.
        cost: ``cost(inputs, outputs, attrs) -> (flops, bytes)``.
        n_outputs: Number of outputs; ``-1`` for a list whose length depends on attrs.
        saves: Whether kernels return ``(result, ctx)``.
        view: Whether the result may share memory with the first input (movement ops).
        diff_inputs: Indices of inputs that can receive gradients (None = all).
        examples: ``examples(rng) -> list[(arrays, attrs)]`` used by the generated tests.
        bad: ``bad() -> list[(arrays, attrs, error_type)]`` of invalid calls.
        doc: One-line description for the op table.
        scalar: For elementwise operators, the function in ``kernels/scalar.py`` that
            computes one element; graph mode's fuser inlines it into fused kernels.
        specialize: ``specialize(shapes, dtypes, attrs) -> kernel | None``: for graph
            mode, which knows every shape and dtype when it compiles, an ``npu`` kernel
            for exactly those, called with the input arrays only (attributes bound).
            Looking up per call what a fixed shape decides once (a convolution's plan)
            cost ~2 us of a batch-1 layer's ~7.
    """

    name: str
    group: str
    npu: Kernel
    cpu: Kernel
    check: Callable[..., dict] | None = None
    grad: Callable[..., tuple] | None = None
    cost: Callable[[list, list, dict], tuple[int, int]] = default_cost
    n_outputs: int = 1
    saves: bool = False
    view: bool = False
    diff_inputs: tuple[int, ...] | None = None
    examples: Callable[[np.random.Generator], list] | None = None
    bad: Callable[[], list] | None = None
    doc: str = ""
    scalar: str = ""
    specialize: Callable[[list, list, dict], Kernel | None] | None = None
    unit: str = field(init=False, default="vector")

    def __post_init__(self) -> None:
        self.unit = UNIT_OF_GROUP[self.group]


#: The registry: operator name -> OpDef.
OPS: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    """Add ``op`` to the registry (a custom operator goes through the same call).

    Raises:
        NpuError: if another operator already has that name.
    """
    if op.name in OPS:
        raise NpuError(f"An operator named '{op.name}' is already registered.")
    OPS[op.name] = op
    return op


def table() -> list[dict[str, Any]]:
    """One row per registered operator (name, group, unit, differentiable, doc)."""
    return [
        {
            "name": op.name,
            "group": op.group,
            "unit": op.unit,
            "differentiable": op.grad is not None,
            "doc": op.doc,
        }
        for op in sorted(OPS.values(), key=lambda o: (o.group, o.name))
    ]
