"""2-D pooling kernels (NCHW): max, average and global average.

Windows follow PyTorch's ``ceil_mode=False`` rule: with symmetric zero padding ``(ph, pw)``
the output has ``OH = (H + 2*ph - KH) // sh + 1`` rows, and every window lies inside the
padded image. Max pooling pads with ``-inf`` (a padded position never wins); average
pooling pads with zeros and divides by ``KH*KW`` (``count_include_pad=True``) or by the
number of real pixels in the window (``False``). Each kernel is one parallel task per
``(n, c)`` plane.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "global_avg_pool_backward",
    "global_avg_pool_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
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


@njit(cache=True, parallel=True)
def _max_pool_fwd(x, kh, kw, sh, sw, ph, pw, y, idx):
    n_b, c_n, h, w = x.shape
    oh = y.shape[2]
    ow = y.shape[3]
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        plane = x[n, c]
        for r in range(oh):
            h0 = r * sh - ph
            for q in range(ow):
                w0 = q * sw - pw
                best = -np.inf
                arg = -1
                for i in range(max(h0, 0), min(h0 + kh, h)):
                    for j in range(max(w0, 0), min(w0 + kw, w)):
                        v = plane[i, j]
                        # NaN propagates (v != v), as in PyTorch; ties keep the first.
                        if v > best or arg < 0 or v != v:
                            best = v
                            arg = i * w + j
                            if v != v:
                                break
                    if best != best:
                        break
                y[n, c, r, q] = best
                idx[n, c, r, q] = arg


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
        flat index ``ih * W + iw`` of each maximum within its ``(H, W)`` plane (``-1``
        for a window with no real pixel).
    """
    x = np.ascontiguousarray(x)
    shape = pool2d_output_shape(x.shape, kernel, stride, padding)
    y = np.empty(shape, dtype=x.dtype)
    idx = np.empty(shape, dtype=np.int32)
    _max_pool_fwd(x, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], y, idx)
    return y, idx


@njit(cache=True, parallel=True)
def _max_pool_bwd(dy, idx, dx):
    n_b, c_n, h, w = dx.shape
    oh = dy.shape[2]
    ow = dy.shape[3]
    for t in prange(n_b * c_n):
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


@njit(cache=True, parallel=True)
def _avg_pool_fwd(x, kh, kw, sh, sw, ph, pw, include_pad, y):
    n_b, c_n, h, w = x.shape
    oh = y.shape[2]
    ow = y.shape[3]
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        plane = x[n, c]
        for r in range(oh):
            h0 = r * sh - ph
            i0 = max(h0, 0)
            i1 = min(h0 + kh, h)
            for q in range(ow):
                w0 = q * sw - pw
                j0 = max(w0, 0)
                j1 = min(w0 + kw, w)
                s = 0.0
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        s += plane[i, j]
                cnt = kh * kw if include_pad else (i1 - i0) * (j1 - j0)
                y[n, c, r, q] = s / cnt if cnt > 0 else 0.0


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
    _avg_pool_fwd(x, kh, kw, stride[0], stride[1], padding[0], padding[1], count_include_pad, y)
    return y


@njit(cache=True, parallel=True)
def _avg_pool_bwd(dy, kh, kw, sh, sw, ph, pw, include_pad, dx):
    n_b, c_n, h, w = dx.shape
    oh = dy.shape[2]
    ow = dy.shape[3]
    for t in prange(n_b * c_n):
        n = t // c_n
        c = t % c_n
        plane = dx[n, c]
        for i in range(h):
            for j in range(w):
                plane[i, j] = 0.0
        for r in range(oh):
            h0 = r * sh - ph
            i0 = max(h0, 0)
            i1 = min(h0 + kh, h)
            for q in range(ow):
                w0 = q * sw - pw
                j0 = max(w0, 0)
                j1 = min(w0 + kw, w)
                cnt = kh * kw if include_pad else (i1 - i0) * (j1 - j0)
                if cnt == 0:
                    continue
                g = dy[n, c, r, q] / cnt
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        plane[i, j] += g


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
    _avg_pool_bwd(dy, kh, kw, stride[0], stride[1], padding[0], padding[1], count_include_pad, dx)
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
