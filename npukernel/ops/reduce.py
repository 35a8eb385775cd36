"""Reductions over any axes, with ``keepdims``.

The set: sum, mean, amax, amin, argmax, argmin, var, logsumexp.

The ``npu`` kernels move the reduced axes to one end and call the row or column
templates of ``kernels/reduce.py``; argmax/argmin over all axes use the flattened input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from npukernel.dtypes import compute_dtype
from npukernel.errors import DTypeError, ShapeError
from npukernel.kernels import lazy
from npukernel.ops import functional as F
from npukernel.ops.opdef import REDUCE, OpDef, register

rk = lazy("npukernel.kernels.reduce")

_I64 = np.dtype("int64")


def normalize_axes(op: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; None means all axes.

    Raises:
        ShapeError: for an axis out of range or given twice.
    """
    if axis is None:
        return tuple(range(ndim))
    items = (axis,) if isinstance(axis, (int, np.integer)) else axis
    try:
        items = [int(a) for a in items]
    except (TypeError, ValueError):
        raise ShapeError(
            f"For '{op}', 'axis' must be an int, a tuple of ints or None, but got {axis!r}."
        ) from None
    lim = max(ndim, 1)
    out = []
    for a in items:
        if not -lim <= a < lim:
            raise ShapeError(
                f"For '{op}', 'axis' must be in [{-lim}, {lim}), but got {a} for a {ndim}-D input."
            )
        out.append(a % lim)
    if len(set(out)) != len(out):
        raise ShapeError(f"For '{op}', 'axis' must not repeat an axis, but got {axis!r}.")
    return tuple(sorted(a for a in out if a < ndim)) if ndim else ()


def _check(
    op: str, *, nonempty: bool = False, numeric: bool = True, single: bool = False
) -> Callable:
    def check(x: np.ndarray, axis: Any = None, keepdims: bool = False, **extra: Any) -> dict:
        if numeric and x.dtype == np.bool_:
            raise DTypeError(f"For '{op}', 'input' must be a number tensor, but got dtype bool.")
        if single and axis is not None and not isinstance(axis, (int, np.integer)):
            raise ShapeError(f"For '{op}', 'axis' must be an int or None, but got {axis!r}.")
        axes = normalize_axes(op, axis, x.ndim)
        if nonempty and x.size == 0:
            raise ShapeError(f"For '{op}', cannot reduce an empty tensor of shape {x.shape}.")
        if nonempty and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"For '{op}', cannot reduce over a zero-size axis of shape {x.shape}.")
        out = {"axis": axes, "keepdims": bool(keepdims)}
        if single:
            out["flat"] = axis is None
        out.update(extra)
        return out

    return check


def _out_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _as_2d(x: np.ndarray, axes: tuple, allow_cols: bool) -> tuple[str, np.ndarray]:
    nd = x.ndim
    k = len(axes)
    red = 1
    for a in axes:
        red *= x.shape[a]
    keep = x.size // red if red else 0
    if axes == tuple(range(nd - k, nd)):
        return "rows", np.ascontiguousarray(x).reshape(keep, red)
    if allow_cols and axes == tuple(range(k)):
        return "cols", np.ascontiguousarray(x).reshape(red, keep)
    perm = [i for i in range(nd) if i not in axes] + list(axes)
    return "rows", np.ascontiguousarray(x.transpose(perm)).reshape(keep, red)


def _npu(kind: str, allow_cols: bool, scale: bool = False) -> Callable:
    def kernel(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
        shape = _out_shape(x.shape, axis, keepdims)
        cd = compute_dtype(x.dtype)
        xc = x.astype(cd) if cd is not x.dtype else x
        if x.size == 0 or not axis:
            # nothing to reduce over, or an empty reduction (sum = 0, mean = nan)
            with np.errstate(all="ignore"):
                res = (np.mean if scale else np.sum)(xc, axis=axis, keepdims=keepdims)
            return np.asarray(res, dtype=x.dtype).reshape(shape)
        layout, x2 = _as_2d(xc, axis, allow_cols)
        out = (rk.rows if layout == "rows" else rk.cols)(kind, x2, cd)
        if scale:
            out *= out.dtype.type(1.0 / (x.size // max(out.size, 1)))
        return out.reshape(shape).astype(x.dtype, copy=False)

    return kernel


def _reshape_keep(g, x_shape: tuple, axes: tuple, keepdims: bool):
    if keepdims:
        return g
    return F.reshape(g, _out_shape(x_shape, axes, True))


def _sum_grad(n, dy):
    x_shape = n.inputs[0].shape
    g = _reshape_keep(dy, x_shape, n.attrs["axis"], n.attrs["keepdims"])
    return (F.broadcast_to(g, x_shape),)


def _mean_grad(n, dy):
    x_shape = n.inputs[0].shape
    count = 1
    for a in n.attrs["axis"]:
        count *= x_shape[a]
    g = _reshape_keep(dy, x_shape, n.attrs["axis"], n.attrs["keepdims"])
    return (F.broadcast_to(g * (1.0 / max(count, 1)), x_shape),)


def _minmax_grad(n, dy):
    x = n.input(0)
    axes, keep = n.attrs["axis"], n.attrs["keepdims"]
    y = _reshape_keep(n.output(), x.shape, axes, keep)
    g = _reshape_keep(dy, x.shape, axes, keep)
    mask = F.cast(F.equal(x, y), dy.dtype)
    ties = F.sum(mask, axes, True)
    return (mask * (g / ties),)


def _var_grad(n, dy):
    x = n.input(0)
    axes, keep, ddof = n.attrs["axis"], n.attrs["keepdims"], n.attrs["ddof"]
    count = 1
    for a in axes:
        count *= x.shape[a]
    g = _reshape_keep(dy, x.shape, axes, keep)
    centred = x - F.mean(x, axes, True)
    return (centred * g * (2.0 / max(count - ddof, 1)),)


def _lse_grad(n, dy):
    x = n.input(0)
    axes, keep = n.attrs["axis"], n.attrs["keepdims"]
    y = _reshape_keep(n.output(), x.shape, axes, keep)
    g = _reshape_keep(dy, x.shape, axes, keep)
    return (F.exp(x - y) * g,)


def _examples(rng: np.random.Generator, allow_empty: bool = True) -> list:
    x = rng.standard_normal((3, 4, 5))
    cases = [
        ([x], {"axis": None, "keepdims": False}),
        ([x], {"axis": 1, "keepdims": False}),
        ([x], {"axis": (0, 2), "keepdims": True}),
        ([x], {"axis": -1, "keepdims": False}),
        ([x], {"axis": 0, "keepdims": False}),
        ([x.transpose(2, 0, 1)], {"axis": (1,), "keepdims": True}),  # non-contiguous
        ([rng.standard_normal((1, 6))], {"axis": 0, "keepdims": False}),
        ([rng.standard_normal(())], {"axis": None, "keepdims": False}),
    ]
    if allow_empty:
        cases.append(([rng.standard_normal((0, 3))], {"axis": 0, "keepdims": False}))
    return cases


def _bad() -> list:
    x = np.ones((2, 3), np.float32)
    return [
        ([x], {"axis": 2, "keepdims": False}, ShapeError),
        ([x], {"axis": (0, 0), "keepdims": False}, ShapeError),
        ([x], {"axis": "a", "keepdims": False}, ShapeError),
    ]


def _np_ref(fn: Callable) -> Callable:
    def kernel(x: np.ndarray, axis: tuple, keepdims: bool, **kw: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, axis=axis, keepdims=keepdims, **kw)).astype(x.dtype, copy=False)

    return kernel


_FLOATS = ("float32", "float64")


def _sum_specialize(scale: bool = False) -> Callable:
    """``OpDef.specialize`` for sum and mean over trailing axes (a loss, a global pool).

    Graph mode binds the row kernel, the output shape and the mean's factor once, so a
    call is one allocation, one numba call and the scaling: right after a convolution,
    where every Python step runs cold, ResNet-20's global mean took 30-60 us through the
    general kernel (7-12 us in a loop). The result is the general kernel's, bit for bit;
    a non-contiguous input takes the general kernel.
    """

    def specialize(shapes: list, dtypes: list, attrs: dict) -> Callable | None:
        shape, axis, keepdims = tuple(shapes[0]), attrs["axis"], attrs["keepdims"]
        nd, k = len(shape), len(axis)
        if dtypes[0] not in _FLOATS or not axis or axis != tuple(range(nd - k, nd)):
            return None
        red = int(np.prod(shape[nd - k :]))
        keep = int(np.prod(shape[: nd - k]))
        if red == 0 or keep == 0 or (keep > 1 and keep * red >= rk.PARALLEL_MIN_SIZE):
            return None  # the general kernel: an empty reduction, or a parallel one
        dt = np.dtype(dtypes[0])
        rows = rk.row_kernel("sum")
        out_shape = _out_shape(shape, axis, keepdims)
        factor = dt.type(1.0 / red)
        general = _npu("sum", True, scale)

        def run(x: np.ndarray) -> np.ndarray:
            if not x.flags.c_contiguous:
                return general(x, axis, keepdims)
            out = np.empty(keep, dt)
            rows(x.reshape(keep, red), out)
            if scale:
                out *= factor
            return out.reshape(out_shape)

        return run

    return specialize


register(OpDef("sum", REDUCE, _npu("sum", True), _np_ref(np.sum), check=_check("sum", numeric=False),
               grad=_sum_grad, examples=_examples, bad=_bad, specialize=_sum_specialize(),
               doc="Sum over axes."))  # fmt: skip
register(OpDef("mean", REDUCE, _npu("sum", True, scale=True), _np_ref(np.mean), check=_check("mean"),
               grad=_mean_grad, examples=_examples, bad=_bad, specialize=_sum_specialize(True),
               doc="Mean over axes."))  # fmt: skip
register(OpDef("amax", REDUCE, _npu("max", True), _np_ref(np.max), check=_check("amax", nonempty=True),
               grad=_minmax_grad, examples=lambda r: _examples(r, False), bad=_bad,
               doc="Maximum over axes."))  # fmt: skip
register(OpDef("amin", REDUCE, _npu("min", True), _np_ref(np.min), check=_check("amin", nonempty=True),
               grad=_minmax_grad, examples=lambda r: _examples(r, False), bad=_bad,
               doc="Minimum over axes."))  # fmt: skip


def _var_npu(x: np.ndarray, axis: tuple, keepdims: bool, ddof: int) -> np.ndarray:
    shape = _out_shape(x.shape, axis, keepdims)
    cd = compute_dtype(x.dtype)
    red = 1
    for a in axis:
        red *= x.shape[a]
    if x.size == 0 or red - ddof <= 0:
        with np.errstate(all="ignore"):
            return np.asarray(np.var(x, axis=axis, ddof=ddof, keepdims=keepdims), x.dtype)
    _, x2 = _as_2d(x.astype(cd, copy=False), axis, False)
    return rk.var_rows(x2, ddof, cd).reshape(shape).astype(x.dtype, copy=False)


def _var_check(x: np.ndarray, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> dict:
    if not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ShapeError(f"For 'var', 'ddof' must be a non-negative int, but got {ddof!r}.")
    return _check("var")(x, axis, keepdims, ddof=int(ddof))


register(OpDef("var", REDUCE, _var_npu, _np_ref(np.var), check=_var_check, grad=_var_grad,
               examples=lambda r: [(a, {**k, "ddof": 1}) for a, k in _examples(r, False)[:6]],
               bad=_bad, doc="Variance over axes."))  # fmt: skip


def _lse_npu(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    shape = _out_shape(x.shape, axis, keepdims)
    if not axis:
        return x.copy().reshape(shape)
    cd = compute_dtype(x.dtype)
    _, x2 = _as_2d(x.astype(cd, copy=False), axis, False)
    return rk.rows("logsumexp", x2, cd).reshape(shape).astype(x.dtype, copy=False)


def _lse_ref(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    if not axis:
        return x.copy()
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(all="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return (out if keepdims else np.squeeze(out, axis=axis)).astype(x.dtype)


register(OpDef("logsumexp", REDUCE, _lse_npu, _lse_ref, check=_check("logsumexp", nonempty=True),
               grad=_lse_grad, examples=lambda r: _examples(r, False), bad=_bad,
               doc="log(sum(exp(x))) over axes, stable."))  # fmt: skip


def _arg_npu(kind: str) -> Callable:
    def kernel(x: np.ndarray, axis: tuple, keepdims: bool, flat: bool) -> np.ndarray:
        cd = compute_dtype(x.dtype)
        xc = x.astype(cd, copy=False)
        if flat:
            out = rk.rows(kind, np.ascontiguousarray(xc).reshape(1, -1), _I64)
            return out.reshape((1,) * x.ndim if keepdims else ())
        if not axis:  # 0-d input
            return np.zeros(x.shape, _I64)
        shape = _out_shape(x.shape, axis, keepdims)
        _, x2 = _as_2d(xc, axis, False)
        return rk.rows(kind, x2, _I64).reshape(shape)

    return kernel


def _arg_ref(fn: Callable) -> Callable:
    def kernel(x: np.ndarray, axis: tuple, keepdims: bool, flat: bool) -> np.ndarray:
        if flat:
            return (
                np.asarray(fn(x.reshape(-1)))
                .astype(_I64)
                .reshape((1,) * x.ndim if keepdims else ())
            )
        if not axis:
            return np.zeros(x.shape, _I64)
        return np.asarray(fn(x, axis=axis[0], keepdims=keepdims)).astype(_I64)

    return kernel


def _arg_examples(rng: np.random.Generator) -> list:
    x = rng.standard_normal((3, 4, 5))
    return [
        ([x], {"axis": None, "keepdims": False}),
        ([x], {"axis": 1, "keepdims": False}),
        ([x], {"axis": -1, "keepdims": True}),
        ([x.transpose(2, 0, 1)], {"axis": 0, "keepdims": False}),
    ]


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(OpDef(_name, REDUCE, _arg_npu(_name), _arg_ref(_fn),
                   check=_check(_name, nonempty=True, numeric=False, single=True),
                   examples=_arg_examples, bad=_bad, doc=f"Index of the {_name[3:]}imum."))  # fmt: skip
