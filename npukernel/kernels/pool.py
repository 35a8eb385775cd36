"""2-D pooling kernels (NCHW): max, average and global average.

Windows follow PyTorch's ``ceil_mode=False`` rule: with symmetric zero padding ``(ph, pw)``
the output has ``OH = (H + 2*ph - KH) // sh + 1`` rows, and every window lies inside the
padded image. Max pooling pads with ``-inf`` (a padded position never wins); average
pooling pads with zeros and divides by ``KH*KW`` (``count_include_pad=True``) or by the
number of real pixels in the window (``False``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from npukernel.kernels import package_only

package_only(__name__, __file__)  # not as a file: numba's cache would break

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "global_avg_pool_backward",
    "global_avg_pool_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "max_pool2d_values",
    "pool2d_output_shape",
]


def pool2d_output_shape(
    x_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
) -> tuple[int, int, int, int]:
    """Output shape ``(N, C, OH, OW)`` of a 2-D pooling.

    Args:
        x_shape: ``(N, C, H, W)``.
        kernel: ``(KH, KW)``.
        stride: ``(sh, sw)``.
        padding: ``(ph, pw)`` on each side.

    Returns:
        ``(N, C, (H + 2*ph - KH) // sh + 1, (W + 2*pw - KW) // sw + 1)``.
    """
    n, c, h, w = x_shape
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    return (n, c, oh, ow)


# Each kernel is one parallel task per (n, c) plane and loops over the window offsets
# (i, j): per offset, the input values seen by all windows are gathered into one
# contiguous plane-sized run, which is then combined with the output plane in one long
# loop. Loops over single output rows (16 elements for 2x2 pooling of 32x32) spent their
# time in loop set-up: this ran 2x2 max pooling of 64x16x32x32 in 2 ms instead of 6.


@njit(cache=True)
def _gather_window(vals, plane, oh, ow, sh, sw, i0, j0, fill):
    """``vals[r*OW + q] = plane[r*sh + i0, q*sw + j0]``, or ``fill`` outside the plane."""
    h, w = plane.shape
    for r in range(oh):
        ih = r * sh + i0
        if ih < 0 or ih >= h:
            for q in range(ow):
                vals[r * ow + q] = fill
        else:
            row = plane[ih]
            for q in range(ow):
                iw = q * sw + j0
                vals[r * ow + q] = row[iw] if iw >= 0 and iw < w else fill


@njit(cache=True)
def _select_max(yp, ip, vals, code):
    """``yp[k], ip[k] = vals[k], code`` where ``vals[k]`` is larger or NaN."""
    # Strictly greater keeps the first maximum; a NaN wins and then stays. Stores of
    # selects rather than branches, which random data mispredicts.
    for k in range(yp.shape[0]):
        v = vals[k]
        b = yp[k]
        take = (not (v <= b)) & (b == b)
        yp[k] = v if take else b
        ip[k] = code if take else ip[k]


@njit(cache=True, parallel=True)
def _max_pool_fwd(x, kh, kw, sh, sw, ph, pw, y, idx):
    n_b, c_n, h, w = x.shape
    oh = y.shape[2]
    ow = y.shape[3]
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        plane = x[n, c]
        yp = y[n, c].reshape(-1)
        ip = idx[n, c].reshape(-1)  # offsets from each window's origin until the end
        vals = np.empty(oh * ow, dtype=x.dtype)
        for r in range(oh):  # start from each window's first real pixel
            i0 = max(r * sh - ph, 0)
            for q in range(ow):
                j0 = max(q * sw - pw, 0)
                yp[r * ow + q] = plane[i0, j0]
                ip[r * ow + q] = (i0 - r * sh + ph) * w + j0 - q * sw + pw
        for i in range(kh):
            for j in range(kw):
                _gather_window(vals, plane, oh, ow, sh, sw, i - ph, j - pw, -np.inf)
                _select_max(yp, ip, vals, np.int32(i * w + j))
        for r in range(oh):
            for q in range(ow):
                ip[r * ow + q] += (r * sh - ph) * w + q * sw - pw


# 2x2 windows with stride 2 (LeNet's and most CNNs' pooling) take a vectorised path in two
# passes: pairs along each row, then pairs of those rows. The general kernel above spends
# its time in per-window loop set-up and data-dependent branches: 0.6-1 ms for
# 64x6x24x24, where these two passes take about 0.15 ms. The row-pair pass keeps the
# value and the index loops apart: with both in one loop, LLVM needed more run-time
# aliasing checks between the four arrays than it will insert, and left it scalar.


@njit(cache=True, inline="always")
def _better(v, b):
    """Whether ``v`` replaces the running maximum ``b`` (larger, or a NaN; a NaN stays)."""
    return ((v > b) | (v != v)) & (b == b)


@njit(cache=True)
def _max_pairs(hm, hk, xf):
    """``hm[k], hk[k] = max, 0|1`` of ``(xf[2k], xf[2k+1])``, the first maximum winning."""
    for k in range(hm.shape[0]):
        a = xf[2 * k]
        b = xf[2 * k + 1]
        t = _better(b, a)
        hm[k] = b if t else a
        hk[k] = np.int32(t)


@njit(cache=True)
def _max_pool_2x2(x, y, idx, hm, hk):
    """2x2 stride-2 max pooling of planes with even ``H`` and ``W``.

    The loop (``hm``/``hk`` hold the maximum of each horizontal pair and its column)::

        for n, c, r, q:
            top, bottom = hm[n, c, 2*r, q], hm[n, c, 2*r + 1, q]
            y[n, c, r, q] = bottom if better(bottom, top) else top
            idx[n, c, r, q] = (2*r + (1 if bottom won else 0)) * W + 2*q + hk[...]
    """
    w = x.shape[3]
    ow = y.shape[3]
    oh = y.shape[2]
    rows = y.shape[0] * y.shape[1] * oh
    yf = y.reshape(-1)
    jf = idx.reshape(-1)
    _max_pairs(hm, hk, x.reshape(-1))
    # unsigned offsets: numba then drops its negative-index wraparound, which blocked
    # vectorisation of these short rows
    u_ow = numba.uint64(ow)
    for r in range(numba.uint64(rows)):
        s0 = r * numba.uint64(2) * u_ow
        d0 = r * u_ow
        for q in range(u_ow):
            a = hm[s0 + q]
            b = hm[s0 + u_ow + q]
            yf[d0 + q] = b if _better(b, a) else a
        # int64 arithmetic on the 0/1 outcome: a select between int32 loads stayed scalar
        base = 2 * np.int64(r % numba.uint64(oh)) * w
        for q in range(u_ow):
            t = np.int64(_better(hm[s0 + u_ow + q], hm[s0 + q]))
            k0 = np.int64(hk[s0 + q])
            k1 = np.int64(hk[s0 + u_ow + q]) + w
            jf[d0 + q] = np.int32(k0 + t * (k1 - k0) + base + 2 * np.int64(q))


def _plain_2x2(x_shape, kernel, stride, padding) -> bool:
    """Whether the 2x2 stride-2 kernels apply: no padding, even ``H`` and ``W``."""
    return (
        tuple(kernel) == (2, 2)
        and tuple(stride) == (2, 2)
        and tuple(padding) == (0, 0)
        and x_shape[2] % 2 == 0
        and x_shape[3] % 2 == 0
    )


def max_pool2d_forward(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling.

    The loop::

        for n, c, r, q:
            window = xpad[n, c, r*sh : r*sh + KH, q*sw : q*sw + KW]   # -inf padding
            y[n, c, r, q] = max(window)
            argmax[n, c, r, q] = ih * W + iw   # of the first maximum, in the unpadded plane

    Args:
        x: ``(N, C, H, W)``, float32 or float64.
        kernel: ``(KH, KW)``.
        stride: ``(sh, sw)``.
        padding: ``(ph, pw)`` on each side (at most half the kernel, so every window
            holds a real pixel).

    Returns:
        ``(y, argmax)``: ``y`` is ``(N, C, OH, OW)``; ``argmax`` (int32, same shape) is the
        flat index ``ih * W + iw`` of each maximum within its ``(H, W)`` plane.
    """
    x = np.ascontiguousarray(x)
    shape = pool2d_output_shape(x.shape, kernel, stride, padding)
    y = np.empty(shape, dtype=x.dtype)
    idx = np.empty(shape, dtype=np.int32)
    if _plain_2x2(x.shape, kernel, stride, padding):
        half = x.size // 2
        _max_pool_2x2(x, y, idx, np.empty(half, x.dtype), np.empty(half, np.int32))
        return y, idx
    _max_pool_fwd(x, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], y, idx)
    return y, idx


@njit(cache=True)
def _nan_max(a, b):
    """The larger of ``a`` and ``b``, NaN if either is (selects that vectorise)."""
    m = a if a > b else b
    return a + b if (a != a) | (b != b) else m


@njit(cache=True)
def _max_2x2_values(x, y, tmp):
    """2x2 stride-2 maxima of planes with even ``H`` and ``W`` (no argmax).

    Per output row: the maxima of the two input rows, element by element (contiguous,
    vectorised), then of neighbouring pairs of those. 86 us for LeNet-5's 64x6x24x24,
    where a window at a time took 200 us.
    """
    w = x.shape[3]
    ow = y.shape[3]
    rows = y.shape[0] * y.shape[1] * y.shape[2]
    xf = x.reshape(-1)
    yf = y.reshape(-1)
    u_w = numba.uint64(w)
    u_ow = numba.uint64(ow)
    for r in range(numba.uint64(rows)):
        s0 = r * numba.uint64(2) * u_w
        for k in range(u_w):
            tmp[k] = _nan_max(xf[s0 + k], xf[s0 + u_w + k])
        d0 = r * u_ow
        for q in range(u_ow):
            yf[d0 + q] = _nan_max(tmp[2 * q], tmp[2 * q + 1])


def max_pool2d_values(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """:func:`max_pool2d_forward` without the argmax (inference: nothing needs it).

    Graph mode runs this when no gradient reads the indices. The 2x2 stride-2 case,
    LeNet-5's, skips the index arithmetic; others return the full kernel's maxima.

    Example:
        >>> max_pool2d_values(np.arange(16.0).reshape(1, 1, 4, 4), (2, 2), (2, 2)).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    x = np.ascontiguousarray(x)
    if _plain_2x2(x.shape, kernel, stride, padding):
        y = np.empty(pool2d_output_shape(x.shape, kernel, stride, padding), dtype=x.dtype)
        _max_2x2_values(x, y, np.empty(x.shape[3], dtype=x.dtype))
        return y
    return max_pool2d_forward(x, kernel, stride, padding)[0]


@njit(cache=True)
def _max_pool_bwd(dy, idx, dx):
    # sequential: a cheap scatter (0.3 ms for 64x16x32x32), one parallel compile fewer
    n_b, c_n, h, w = dx.shape
    oh = dy.shape[2]
    ow = dy.shape[3]
    for t in range(n_b * c_n):
        n = t // c_n
        c = t % c_n
        flat = dx[n, c].reshape(-1)
        for k in range(h * w):
            flat[k] = 0.0
        for r in range(oh):
            for q in range(ow):
                k = idx[n, c, r, q]
                if k >= 0:
                    flat[k] += dy[n, c, r, q]


def max_pool2d_backward(
    dy: np.ndarray, argmax_idx: np.ndarray, x_shape: tuple[int, int, int, int]
) -> np.ndarray:
    """Gradient of :func:`max_pool2d_forward`.

    The loop::

        dx = 0
        for n, c, r, q:
            dx[n, c].flat[argmax[n, c, r, q]] += dy[n, c, r, q]   # overlapping windows add

    Args:
        dy: gradient of the output ``(N, C, OH, OW)``.
        argmax_idx: the ``argmax`` the forward returned.
        x_shape: the input's shape ``(N, C, H, W)``.

    Returns:
        ``dx`` of shape ``x_shape``.
    """
    dy = np.ascontiguousarray(dy)
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    _max_pool_bwd(dy, np.ascontiguousarray(argmax_idx), dx)
    return dx


def _window_counts(x_shape, kernel, stride, padding, include_pad):
    """Divisor of each output position, ``(OH * OW,)`` float64."""
    _, _, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    _, _, oh, ow = pool2d_output_shape(x_shape, kernel, stride, padding)
    if include_pad:
        return np.full(oh * ow, float(kh * kw))
    r0 = np.arange(oh) * sh - ph
    q0 = np.arange(ow) * sw - pw
    rows = np.minimum(r0 + kh, h) - np.maximum(r0, 0)
    cols = np.minimum(q0 + kw, w) - np.maximum(q0, 0)
    return np.outer(rows, cols).astype(np.float64).reshape(-1)


@njit(cache=True)
def _fill(dst, value):
    for k in range(dst.shape[0]):
        dst[k] = value


@njit(cache=True)
def _add(acc, vals):
    for k in range(acc.shape[0]):
        acc[k] += vals[k]


@njit(cache=True, parallel=True)
def _avg_pool_fwd(x, kh, kw, sh, sw, ph, pw, cnt, y):
    n_b, c_n, h, w = x.shape
    oh = y.shape[2]
    ow = y.shape[3]
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        plane = x[n, c]
        acc = np.empty(oh * ow)
        _fill(acc, 0.0)
        vals = np.empty(oh * ow, dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                _gather_window(vals, plane, oh, ow, sh, sw, i - ph, j - pw, 0.0)
                _add(acc, vals)
        yp = y[n, c].reshape(-1)
        for k in range(oh * ow):
            yp[k] = acc[k] / cnt[k] if cnt[k] > 0 else 0.0


def avg_pool2d_forward(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    count_include_pad: bool = True,
) -> np.ndarray:
    """Average pooling.

    The loop::

        for n, c, r, q:
            window = xpad[n, c, r*sh : r*sh + KH, q*sw : q*sw + KW]   # zero padding
            count = KH * KW if count_include_pad else (real pixels in window)
            y[n, c, r, q] = sum(window) / count

    Args:
        x: ``(N, C, H, W)``, float32 or float64.
        kernel: ``(KH, KW)``.
        stride: ``(sh, sw)``.
        padding: ``(ph, pw)`` on each side.
        count_include_pad: divide by the full window size (else by the real pixels).

    Returns:
        ``y`` of shape ``(N, C, OH, OW)``.
    """
    x = np.ascontiguousarray(x)
    y = np.empty(pool2d_output_shape(x.shape, kernel, stride, padding), dtype=x.dtype)
    kh, kw = kernel
    cnt = _window_counts(x.shape, kernel, stride, padding, count_include_pad)
    _avg_pool_fwd(x, kh, kw, stride[0], stride[1], padding[0], padding[1], cnt, y)
    return y


@njit(cache=True)
def _scatter_window(plane, g, oh, ow, sh, sw, i0, j0):
    """``plane[r*sh + i0, q*sw + j0] += g[r*OW + q]`` where that lies in the plane."""
    h, w = plane.shape
    for r in range(oh):
        ih = r * sh + i0
        if ih >= 0 and ih < h:
            row = plane[ih]
            for q in range(ow):
                iw = q * sw + j0
                if iw >= 0 and iw < w:
                    row[iw] += g[r * ow + q]


@njit(cache=True, parallel=True)
def _avg_pool_bwd(dy, kh, kw, sh, sw, ph, pw, cnt, dx):
    n_b, c_n, h, w = dx.shape
    oh = dy.shape[2]
    ow = dy.shape[3]
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        plane = dx[n, c]
        _fill(plane.reshape(-1), 0.0)
        dyp = dy[n, c].reshape(-1)
        g = np.empty(oh * ow)
        for k in range(oh * ow):
            g[k] = dyp[k] / cnt[k] if cnt[k] > 0 else 0.0
        for i in range(kh):
            for j in range(kw):
                _scatter_window(plane, g, oh, ow, sh, sw, i - ph, j - pw)


def avg_pool2d_backward(
    dy: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    count_include_pad: bool = True,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d_forward`.

    The loop::

        dx = 0
        for n, c, r, q:
            dxpad[n, c, r*sh : r*sh + KH, q*sw : q*sw + KW] += dy[n, c, r, q] / count

    Args:
        dy: gradient of the output ``(N, C, OH, OW)``.
        x_shape: the input's shape ``(N, C, H, W)``.
        kernel: as in the forward.
        stride: as in the forward.
        padding: as in the forward.
        count_include_pad: as in the forward.

    Returns:
        ``dx`` of shape ``x_shape``.
    """
    dy = np.ascontiguousarray(dy)
    dx = np.empty(tuple(x_shape), dtype=dy.dtype)
    kh, kw = kernel
    cnt = _window_counts(dx.shape, kernel, stride, padding, count_include_pad)
    _avg_pool_bwd(dy, kh, kw, stride[0], stride[1], padding[0], padding[1], cnt, dx)
    return dx


def global_avg_pool_forward(x: np.ndarray) -> np.ndarray:
    """Global average pooling: ``y[n, c, 0, 0] = mean(x[n, c, :, :])``.

    Sums in float64 whatever the input dtype (numpy's reduction: one call, no kernel).

    Args:
        x: ``(N, C, H, W)``, float32 or float64.

    Returns:
        ``y`` of shape ``(N, C, 1, 1)``.
    """
    x = np.asarray(x)
    return x.mean(axis=(2, 3), keepdims=True, dtype=np.float64).astype(x.dtype)


def global_avg_pool_backward(dy: np.ndarray, x_shape: tuple[int, int, int, int]) -> np.ndarray:
    """Gradient of :func:`global_avg_pool_forward`: ``dx[n, c, i, j] = dy[n, c, 0, 0] / (H*W)``.

    Args:
        dy: gradient of the output ``(N, C, 1, 1)``.
        x_shape: the input's shape ``(N, C, H, W)``.

    Returns:
        ``dx`` of shape ``x_shape``.
    """
    n, c, h, w = x_shape
    g = np.asarray(dy).reshape(n, c, 1, 1) / np.asarray(h * w, dtype=dy.dtype)
    return np.broadcast_to(g, (n, c, h, w)).copy()
