"""Softmax, log-softmax and fused softmax cross-entropy kernels.

Every kernel works on contiguous rows (the last axis), one parallel task per row (serial
below :data:`PARALLEL_MIN_SIZE` elements); another
``axis`` is moved last with one transposing copy and moved back at the end. Rows are
numerically stable: the row maximum is subtracted before ``exp`` and ``log-sum-exp`` is
``m + log(sum(exp(x - m)))``. Sums are accumulated in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from npukernel.kernels import package_only

package_only(__name__, __file__)  # not as a file: numba's cache would break

__all__ = [
    "log_softmax_backward",
    "log_softmax_forward",
    "softmax_backward",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "softmax_forward",
]


@njit(cache=True)
def _row_max(x):
    m = -np.inf
    for k in range(x.shape[0]):
        v = x[k]
        if v > m or v != v:
            m = v
            if v != v:
                break
    return m


@njit(cache=True)
def _exp_shift(y, x, m):
    """``y = exp(x - m)``; returns ``sum(y)`` (float64)."""
    s = 0.0
    for k in range(x.shape[0]):
        e = np.exp(x[k] - m)
        y[k] = e
        s += e
    return s


@njit(cache=True)
def _scale(y, a):
    for k in range(y.shape[0]):
        y[k] *= a


@njit(cache=True)
def _lse(x, m):
    """``m + log(sum(exp(x - m)))`` with ``m = max(x)``."""
    s = 0.0
    for k in range(x.shape[0]):
        s += np.exp(x[k] - m)
    return m + np.log(s)


@njit(cache=True)
def _sub(y, x, c):
    for k in range(x.shape[0]):
        y[k] = x[k] - c


@njit(cache=True, inline="always")
def _softmax_row(xr, log, yr):
    """Softmax (``log=False``) or log-softmax (``log=True``) of one row."""
    m = _row_max(xr)
    if log:
        _sub(yr, xr, _lse(xr, m))
    else:
        s = _exp_shift(yr, xr, m)
        _scale(yr, 1.0 / s)


@njit(cache=True, inline="always")
def _softmax_bwd_row(dyr, yr, log, dxr):
    """Row gradient of softmax (``log=False``) or log-softmax (``log=True``)."""
    s = 0.0
    if log:
        for k in range(dyr.shape[0]):
            s += dyr[k]
        for k in range(yr.shape[0]):
            dxr[k] = dyr[k] - np.exp(yr[k]) * s
    else:
        for k in range(dyr.shape[0]):
            s += dyr[k] * yr[k]
        for k in range(yr.shape[0]):
            dxr[k] = yr[k] * (dyr[k] - s)


# Each row kernel comes twice: a parallel region wakes numba's sleeping workers, which
# cost ~100 us on the 2-core machine; a (64, 10) cross-entropy takes ~2 us serially.
PARALLEL_MIN_SIZE = 1 << 16


@njit(cache=True)
def _softmax_rows_serial(x2, log, y2):
    for r in range(x2.shape[0]):
        _softmax_row(x2[r], log, y2[r])


@njit(cache=True, parallel=True)
def _softmax_rows_parallel(x2, log, y2):
    for r in prange(x2.shape[0]):
        _softmax_row(x2[r], log, y2[r])


@njit(cache=True)
def _softmax_bwd_rows_serial(dy2, y2, log, dx2):
    for r in range(y2.shape[0]):
        _softmax_bwd_row(dy2[r], y2[r], log, dx2[r])


@njit(cache=True, parallel=True)
def _softmax_bwd_rows_parallel(dy2, y2, log, dx2):
    for r in prange(y2.shape[0]):
        _softmax_bwd_row(dy2[r], y2[r], log, dx2[r])


_SOFTMAX = (_softmax_rows_serial, _softmax_rows_parallel)
_SOFTMAX_BWD = (_softmax_bwd_rows_serial, _softmax_bwd_rows_parallel)


def _rows(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` with ``axis`` moved last, as a contiguous ``(R, D)`` array."""
    a = np.ascontiguousarray(np.moveaxis(a, axis, -1))
    return a.reshape(-1, a.shape[-1])


def _unrows(out2: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Inverse of :func:`_rows` for an array of the original ``shape``."""
    axis = axis % len(shape)
    if axis == len(shape) - 1:
        return out2.reshape(shape)
    moved = shape[:axis] + shape[axis + 1 :] + (shape[axis],)
    return np.ascontiguousarray(np.moveaxis(out2.reshape(moved), -1, axis))


def _rowwise(kernel, arrays, log, axis):
    shape = arrays[0].shape
    dtype = arrays[0].dtype
    rows = [_rows(np.asarray(a, dtype=dtype), axis) for a in arrays]
    out = np.empty(rows[0].shape, dtype=dtype)
    kernel[out.size >= PARALLEL_MIN_SIZE](*rows, log, out)
    return _unrows(out, shape, axis)


def softmax_forward(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``.

    The loop, per row along ``axis``::

        m = max(x[r]);  e = exp(x[r] - m);  y[r] = e / sum(e)

    Args:
        x: input of any rank, float32 or float64.
        axis: the normalised axis.

    Returns:
        ``y`` shaped like ``x``.
    """
    return _rowwise(_SOFTMAX, [np.asarray(x)], False, axis)


def softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gradient of :func:`softmax_forward` from its output ``y``.

    The loop, per row::

        dx[r] = y[r] * (dy[r] - sum(dy[r] * y[r]))

    Args:
        dy: gradient of the output.
        y: the forward's output.
        axis: as in the forward.

    Returns:
        ``dx`` shaped like ``y``.
    """
    y = np.asarray(y)
    return _rowwise(_SOFTMAX_BWD, [np.asarray(dy, dtype=y.dtype), y], False, axis)


def log_softmax_forward(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-softmax along ``axis``.

    The loop, per row::

        m = max(x[r]);  y[r] = x[r] - (m + log(sum(exp(x[r] - m))))

    Args:
        x: input of any rank, float32 or float64.
        axis: the normalised axis.

    Returns:
        ``y`` shaped like ``x``.
    """
    return _rowwise(_SOFTMAX, [np.asarray(x)], True, axis)


def log_softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gradient of :func:`log_softmax_forward` from its output ``y``.

    The loop, per row::

        dx[r] = dy[r] - exp(y[r]) * sum(dy[r])

    Args:
        dy: gradient of the output.
        y: the forward's output.
        axis: as in the forward.

    Returns:
        ``dx`` shaped like ``y``.
    """
    y = np.asarray(y)
    return _rowwise(_SOFTMAX_BWD, [np.asarray(dy, dtype=y.dtype), y], True, axis)


@njit(cache=True)
def _dense_ce(t, x, lse):
    """``sum_k t[k] * (lse - x[k])``, skipping zero targets (``0 * -inf`` is NaN)."""
    acc = 0.0
    for k in range(x.shape[0]):
        if t[k] != 0.0:
            acc += t[k] * (lse - x[k])
    return acc


@njit(cache=True, inline="always")
def _sce_row(xr, sparse, label, tr, pr):
    """Loss of one row; its probabilities go to ``pr``."""
    m = _row_max(xr)
    s = _exp_shift(pr, xr, m)
    _scale(pr, 1.0 / s)
    lse = m + np.log(s)
    if sparse:
        return lse - xr[label]
    return _dense_ce(tr, xr, lse)


@njit(cache=True)
def _sce_serial(x2, sparse, labels, t2, loss, p2):
    """One kernel for both label kinds (``labels`` or ``t2`` is an unused dummy)."""
    for r in range(x2.shape[0]):
        if sparse:
            loss[r] = _sce_row(x2[r], True, labels[r], t2[0], p2[r])
        else:
            loss[r] = _sce_row(x2[r], False, 0, t2[r], p2[r])


@njit(cache=True, parallel=True)
def _sce_parallel(x2, sparse, labels, t2, loss, p2):
    for r in prange(x2.shape[0]):
        if sparse:
            loss[r] = _sce_row(x2[r], True, labels[r], t2[0], p2[r])
        else:
            loss[r] = _sce_row(x2[r], False, 0, t2[r], p2[r])


def softmax_cross_entropy_forward(
    logits: np.ndarray, labels: np.ndarray, sparse: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Fused softmax + cross-entropy per sample.

    The loop, per sample ``r`` with ``lse = m + log(sum(exp(logits[r] - m)))``::

        probs[r] = exp(logits[r] - lse)
        loss[r] = lse - logits[r, labels[r]]                      # sparse
        loss[r] = sum_k labels[r, k] * (lse - logits[r, k])       # dense

    Args:
        logits: ``(N, C)``, float32 or float64.
        labels: ``(N,)`` int32/int64 class indices in ``[0, C)`` if ``sparse``, else
            ``(N, C)`` target probabilities.
        sparse: which kind of ``labels``.

    Returns:
        ``(loss, probs)``: ``loss`` is ``(N,)``, ``probs`` is ``(N, C)`` (keep it for the
        backward), both in ``logits``' dtype.
    """
    x2 = np.ascontiguousarray(logits)
    n = x2.shape[0]
    loss = np.empty(n, dtype=x2.dtype)
    probs = np.empty_like(x2)
    if sparse:
        lab = np.ascontiguousarray(labels, dtype=np.int64).reshape(n)
        t2 = np.empty((1, 0), dtype=x2.dtype)
    else:
        lab = np.empty(0, dtype=np.int64)
        t2 = np.ascontiguousarray(labels, dtype=x2.dtype)
    kernel = _sce_parallel if x2.size >= PARALLEL_MIN_SIZE else _sce_serial
    kernel(x2, bool(sparse), lab, t2, loss, probs)
    return loss, probs


def softmax_cross_entropy_backward(
    dloss: np.ndarray, probs: np.ndarray, labels: np.ndarray, sparse: bool
) -> np.ndarray:
    """Gradient of :func:`softmax_cross_entropy_forward` with respect to the logits.

    The loop, per sample ``r``::

        dlogits[r] = dloss[r] * (probs[r] - onehot(labels[r]))              # sparse
        dlogits[r] = dloss[r] * (probs[r] * sum(labels[r]) - labels[r])     # dense

    Args:
        dloss: gradient of the per-sample loss ``(N,)``.
        probs: the forward's ``probs`` ``(N, C)``.
        labels: as in the forward.
        sparse: as in the forward.

    Returns:
        ``dlogits`` of shape ``(N, C)``.
    """
    p2 = np.asarray(probs)
    n = p2.shape[0]
    g = np.asarray(dloss, dtype=p2.dtype).reshape(n, 1)
    # Two light passes over (N, C): no fused kernel needed (and none to compile).
    if sparse:
        dx = p2 * g
        dx[np.arange(n), np.asarray(labels).reshape(n)] -= g[:, 0]
        return dx
    t2 = np.asarray(labels, dtype=p2.dtype)
    return (p2 * t2.sum(axis=1, keepdims=True) - t2) * g
