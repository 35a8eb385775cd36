"""Matrix multiplication: the Cube unit's work.

The ``npu`` kernel is BLAS (numpy's OpenBLAS ``matmul``); float16 is multiplied in float32
and rounded back, which is what the Cube's fp32 accumulator does too.
"""

from __future__ import annotations

import numpy as np

from npukernel.dtypes import compute_dtype
from npukernel.errors import DTypeError, ShapeError
from npukernel.kernels import blas
from npukernel.ops import functional as F
from npukernel.ops.opdef import MATMUL, OpDef, register


def _check(a: np.ndarray, b: np.ndarray) -> dict:
    if a.dtype == np.bool_:
        raise DTypeError("For 'matmul', inputs must be numbers, but got dtype bool.")
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(
            f"For 'matmul', inputs must be at least 2-D here, but got {a.shape} and {b.shape}."
        )
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(
            f"For 'matmul', the inner dims must match, but got {a.shape} @ {b.shape} "
            f"({a.shape[-1]} != {b.shape[-2]})."
        )
    if a.ndim == 2 and b.ndim == 2:  # the common case skips the broadcast check (µs count)
        return {}
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(
            f"For 'matmul', the batch dims {a.shape[:-2]} and {b.shape[:-2]} cannot broadcast."
        ) from None
    return {}


def _matmul_npu(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    batch = max(
        a.size // max(a.shape[-2] * a.shape[-1], 1), b.size // max(b.shape[-2] * b.shape[-1], 1)
    )
    blas.threads_for(2 * batch * a.shape[-2] * a.shape[-1] * b.shape[-1])
    cd = compute_dtype(a.dtype)
    if cd is a.dtype:
        return np.matmul(a, b)
    return np.matmul(a.astype(cd), b.astype(cd)).astype(a.dtype)


def _matmul_cpu(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)


def _cost(inputs: list, outputs: list, attrs: dict) -> tuple[int, int]:
    a, out = inputs[0], outputs[0]
    k = a.shape[-1]
    return 2 * out.size * k, sum(x.nbytes for x in inputs) + out.nbytes


def _swap(t):
    perm = list(range(t.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return F.transpose(t, perm)


def _transposed(t) -> bool:
    """A 2-D operand that is the transpose of a contiguous array (``dense``'s ``w.T``)."""
    d = t._data
    return d.ndim == 2 and d.flags.f_contiguous and not d.flags.c_contiguous


def _grad(n, dy):
    a, b = n.input(0), n.input(1)
    # For an operand that is w.T, compute (dw.T).T: the product lands in w's own layout,
    # so the transpose's gradient is a free view and the optimizer reads contiguous memory.
    if _transposed(b) and dy.ndim == 2:
        db = _swap(F.matmul(_swap(dy), a))
    else:
        db = F.sum_to_shape(F.matmul(_swap(a), dy), b.shape)
    if _transposed(a) and dy.ndim == 2:
        da = _swap(F.matmul(b, _swap(dy)))
    else:
        da = F.sum_to_shape(F.matmul(dy, _swap(b)), a.shape)
    return da, db


def _examples(rng: np.random.Generator) -> list:
    return [
        ([rng.standard_normal((3, 4)), rng.standard_normal((4, 5))], {}),
        ([rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 2))], {}),  # batch broadcast
        ([rng.standard_normal((2, 1, 3, 4)), rng.standard_normal((3, 4, 2))], {}),
        ([rng.standard_normal((4, 3)).T, rng.standard_normal((5, 4)).T], {}),  # non-contiguous
        ([rng.standard_normal((0, 4)), rng.standard_normal((4, 2))], {}),
    ]


def _bad() -> list:
    return [
        ([np.ones((2, 3)), np.ones((4, 2))], {}, ShapeError),
        ([np.ones((2, 2, 3)), np.ones((3, 3, 2))], {}, ShapeError),
    ]


register(OpDef("matmul", MATMUL, _matmul_npu, _matmul_cpu, check=_check, grad=_grad, cost=_cost,
               examples=_examples, bad=_bad, doc="Batched matrix product (BLAS)."))  # fmt: skip
