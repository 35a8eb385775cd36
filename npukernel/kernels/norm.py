"""Batch normalisation and layer normalisation kernels, forward and backward.

Statistics are accumulated in float64 whatever the data dtype, over contiguous runs.
Layer norm takes two passes (mean, then the sum of squared deviations: no cancellation
as in ``E[x^2] - E[x]^2``); batch norm takes one, of deviations from a sample of each
channel (see :func:`batch_norm_train_forward`). A last pass normalises and applies the
affine transform.

Batch norm views ``x`` as ``(N, C, S)`` with ``S = H*W`` and runs one parallel task per
channel, whose data are ``N`` contiguous runs of ``S``. For ``(N, C)`` input (``S == 1``)
the runs would be single elements, so that case uses numpy's row-wise reductions.
Layer norm views ``x`` as ``(R, D)`` and runs one task per row.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from npukernel.kernels import package_only

package_only(__name__, __file__)  # not as a file: numba's cache would break

__all__ = [
    "batch_norm_backward",
    "batch_norm_eval_forward",
    "batch_norm_train_forward",
    "layer_norm_backward",
    "layer_norm_forward",
]

_FM = {"reassoc", "contract"}  # lets LLVM vectorise the float64 reductions


@njit(cache=True, fastmath=_FM)
def _sum(a):
    s = 0.0
    for k in range(a.shape[0]):
        s += a[k]
    return s


@njit(cache=True, fastmath=_FM)
def _sum_sq_dev(a, m):
    s = 0.0
    for k in range(a.shape[0]):
        d = a[k] - m
        s += d * d
    return s


@njit(cache=True, fastmath=_FM)
def _sum_and_dot(a, b, ca, cb):
    """``(sum(a), sum((a - ca) * (b - cb)))`` in one pass."""
    s = 0.0
    d = 0.0
    for k in range(a.shape[0]):
        s += a[k]
        d += (a[k] - ca) * (b[k] - cb)
    return s, d


@njit(cache=True)
def _lincomb(dst, a, b, ka, kb, k0, use_b, relu):
    """``dst = a * ka + b * kb + k0`` (``b`` ignored unless ``use_b``; ``max(0, .)`` if ``relu``).

    The per-channel factors arrive in float64 (the statistics are summed in float64);
    the loop runs in ``dst``'s type, so float32 work vectorises 8 wide (1.0-1.35x, alone,
    on ResNet-20's shapes; ~1e-7 relative difference).
    """
    t = dst.dtype.type
    ka = t(ka)
    kb = t(kb)
    k0 = t(k0)
    zero = t(0)
    if use_b and relu:
        for k in range(dst.shape[0]):
            dst[k] = max(a[k] * ka + b[k] * kb + k0, zero)
    elif use_b:
        for k in range(dst.shape[0]):
            dst[k] = a[k] * ka + b[k] * kb + k0
    elif relu:
        for k in range(dst.shape[0]):
            dst[k] = max(a[k] * ka + k0, zero)
    else:
        for k in range(dst.shape[0]):
            dst[k] = a[k] * ka + k0


# ------------------------------------------------------------------------ batch norm


@njit(cache=True, parallel=True)
def _channel_sums(a3, b3, ca, cb, sum_a, dot):
    """Per-channel sums, one task per channel.

    The loop::

        for c:
            sum_a[c] = sum(a[:, c, :])
            dot[c] = sum((a[:, c, :] - ca[c]) * (b[:, c, :] - cb[c]))
    """
    n_b, c_n, s_n = a3.shape
    for c in prange(c_n):
        s = 0.0
        d = 0.0
        for n in range(n_b):
            s1, d1 = _sum_and_dot(a3[n, c], b3[n, c], ca[c], cb[c])
            s += s1
            d += d1
        sum_a[c] = s
        dot[c] = d


@njit(cache=True, parallel=True)
def _channel_lincomb(a3, b3, ka, kb, k0, use_b, relu, out3):
    """``out[n, c, :] = a[n, c, :] * ka[c] + b[n, c, :] * kb[c] + k0[c]``, per (n, c) run.

    ``relu`` (without ``use_b``) clamps the result at zero.
    """
    n_b, c_n, s_n = a3.shape
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        _lincomb(out3[n, c], a3[n, c], b3[n, c], ka[c], kb[c], k0[c], use_b, relu)


def _as_nc_s(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    return x.reshape(x.shape[0], x.shape[1], -1)


def _channel_affine(x3, scale, shift, dtype, relu=False, res3=None):
    """``relu?(x * scale + shift (+ res))`` per channel; ``res3`` shaped like ``x3``."""
    y3 = np.empty(x3.shape, dtype=dtype)
    if x3.shape[2] == 1:
        y2 = y3[:, :, 0]
        np.add(np.multiply(x3[:, :, 0], scale.astype(dtype)), shift.astype(dtype), out=y2)
        if res3 is not None:
            y2 += res3[:, :, 0]
        if relu:
            np.maximum(y2, 0, out=y2)
    elif res3 is not None:
        _channel_lincomb(x3, res3, scale, np.ones_like(scale), shift, True, relu, y3)
    else:
        _channel_lincomb(x3, x3, scale, scale, shift, False, relu, y3)
    return y3


def batch_norm_train_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    *,
    return_var: bool = False,
    relu: bool = False,
    residual: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Batch normalisation with batch statistics (training mode).

    The loop, with ``M = N*H*W``::

        for c:
            mean[c] = sum(x[:, c]) / M
            var[c] = sum((x[:, c] - mean[c]) ** 2) / M          # biased, for normalising
            invstd[c] = 1 / sqrt(var[c] + eps)
            y[:, c] = (x[:, c] - mean[c]) * invstd[c] * gamma[c] + beta[c]

    Args:
        x: ``(N, C)`` or ``(N, C, H, W)`` (any trailing dims), float32 or float64.
        gamma: scale ``(C,)``.
        beta: shift ``(C,)``.
        eps: added to the variance.
        return_var: also return the unbiased variance ``var * M / (M - 1)`` (what the
            running statistics are updated with; NaN when ``M == 1``).
        relu: return ``max(y, 0)`` instead of ``y`` (graph mode fuses a following ReLU).
        residual: an array shaped like ``x`` added to ``y`` before the ReLU (graph mode
            fuses the residual add of a ResNet block).

    Returns:
        ``(y, mean, invstd)``, or ``(y, mean, invstd, var_unbiased)`` with
        ``return_var=True``; ``y`` is shaped like ``x``, the statistics are ``(C,)`` in
        ``x``'s dtype.
    """
    x = np.ascontiguousarray(x)
    x3 = _as_nc_s(x)
    c_n = x3.shape[1]
    mean = np.empty(c_n)
    invstd = np.empty(c_n)
    var_unb = np.empty(c_n)
    if x3.shape[2] == 1:
        # (N, C): columns are strided, numpy's axis-0 reductions walk rows instead.
        x2 = x3[:, :, 0].astype(np.float64)
        m = x2.shape[0]
        mean[:] = x2.mean(axis=0)
        q = np.square(x2 - mean).sum(axis=0)
        invstd[:] = 1.0 / np.sqrt(q / m + eps)
        var_unb[:] = q / (m - 1) if m > 1 else np.nan
    else:
        m = x3.shape[0] * x3.shape[2]
        sums = np.empty(c_n)
        sq = np.empty(c_n)
        # One pass: the sum and the squared deviations from a sample of the channel,
        # k = x[0, c, 0], in float64; q = sum((x - mean)^2) = sq - m * (mean - k)^2.
        # With k drawn from the data, |mean - k| is a few standard deviations, so the
        # subtraction loses a few bits of float64's 52, not float32's 23 (two passes,
        # mean first, read the 4 MB activations of a ResNet-20 layer twice).
        k = x3[0, :, 0].astype(np.float64)
        _channel_sums(x3, x3, k, k, sums, sq)
        mean[:] = sums / m
        q = np.maximum(sq - m * np.square(mean - k), 0.0)
        invstd[:] = 1.0 / np.sqrt(q / m + eps)
        var_unb[:] = q / (m - 1) if m > 1 else np.nan
    g = np.asarray(gamma, dtype=np.float64)
    scale = g * invstd
    shift = np.asarray(beta, dtype=np.float64) - mean * scale
    res3 = None if residual is None else _as_nc_s(np.asarray(residual, dtype=x.dtype))
    y = _channel_affine(x3, scale, shift, x.dtype, relu, res3).reshape(x.shape)
    out = (y, mean.astype(x.dtype), invstd.astype(x.dtype))
    if return_var:
        out += (var_unb.astype(x.dtype),)
    return out


def batch_norm_eval_forward(
    x: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
) -> np.ndarray:
    """Batch normalisation with stored statistics (inference mode).

    The loop::

        for n, c, s:
            y[n, c, s] = (x[n, c, s] - running_mean[c]) / sqrt(running_var[c] + eps)
                         * gamma[c] + beta[c]

    Args:
        x: ``(N, C)`` or ``(N, C, H, W)``, float32 or float64.
        running_mean: ``(C,)``.
        running_var: ``(C,)``.
        gamma: scale ``(C,)``.
        beta: shift ``(C,)``.
        eps: added to the variance.

    Returns:
        ``y`` shaped like ``x``.
    """
    x = np.ascontiguousarray(x)
    x3 = _as_nc_s(x)
    scale = np.asarray(gamma, dtype=np.float64) / np.sqrt(
        np.asarray(running_var, dtype=np.float64) + eps
    )
    shift = np.asarray(beta, dtype=np.float64) - np.asarray(running_mean, np.float64) * scale
    return _channel_affine(x3, scale, shift, x.dtype).reshape(x.shape)


def batch_norm_backward(
    dy: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    invstd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of :func:`batch_norm_train_forward` (batch statistics).

    The loop, with ``M = N*H*W`` and ``xhat = (x - mean) * invstd``::

        for c:
            dbeta[c] = sum(dy[:, c])
            dgamma[c] = sum(dy[:, c] * xhat[:, c])
            dx[:, c] = gamma[c] * invstd[c] / M
                       * (M * dy[:, c] - dbeta[c] - xhat[:, c] * dgamma[c])

    Args:
        dy: gradient of the output, shaped like ``x``.
        x: the forward input.
        gamma: scale ``(C,)``.
        mean: the forward's ``mean``.
        invstd: the forward's ``invstd``.

    Returns:
        ``(dx, dgamma, dbeta)``; ``dgamma``/``dbeta`` are ``(C,)`` in ``x``'s dtype.
    """
    x = np.ascontiguousarray(x)
    x3 = _as_nc_s(x)
    dy3 = _as_nc_s(np.ascontiguousarray(dy, dtype=x.dtype))
    n_b, c_n, s_n = x3.shape
    m = n_b * s_n
    mu = np.asarray(mean, dtype=np.float64)
    inv = np.asarray(invstd, dtype=np.float64)
    if s_n == 1:
        x2 = x3[:, :, 0].astype(np.float64)
        d2 = dy3[:, :, 0].astype(np.float64)
        dbeta = d2.sum(axis=0)
        dxhat = (d2 * (x2 - mu)).sum(axis=0)
    else:
        dbeta = np.empty(c_n)
        dxhat = np.empty(c_n)
        _channel_sums(dy3, x3, np.zeros(c_n), mu, dbeta, dxhat)
    dgamma = dxhat * inv
    # dx = g*inv/M * (M*dy - dbeta - (x - mean)*inv*dgamma), expanded per channel.
    k = np.asarray(gamma, dtype=np.float64) * inv / m
    k_dy = k * m
    k_x = -k * inv * dgamma
    k_0 = -k * dbeta - k_x * mu
    if s_n == 1:
        dx = (dy3[:, :, 0] * k_dy + x3[:, :, 0] * k_x + k_0).astype(x.dtype)
    else:
        dx = np.empty(x3.shape, dtype=x.dtype)
        _channel_lincomb(dy3, x3, k_dy, k_x, k_0, True, False, dx)
    return dx.reshape(x.shape), dgamma.astype(x.dtype), dbeta.astype(x.dtype)


# ------------------------------------------------------------------------ layer norm


@njit(cache=True)
def _ln_row(y, x, gamma, beta, inv, mu):
    for k in range(y.shape[0]):
        y[k] = (x[k] - mu) * inv * gamma[k] + beta[k]


@njit(cache=True, parallel=True)
def _ln_fwd(x2, gamma, beta, eps, y2, mean, invstd):
    r_n, d_n = x2.shape
    for r in prange(r_n):
        row = x2[r]
        mu = _sum(row) / d_n
        inv = 1.0 / np.sqrt(_sum_sq_dev(row, mu) / d_n + eps)
        mean[r] = mu
        invstd[r] = inv
        _ln_row(y2[r], row, gamma, beta, inv, mu)


def _split(shape: tuple[int, ...], axis: int) -> tuple[int, int, int]:
    axis = axis % len(shape) if len(shape) else 0
    rows = int(np.prod(shape[:axis], dtype=np.int64))
    return axis, rows, int(np.prod(shape[axis:], dtype=np.int64))


def layer_norm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    begin_norm_axis: int,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer normalisation over the axes ``[begin_norm_axis:]``.

    The loop, with ``x`` viewed as rows ``(R, D)``, ``D = prod(x.shape[begin_norm_axis:])``::

        for r:
            mean[r] = sum(x[r]) / D
            invstd[r] = 1 / sqrt(sum((x[r] - mean[r]) ** 2) / D + eps)
            y[r, :] = (x[r, :] - mean[r]) * invstd[r] * gamma[:] + beta[:]

    Args:
        x: input of any rank, float32 or float64.
        gamma: scale, shaped ``x.shape[begin_norm_axis:]``.
        beta: shift, shaped ``x.shape[begin_norm_axis:]``.
        begin_norm_axis: first normalised axis (negative counts from the end).
        eps: added to the variance.

    Returns:
        ``(y, mean, invstd)``: ``y`` shaped like ``x``; ``mean`` and ``invstd`` in ``x``'s
        dtype, shaped ``x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)``
        (kept dims, so they broadcast against ``x``).
    """
    x = np.ascontiguousarray(x)
    axis, r_n, d_n = _split(x.shape, begin_norm_axis)
    x2 = x.reshape(r_n, d_n)
    g = np.ascontiguousarray(gamma, dtype=x.dtype).reshape(d_n)
    b = np.ascontiguousarray(beta, dtype=x.dtype).reshape(d_n)
    y = np.empty_like(x)
    mean = np.empty(r_n)
    invstd = np.empty(r_n)
    _ln_fwd(x2, g, b, float(eps), y.reshape(r_n, d_n), mean, invstd)
    stat_shape = x.shape[:axis] + (1,) * (x.ndim - axis)
    return y, mean.astype(x.dtype).reshape(stat_shape), invstd.astype(x.dtype).reshape(stat_shape)


@njit(cache=True, fastmath=_FM)
def _ln_bwd_row(dx, dy, x, gamma, mu, inv, dgamma, dbeta):
    d_n = x.shape[0]
    a = 0.0  # sum(dy * gamma)
    b = 0.0  # sum(dy * gamma * xhat)
    for k in range(d_n):
        xh = (x[k] - mu) * inv
        g = dy[k] * gamma[k]
        a += g
        b += g * xh
        dgamma[k] += dy[k] * xh
        dbeta[k] += dy[k]
    a /= d_n
    b /= d_n
    for k in range(d_n):
        xh = (x[k] - mu) * inv
        dx[k] = inv * (dy[k] * gamma[k] - a - xh * b)


@njit(cache=True, parallel=True)
def _ln_bwd(dy2, x2, gamma, mean, invstd, dx2, dg_part, db_part):
    """Rows are split into ``len(dg_part)`` blocks; each block sums its own partials."""
    r_n = x2.shape[0]
    parts = dg_part.shape[0]
    for p in prange(parts):
        dg = dg_part[p]
        db = db_part[p]
        for k in range(dg.shape[0]):
            dg[k] = 0.0
            db[k] = 0.0
        for r in range(p * r_n // parts, (p + 1) * r_n // parts):
            _ln_bwd_row(dx2[r], dy2[r], x2[r], gamma, mean[r], invstd[r], dg, db)


def layer_norm_backward(
    dy: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    invstd: np.ndarray,
    begin_norm_axis: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of :func:`layer_norm_forward`.

    The loop, with ``xhat = (x - mean) * invstd`` and rows ``(R, D)``::

        for r:
            g = dy[r] * gamma
            dx[r] = invstd[r] * (g - mean(g) - xhat[r] * mean(g * xhat[r]))
        dgamma = sum_r dy[r] * xhat[r]
        dbeta = sum_r dy[r]

    Args:
        dy: gradient of the output, shaped like ``x``.
        x: the forward input.
        gamma: scale, shaped ``x.shape[begin_norm_axis:]``.
        mean: the forward's ``mean``.
        invstd: the forward's ``invstd``.
        begin_norm_axis: as in the forward.

    Returns:
        ``(dx, dgamma, dbeta)``; ``dgamma``/``dbeta`` shaped like ``gamma``, in ``x``'s
        dtype.
    """
    x = np.ascontiguousarray(x)
    axis, r_n, d_n = _split(x.shape, begin_norm_axis)
    x2 = x.reshape(r_n, d_n)
    dy2 = np.ascontiguousarray(dy, dtype=x.dtype).reshape(r_n, d_n)
    g = np.ascontiguousarray(gamma, dtype=x.dtype).reshape(d_n)
    mu = np.ascontiguousarray(mean, dtype=np.float64).reshape(r_n)
    inv = np.ascontiguousarray(invstd, dtype=np.float64).reshape(r_n)
    dx = np.empty_like(x)
    parts = max(1, min(r_n, numba.get_num_threads()))
    dg_part = np.empty((parts, d_n))
    db_part = np.empty((parts, d_n))
    _ln_bwd(dy2, x2, g, mu, inv, dx.reshape(r_n, d_n), dg_part, db_part)
    gshape = x.shape[axis:]
    dgamma = dg_part.sum(axis=0).astype(x.dtype).reshape(gshape)
    dbeta = db_part.sum(axis=0).astype(x.dtype).reshape(gshape)
    return dx, dgamma, dbeta
