"""Matrix multiplication: the Cube unit's work.

The ``npu`` kernel is BLAS (numpy's OpenBLAS ``matmul``); float16 is multiplied in float32
and rounded back, which is what the Cube's fp32 accumulator does too.
"""

from __future__ import annotations

import numpy as np

from npukernel.dtypes import compute_dtype
from npukernel.errors import DTypeError, ShapeError
from npukernel.kernels import blas, lazy
from npukernel.ops import functional as F
from npukernel.ops.dispatch import apply
from npukernel.ops.opdef import MATMUL, OpDef, register

_BOOL = np.dtype(np.bool_)  # a dtype: comparing with the type np.bool_ converts it each call


def _check(a: np.ndarray, b: np.ndarray) -> dict:
    if a.dtype == _BOOL:
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
    if a.ndim == 2 and b.ndim == 2 and compute_dtype(a.dtype) is a.dtype:  # common, lean
        blas.threads_for(2 * a.shape[0] * b.size)
        return np.matmul(a, b)
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
    a, b = inputs
    out = outputs[0]
    return 2 * out.size * a.shape[-1], a.nbytes + b.nbytes + out.nbytes


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


# -- dense: x @ w.T + b in one launch ------------------------------------------------------


def _dense_check(x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> dict:
    if x.dtype.kind != "f" or w.dtype != x.dtype or any(a.dtype != x.dtype for a in b):
        raise DTypeError(
            "For 'dense', 'input', 'weight' and 'bias' must share one float dtype, but got "
            f"{[a.dtype.name for a in (x, w, *b)]}."
        )
    if x.ndim < 1 or w.ndim != 2:
        raise ShapeError(
            f"For 'dense', 'weight' must be 2-D (out, in) and 'input' at least 1-D, but got "
            f"{w.shape} and {x.shape}."
        )
    if x.shape[-1] != w.shape[1]:
        raise ShapeError(
            f"For 'dense', the last dim of 'input' must equal weight.shape[1], but got "
            f"{x.shape} and weight {w.shape}."
        )
    if b and b[0].shape != (w.shape[0],):
        raise ShapeError(
            f"For 'dense', 'bias' must have shape ({w.shape[0]},), but got {b[0].shape}."
        )
    return {}


_dk = lazy("npukernel.kernels.dense")
# Dense layers of at most this many multiply-adds (batch x in x out) run as one numba call
# (kernels/dense.py): 2-4x faster than dot + add + maximum for LeNet-5's and the MLP's
# batch-1 classifier layers (30k MACs and less); a batch-1 784x256 layer (200k) was equal
# to OpenBLAS at best, up to 1.7x slower.
_SMALL_MACS = 40_000
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _small(x2: np.ndarray, w: np.ndarray, b: tuple) -> bool:
    """Whether :func:`kernels.dense.dense_small` takes this layer (a batch-1 classifier)."""
    return (
        x2.shape[0] * w.size <= _SMALL_MACS
        and x2.dtype in _FLOATS
        and x2.flags.c_contiguous
        and w.flags.c_contiguous
        and (not b or b[0].flags.c_contiguous)
    )


def _dense_npu(x: np.ndarray, w: np.ndarray, *b: np.ndarray, relu: bool = False) -> np.ndarray:
    cd = compute_dtype(x.dtype)
    if cd is not x.dtype:  # float16 multiplies in float32, as matmul does
        y = _dense_npu(x.astype(cd), w.astype(cd), *(a.astype(cd) for a in b), relu=relu)
        return y.astype(x.dtype)
    x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
    if _small(x2, w, b):  # one numba call instead of dot, add and maximum
        y = _dk.dense_small(x2, w, b[0] if b else np.empty(0, x2.dtype), relu)
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (w.shape[0],))
    blas.threads_for(2 * x2.shape[0] * w.size)
    y = np.dot(x2, w.T)  # np.dot: 2-6 us less than np.matmul on batch-1 GEMVs
    if b or relu:  # one numba pass: numpy's add and maximum took 5-7x as long
        _dk.bias_act(y, b[0] if b else np.empty(0, y.dtype), relu)
    return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (w.shape[0],))


def _dense_specialize(relu: bool):  # noqa: ANN202
    """``OpDef.specialize`` for dense: a small 2-D float layer binds :func:`dense_small`.

    Graph mode asks once, at compile time; the kernel still falls back to the general
    one for operands that are not C-contiguous at run time.
    """

    def specialize(shapes, dtypes, attrs):  # noqa: ANN001, ANN202
        x, w = shapes[0], shapes[1]
        if len(x) != 2 or len(w) != 2 or x[0] * w[0] * w[1] > _SMALL_MACS:
            return None
        if dtypes[0] not in ("float32", "float64") or any(d != dtypes[0] for d in dtypes):
            return None
        small = _dk.dense_small

        def run(x, w, *b):  # noqa: ANN001, ANN002, ANN202
            if x.flags.c_contiguous and w.flags.c_contiguous:
                return small(x, w, b[0] if b else np.empty(0, x.dtype), relu)
            return _dense_npu(x, w, *b, relu=relu)

        return run

    return specialize


def _dense_cpu(x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64) @ w.astype(np.float64).T
    return (y + b[0] if b else y).astype(x.dtype)


def _dense_cost(inputs: list, outputs: list, attrs: dict) -> tuple[int, int]:
    x, w = inputs[0], inputs[1]
    return 2 * (x.size // max(x.shape[-1], 1)) * w.size, sum(a.nbytes for a in inputs) + outputs[
        0
    ].nbytes


def _dense_grad(n, dy):
    x, w, *b = n.inputs
    dx, dw, db = apply(DENSE_BACKWARD, dy, x.detach(), w.detach(), need_dx=x.requires_grad,
                       need_dw=w.requires_grad, need_db=bool(b) and b[0].requires_grad)  # fmt: skip
    return (dx if x.requires_grad else None, dw if w.requires_grad else None) + (
        (db if b[0].requires_grad else None,) if b else ()
    )


def _dense_back_npu(dy, x, w, need_dx, need_dw, need_db):
    cd = compute_dtype(x.dtype)
    dy2 = dy.reshape(-1, dy.shape[-1]).astype(cd, copy=False)
    x2 = x.reshape(-1, x.shape[-1]).astype(cd, copy=False)
    m, k, n = x2.shape[0], w.shape[1], w.shape[0]
    empty = np.empty(0, x.dtype)
    dx = dw = db = empty
    blas.threads_for(2 * m * k * n)
    if need_dx:
        dx = np.matmul(dy2, w.astype(cd, copy=False)).astype(x.dtype, copy=False).reshape(x.shape)
    if need_dw:
        dw = np.matmul(dy2.T, x2).astype(x.dtype, copy=False)
    if need_db:
        db = dy2.sum(axis=0).astype(x.dtype, copy=False)
    return dx, dw, db


def _dense_back_cpu(dy, x, w, need_dx, need_dw, need_db):
    f = np.float64
    dy2 = dy.reshape(-1, dy.shape[-1]).astype(f)
    x2 = x.reshape(-1, x.shape[-1]).astype(f)
    dx = (dy2 @ w.astype(f)).reshape(x.shape) if need_dx else np.empty(0)
    dw = dy2.T @ x2 if need_dw else np.empty(0)
    db = dy2.sum(axis=0) if need_db else np.empty(0)
    return tuple(a.astype(dy.dtype) for a in (dx, dw, db))


def _dense_back_cost(inputs: list, outputs: list, attrs: dict) -> tuple[int, int]:
    dy, x, w = inputs
    passes = int(attrs["need_dx"]) + int(attrs["need_dw"])
    return 2 * passes * (dy.size // max(dy.shape[-1], 1)) * w.size, sum(
        a.nbytes for a in inputs + list(outputs)
    )


def _dense_examples(rng: np.random.Generator) -> list:
    return [
        ([rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)], {}),
        ([rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4))], {}),  # no bias, 3-D
        ([rng.standard_normal((4,)), rng.standard_normal((3, 4)), rng.standard_normal(3)], {}),
        ([rng.standard_normal((0, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)], {}),
        # past _SMALL_MACS: BLAS, not the one-call kernel
        (
            [
                rng.standard_normal((3, 120)),
                rng.standard_normal((130, 120)),
                rng.standard_normal(130),
            ],
            {},
        ),  # fmt: skip
        ([rng.standard_normal((3, 120)).T[:50].T, rng.standard_normal((4, 50))], {}),  # strided
    ]


def _dense_bad() -> list:
    return [
        ([np.ones((2, 3)), np.ones((4, 2))], {}, ShapeError),
        ([np.ones((2, 3)), np.ones((4, 3)), np.ones(3)], {}, ShapeError),
        ([np.ones((2, 3)), np.ones((4, 3), np.float32)], {}, DTypeError),
    ]


DENSE_BACKWARD = register(OpDef("dense_backward", MATMUL, _dense_back_npu, _dense_back_cpu,
                                n_outputs=3, cost=_dense_back_cost,
                                doc="Gradients of dense (dx, dw, db)."))  # fmt: skip
register(OpDef("dense", MATMUL, _dense_npu, _dense_cpu, check=_dense_check, grad=_dense_grad,
               cost=_dense_cost, examples=_dense_examples, bad=_dense_bad,
               specialize=_dense_specialize(False),
               doc="input @ weight.T + bias in one launch (mindspore.ops.dense)."))  # fmt: skip


# -- dense + ReLU: graph mode fuses the pair (passes.RELU_FUSIONS) -------------------------


def _dense_relu_npu(x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> np.ndarray:
    return _dense_npu(x, w, *b, relu=True)


def _dense_relu_cpu(x: np.ndarray, w: np.ndarray, *b: np.ndarray) -> np.ndarray:
    return np.maximum(_dense_cpu(x, w, *b), 0)


def _dense_relu_grad(n, dy):
    return _dense_grad(n, F.relu_grad(n.output(0), dy))


register(OpDef("dense_relu", MATMUL, _dense_relu_npu, _dense_relu_cpu, check=_dense_check,
               grad=_dense_relu_grad, cost=_dense_cost, examples=_dense_examples,
               bad=_dense_bad, specialize=_dense_specialize(True), doc="relu(dense(x, w, b)) in one launch; graph mode fuses the "
               "pair into it."))  # fmt: skip
