"""2-D convolution kernels (NCHW): im2col + BLAS GEMM, or a direct numba loop.

Every function takes and returns plain numpy arrays; validation happened before the
call. The math all paths compute, with ``Cg = C // groups`` and ``OCg = OC // groups``::

    for n, oc, oh, ow:
        g = oc // OCg
        y[n, oc, oh, ow] = sum(
            w[oc, c, i, j] * xpad[n, g * Cg + c, oh * sh + i * dh, ow * sw + j * dw]
            for c in range(Cg) for i in range(KH) for j in range(KW))

where ``xpad`` is ``x`` with ``pt``/``pb`` zero rows above/below and ``pl``/``pr`` zero
columns left/right, so ``OH = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1``.

Two algorithms (:func:`conv2d_algo` picks one per shape):

* ``"im2col"``: the batch is cut into chunks of ``nb`` images whose column matrix
  ``cols[(c, i, j), (n, oh, ow)]`` (``C*KH*KW`` rows, ``nb*OH*OW`` columns) stays in the
  cache. Forward is one GEMM per chunk (``W(OC, CKK) @ cols``), ``dW`` accumulates
  ``cols @ dY(OC, nb*OHW).T``, ``dcols = W.T @ dY`` is scattered back by col2im. The
  chunks are shared by a few threads (one per core), each running im2col, a
  single-threaded BLAS GEMM, col2im and the ``(n, oc, p) <-> (oc, n*p)`` transposes on
  its own chunks: everything runs in parallel, and no OpenBLAS worker spins between
  calls (see :func:`_blas_threads`).
  Small convolutions (up to :data:`_KEEP_COLS_BYTES` of columns) keep the forward's
  columns for the backward; larger ones rebuild each chunk's columns there: rebuilding
  a cache-resident chunk is cheaper than writing the whole matrix (37 MB for a
  64x64x16x16 batch with a 3x3 kernel) to memory and reading it back.
* ``"direct"`` (stride 1 only): numba loops over blocks of (image, group) tasks, run on
  a small thread pool, over zero-padded copies of the input planes, where each kernel
  tap is one long axpy (forward, ``dx``) or dot (``dw``) -- for depthwise and other
  narrow groups, whose per-group GEMMs would be tiny.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, uint64

from npukernel.kernels import blas, package_only, simd
from npukernel.kernels import conv_implicit as implicit
from npukernel.kernels.pool import max_pool2d_values

package_only(__name__, __file__)  # not as a file: numba's cache would break

__all__ = [
    "conv2d_algo",
    "conv2d_backward",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "conv2d_forward",
    "conv2d_output_shape",
]

# Target size of one chunk's column matrix. Measured on the 2-core Zen machine, fwd+bwd
# of (64, 64->64, 16x16, k3): 2-4 MB chunks fastest (35-37 ms), 1 MB 41 ms, 8 MB 42 ms
# (fewer, larger GEMMs on a matrix that no longer stays in cache); for (64, 3->16, 32x32)
# 2 MB was fastest too.
_CHUNK_BYTES = 2 << 20

# Chunks per thread when the batch is split over threads (see :func:`_chunking`).
_CHUNKS_PER_THREAD = 4

# The forward keeps its column matrices for the backward's dW when they take at most
# this much (LeNet-5 at batch 64: 3.7 and 2.5 MB), sparing the backward an im2col
# (a quarter to a third of a small convolution's backward). Larger ones are rebuilt
# chunk by chunk: writing and re-reading tens of MB costs more than recomputing. A
# forward without a backward (inference) gets no buffer back to reuse and writes a
# cold one: ResNet-20's 3->16 conv (7 MB of columns) took 3.1 ms instead of 2.7.
_KEEP_COLS_BYTES = 4 << 20

# Scratch buffers larger than this are not kept between calls (one image of a big
# convolution can need more than a chunk).
_MAX_CACHED_BYTES = 64 << 20

_tls = threading.local()


def _workspace(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Return a scratch array reused between calls (per thread, per name and dtype).

    Reusing the buffer avoids the page faults of fresh multi-MB allocations. The returned
    array is only valid until the next call asking for the same name. Called once or
    more per chunk, so it stays cheap (~1 us; with ``np.prod`` and ``np.dtype`` calls it
    took 15 us, a third of a small chunk's backward).
    """
    size = math.prod(shape)
    try:
        cache = _tls.buffers
    except AttributeError:
        cache = _tls.buffers = {}
    key = (name, dtype)
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        if buf.nbytes > _MAX_CACHED_BYTES:
            return buf.reshape(shape)
        cache[key] = buf
    return buf[:size].reshape(shape)


def _scratch(name: str, size: int, dtype: np.dtype) -> np.ndarray:
    """:func:`_workspace`'s flat buffer of at least ``size`` elements, as it is.

    For kernels that take their own offsets into it (``forward_packing``): no slice or
    reshape per call (a batch-1 ResNet-20 forward asks 21 times).
    """
    try:
        buf = _tls.buffers.get((name, dtype))
    except AttributeError:
        buf = None
    if buf is None or buf.size < size:
        buf = _workspace(name, (size,), dtype)
    return buf


def conv2d_output_shape(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int, int, int]:
    """Output shape ``(N, OC, OH, OW)`` of a convolution.

    Args:
        x_shape: ``(N, C, H, W)``.
        w_shape: ``(OC, C // groups, KH, KW)``.
        stride: ``(sh, sw)``.
        padding: ``(top, bottom, left, right)``.
        dilation: ``(dh, dw)``.

    Returns:
        ``(N, OC, OH, OW)``.
    """
    n, _, h, w = x_shape
    oc, _, kh, kw = w_shape
    pt, pb, pl, pr = padding
    oh = (h + pt + pb - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return (n, oc, oh, ow)


_SIMD_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def conv2d_algo(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    dtype: np.dtype | type = np.float32,
) -> str:
    """Pick ``"implicit"``, ``"im2col"`` or ``"direct"`` for a convolution shape.

    Args:
        x_shape: ``(N, C, H, W)``.
        w_shape: ``(OC, C // groups, KH, KW)``.
        stride: ``(sh, sw)``.
        padding: ``(top, bottom, left, right)``.
        dilation: ``(dh, dw)``.
        groups: number of channel groups.
        dtype: the element type (the implicit kernels take float32 and float64).

    Returns:
        ``"implicit"`` for convolutions of one group (but 1x1 strided ones) when the SIMD
        tiles can run (not under ``NUMBA_DISABLE_JIT``); ``"direct"`` for stride-1 grouped
        convolutions with at most 8 input channels per group (depthwise included);
        else ``"im2col"``.

    Example:
        >>> conv2d_algo((64, 16, 32, 32), (32, 4, 3, 3), stride=(2, 2), groups=4)
        'im2col'
    """
    cg = w_shape[1]
    # Measured fwd+bwd against im2col + OpenBLAS, float32, batch 64, 2 threads: see
    # conv_implicit.py and the README's kernel table.
    # 1x1 strided convolutions (ResNet shortcuts) stay on im2col: there the columns are
    # just the subsampled input, and the implicit kernels ran 15-30 % slower (interleaved
    # medians, batch 64, 16->32@32 and 32->64@16); with 3x3 kernels and stride 2 they
    # ran 1.2-1.5x faster forward and 1.1x backward.
    strided_1x1 = tuple(stride) != (1, 1) and tuple(w_shape[2:]) == (1, 1)
    if (
        groups == 1
        and not strided_1x1
        and simd.AVAILABLE
        and np.dtype(dtype) in (np.float32, np.float64)
    ):
        return "implicit"
    # Measured fwd+bwd, float32, batch 64, 3x3 pad 1, on the 2-core machine:
    #   depthwise 32ch 32x32:        direct 11 ms, im2col 95 ms (32 tiny GEMMs per chunk)
    #   64ch 16x16, groups 16 (Cg 4): direct 13 ms, im2col 27 ms
    #   64ch 16x16, groups 8 (Cg 8):  direct 21 ms, im2col 32 ms
    #   64ch 16x16, groups 4 (Cg 16): direct 76 ms, im2col 43 ms
    #   groups 1: 3->16 32x32: direct 15 ms, im2col 8 ms; 16->16 32x32: 50 ms both;
    #   64->64 16x16: direct 170 ms, im2col 68 ms.
    # The direct kernels are stride-1 only.
    if tuple(stride) == (1, 1) and groups > 1 and cg <= 8:
        return "direct"
    return "im2col"


# --------------------------------------------------------------------------- helpers
# The row helpers take 1-D slices and index them from 0: numba vectorises such loops
# (36 GB/s for a copy), while ``dst[d0 + k] = src[s0 + k]`` on the whole buffer did not
# vectorise (9 GB/s) because the offset might be negative.


@njit(cache=True)
def _valid_range(off, step, size, count):
    """Range ``[lo, hi)`` of ``o < count`` with ``0 <= o * step + off < size``."""
    lo = 0
    if off < 0:
        lo = (-off + step - 1) // step
    hi = 0
    if size - 1 - off >= 0:
        hi = (size - 1 - off) // step + 1
    hi = min(hi, count)
    lo = min(lo, count)
    if hi < lo:
        hi = lo
    return lo, hi


@njit(cache=True)
def _zero(dst):
    for k in range(dst.shape[0]):
        dst[k] = 0.0


@njit(cache=True)
def _copy(dst, src):
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@njit(cache=True)
def _add(dst, src):
    for k in range(dst.shape[0]):
        dst[k] += src[k]


@njit(cache=True)
def _axpy(dst, src, a):
    for k in range(dst.shape[0]):
        dst[k] += a * src[k]


@njit(cache=True, fastmath={"reassoc", "contract"})
def _dot(a, b):
    s = 0.0
    for k in range(a.shape[0]):
        s += a[k] * b[k]
    return s


# ---------------------------------------------------------------- im2col / col2im
# Each thread of :func:`_run_parts` runs these on its own chunk of images, between
# single-threaded BLAS calls (see :func:`conv2d_forward`). They index flat views with
# unsigned offsets instead of taking 1-D slices: a slice costs two atomic reference-count
# updates, which for the short rows of small images (8-24 elements) cost more than the
# copy (old slice-based version: 1.3 ms for LeNet's first layer, this one 0.5 ms), and
# unsigned indices spare numba's negative-index wrap-around, which blocks vectorisation.


@njit(cache=True, nogil=True)
def _im2col(x, n0, nb, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols, pad):
    """Columns of images ``n0 .. n0+nb-1``.

    The loop::

        for n, c, i, j, r, q:
            cols[(c*KH + i)*KW + j, (n*OH + r)*OW + q] = xpad[n0+n, c, r*sh + i*dh, q*sw + j*dw]

    Each input plane is first copied into ``pad``, a zero-padded ``(Hp, Wp)`` grid of
    the rows and columns the windows reach (``Hp = (OH-1)*sh + (KH-1)*dh + 1``), so the
    row copies need no bounds logic: with the padding zeroed per row instead, rows of 8
    (ResNet's 8x8 layers) took 0.49 ms per 8 images, against 0.28 ms. Without top/left
    padding, and when the windows stay inside the image, ``x`` is read in place.
    """
    c_in = x.shape[1]
    h = x.shape[2]
    w = x.shape[3]
    hp = (oh - 1) * sh + (kh - 1) * dh + 1
    wp = (ow - 1) * sw + (kw - 1) * dw + 1
    in_place = pt == 0 and pl == 0 and hp <= h and wp <= w
    if in_place:
        src = x.reshape(-1)
        row = w
    else:
        src = pad
        row = wp
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    ncol = cols.shape[1]
    ohw = oh * ow
    uow = uint64(ow)
    usw = uint64(sw)
    r0 = max(0, pt)
    r1 = min(hp, pt + h)
    q0 = max(0, pl)
    q1 = min(wp, pl + w)
    for n in range(nb):
        for c in range(c_in):
            xb = ((n0 + n) * c_in + c) * h * w
            base = 0
            if in_place:
                base = xb
            else:
                for k in range(uint64(hp * wp)):
                    pad[k] = 0.0
                for r in range(r0, r1):
                    d = uint64(r * wp + q0)
                    s = uint64(xb + (r - pt) * w + q0 - pl)
                    for q in range(uint64(max(0, q1 - q0))):
                        pad[d + q] = xf[s + q]
            for i in range(kh):
                for j in range(kw):
                    d = uint64(((c * kh + i) * kw + j) * ncol + n * ohw)
                    for r in range(oh):
                        e = d + uint64(r) * uow
                        s = uint64(base + (r * sh + i * dh) * row + j * dw)
                        if sw == 1:
                            for q in range(uow):
                                cf[e + q] = src[s + q]
                        else:
                            for q in range(uow):
                                cf[e + q] = src[s + q * usw]


# col2im: a "same" convolution adds each (image, channel, tap) run as one long add when
# rows are at least this long; for shorter rows, row-by-row adds were faster.
_BLOCK_MIN_OW = 16


@njit(cache=True, nogil=True)
def _col2im(cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, dx, n0):
    """Scatter-add columns back into images ``dx[n0 .. n0+nb-1]`` (overwritten).

    The loop::

        dx[n0:n0+nb] = 0
        for n, c, i, j, r, q:
            dxpad[n0+n, c, r*sh + i*dh, q*sw + j*dw] += cols[(c*KH + i)*KW + j, (n*OH + r)*OW + q]

    In a "same" convolution with rows of at least ``_BLOCK_MIN_OW`` outputs, the
    left/right padding columns of ``cols`` (a scratch buffer) are zeroed first so that
    each (n, c, i, j) run is one long add; otherwise rows are added one by one.
    """
    c_in = dx.shape[1]
    h = dx.shape[2]
    w = dx.shape[3]
    dxf = dx.reshape(-1)
    cf = cols.reshape(-1)
    ncol = cols.shape[1]
    ohw = oh * ow
    nb = ncol // ohw
    block = sh == 1 and sw == 1 and ow == w and ow >= _BLOCK_MIN_OW
    usw = uint64(sw)
    base = uint64(n0 * c_in * h * w)
    for k in range(uint64(nb * c_in * h * w)):
        dxf[base + k] = 0.0
    for c in range(c_in):
        for i in range(kh):
            rlo, rhi = _valid_range(i * dh - pt, sh, h, oh)
            for j in range(kw):
                off = j * dw - pl
                lo, hi = _valid_range(off, sw, w, ow)
                if hi == lo or rhi == rlo:
                    continue
                for n in range(nb):
                    d = uint64(((c * kh + i) * kw + j) * ncol + n * ohw)
                    xb = ((n0 + n) * c_in + c) * h * w
                    if block:
                        for r in range(rlo, rhi):
                            e = d + uint64(r * ow)
                            for q in range(uint64(lo)):
                                cf[e + q] = 0.0
                            for q in range(uint64(hi), uint64(ow)):
                                cf[e + q] = 0.0
                        e = d + uint64(rlo * ow + lo)
                        s = uint64(xb + (rlo + i * dh - pt) * w + lo + off)
                        for k in range(uint64((rhi - 1 - rlo) * ow + hi - lo)):
                            dxf[s + k] += cf[e + k]
                        continue
                    for r in range(rlo, rhi):
                        e = d + uint64(r * ow + lo)
                        s = uint64(xb + (r * sh + i * dh - pt) * w + off + lo * sw)
                        if sw == 1:
                            for q in range(uint64(hi - lo)):
                                dxf[s + q] += cf[e + q]
                        else:
                            for q in range(uint64(hi - lo)):
                                dxf[s + q * usw] += cf[e + q]


@njit(cache=True, nogil=True)
def _swap01(src, dst):
    """``dst[a, b, :] = src[b, a, :]``: ``(OC, nb, P) <-> (nb, OC, P)`` for whole runs of P."""
    n_a = dst.shape[0]
    n_b = dst.shape[1]
    for t in range(n_a * n_b):
        a = t // n_b
        b = t % n_b
        _copy(dst[a, b], src[b, a])


# ------------------------------------------------------------------ direct kernels
# Stride 1 only. Each input plane is copied into a zero-padded (Hp, Wp) grid; on the
# flattened grid, output (r, q) of tap (i, j) reads position (r*Wp + q) + (i*dh*Wp + j*dw):
# a constant shift. So a tap is one long run over OH*Wp elements (the Wp - OW columns past
# each row end are computed and dropped) instead of OH short rows, and four taps are
# summed per pass over the output (one load/store of the accumulator per four FMAs).
# The input gradient is the same gather over ``dy`` zero-padded by the kernel's reach on
# every side, with the kernel flipped.


@njit(cache=True)
def _axpy4(dst, s0, s1, s2, s3, a0, a1, a2, a3, init):
    """``dst (=|+=) a0*s0 + a1*s1 + a2*s2 + a3*s3`` (``=`` when ``init``)."""
    if init:
        for k in range(dst.shape[0]):
            dst[k] = a0 * s0[k] + a1 * s1[k] + a2 * s2[k] + a3 * s3[k]
    else:
        for k in range(dst.shape[0]):
            dst[k] += a0 * s0[k] + a1 * s1[k] + a2 * s2[k] + a3 * s3[k]


@njit(cache=True, fastmath={"reassoc", "contract"})
def _dot4(a, b0, b1, b2, b3):
    """``(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3))``, summed in float64."""
    d0 = 0.0
    d1 = 0.0
    d2 = 0.0
    d3 = 0.0
    for k in range(a.shape[0]):
        v = a[k]
        d0 += v * b0[k]
        d1 += v * b1[k]
        d2 += v * b2[k]
        d3 += v * b3[k]
    return d0, d1, d2, d3


@njit(cache=True)
def _gather_taps(acc, src, offs, wts):
    """``acc[k] = sum_t wts[t] * src[offs[t] + k]``, four taps per pass."""
    n = acc.shape[0]
    t_n = offs.shape[0]
    if t_n == 0:
        _zero(acc)
    t = 0
    while t + 4 <= t_n:
        o0, o1, o2, o3 = offs[t], offs[t + 1], offs[t + 2], offs[t + 3]
        _axpy4(
            acc,
            src[o0 : o0 + n],
            src[o1 : o1 + n],
            src[o2 : o2 + n],
            src[o3 : o3 + n],
            wts[t],
            wts[t + 1],
            wts[t + 2],
            wts[t + 3],
            t == 0,
        )
        t += 4
    if t < t_n and t == 0:
        _zero(acc)
    while t < t_n:
        _axpy(acc, src[offs[t] : offs[t] + n], wts[t])
        t += 1


@njit(cache=True)
def _pad_plane(dst, src, pt, pl, wp):
    """Zero ``dst`` and copy the ``(H, W)`` plane ``src`` into it at ``(pt, pl)``."""
    _zero(dst)
    for r in range(src.shape[0]):
        d = (r + pt) * wp + pl
        _copy(dst[d : d + src.shape[1]], src[r])


# geom[...] indices shared by the direct kernels (a small int64 array: the parallel
# wrappers take few arguments, which keeps their cold-cache compile short)
_PT, _PL, _DH, _DW, _GROUPS, _H, _W, _NEED_DX, _NEED_DW = range(9)


@njit(cache=True, nogil=True)
def _direct_forward(x, w, y, geom, offs, t0, t1):
    """Direct stride-1 convolution, tasks ``t0 .. t1-1`` (one per (image, group)).

    The loop, with ``xpad`` flattened to rows of ``Wp = W + pl + pr`` and
    ``offs[c, i, j] = c*plane + i*dh*Wp + j*dw``::

        for n, g, oc in group g:
            acc = sum(w[oc, c, i, j] * xpad[n, g*Cg:].flat[offs[c, i, j] :][: OH*Wp]
                      for c, i, j)
            y[n, oc] = acc.reshape(OH, Wp)[:, :OW]
    """
    pt = geom[_PT]
    pl = geom[_PL]
    dh = geom[_DH]
    dw = geom[_DW]
    groups = geom[_GROUPS]
    oc_n, cg, kh, kw = w.shape
    ocg = oc_n // groups
    oh = y.shape[2]
    ow = y.shape[3]
    wp = ow + dw * (kw - 1)
    plane = (oh + dh * (kh - 1)) * wp + dw * (kw - 1)
    ln = oh * wp
    xp = np.empty(cg * plane, dtype=x.dtype)
    acc = np.empty(ln, dtype=x.dtype)
    for t in range(t0, t1):
        n = t // groups
        g = t % groups
        for c in range(cg):
            _pad_plane(xp[c * plane : (c + 1) * plane], x[n, g * cg + c], pt, pl, wp)
        for oc in range(g * ocg, (g + 1) * ocg):
            _gather_taps(acc, xp, offs, w[oc].reshape(-1))
            for r in range(oh):
                _copy(y[n, oc, r], acc[r * wp : r * wp + ow])


@njit(cache=True, nogil=True)
def _direct_backward(dy, x, w, dx, acc, geom, offs, boffs, t0, t1):
    """Direct stride-1 gradients, tasks ``t0 .. t1-1`` (one per (image, group)), ``dw`` summed into ``acc``.

    The loop, with ``dyfull`` = ``dy`` zero-padded by ``(KH-1)*dh`` rows and ``(KW-1)*dw``
    columns on each side (rows of ``Wq``), ``dyw`` = ``dy`` with rows widened to ``Wp``
    by zeros, and ``xpad`` as in :func:`_direct_forward`::

        for n, g, c in group g:                                        # if need_dx
            acc = sum(w[oc, c, i, j] * dyfull[n, oc].flat[s(i, j) :][: Hp*Wq]
                      for oc in group g, i, j)      # s = (KH-1-i)*dh*Wq + (KW-1-j)*dw
            dx[n, g*Cg + c] = acc.reshape(Hp, Wq)[pt : pt + H, pl : pl + W]
        for n, g, oc in group g, c, i, j:                              # if need_dw
            dw[oc, c, i, j] += dot(dyw[n, oc], xpad[n, g*Cg + c].flat[i*dh*Wp + j*dw :])
    """
    h = geom[_H]
    wd = geom[_W]
    pt = geom[_PT]
    pl = geom[_PL]
    dh = geom[_DH]
    dw = geom[_DW]
    groups = geom[_GROUPS]
    need_dx = geom[_NEED_DX] != 0
    need_dw = geom[_NEED_DW] != 0
    oc_n, cg, kh, kw = w.shape
    ocg = oc_n // groups
    oh = dy.shape[2]
    ow = dy.shape[3]
    hp = oh + dh * (kh - 1)
    wp = ow + dw * (kw - 1)
    wq = wp + dw * (kw - 1)
    plane = hp * wp + dw * (kw - 1)
    planeq = (hp + dh * (kh - 1)) * wq + dw * (kw - 1)
    ln = oh * wp
    taps = offs.shape[0]
    btaps = boffs.shape[0]
    xp = np.empty(cg * plane, dtype=dy.dtype)
    dyw = np.empty(ln, dtype=dy.dtype)
    dyf = np.empty(ocg * planeq, dtype=dy.dtype)
    accx = np.empty(hp * wq, dtype=dy.dtype)
    bw = np.empty(btaps, dtype=dy.dtype)
    dots = np.empty(taps)
    acc[:] = 0.0
    for t in range(t0, t1):
        n = t // groups
        g = t % groups
        if need_dw:
            for c in range(cg):
                _pad_plane(xp[c * plane : (c + 1) * plane], x[n, g * cg + c], pt, pl, wp)
            for o in range(ocg):
                oc = g * ocg + o
                for r in range(oh):
                    _copy(dyw[r * wp : r * wp + ow], dy[n, oc, r])
                    _zero(dyw[r * wp + ow : (r + 1) * wp])
                u = 0
                while u + 4 <= taps:
                    o0, o1, o2, o3 = offs[u], offs[u + 1], offs[u + 2], offs[u + 3]
                    dots[u], dots[u + 1], dots[u + 2], dots[u + 3] = _dot4(
                        dyw,
                        xp[o0 : o0 + ln],
                        xp[o1 : o1 + ln],
                        xp[o2 : o2 + ln],
                        xp[o3 : o3 + ln],
                    )
                    u += 4
                while u < taps:
                    dots[u] = _dot(dyw, xp[offs[u] : offs[u] + ln])
                    u += 1
                for u in range(taps):
                    acc[oc, u // (kh * kw), (u // kw) % kh, u % kw] += dots[u]
        if need_dx:
            for o in range(ocg):
                _pad_plane(
                    dyf[o * planeq : (o + 1) * planeq],
                    dy[n, g * ocg + o],
                    dh * (kh - 1),
                    dw * (kw - 1),
                    wq,
                )
            for c in range(cg):
                for u in range(btaps):
                    bw[u] = w[g * ocg + u // (kh * kw), c, (u // kw) % kh, u % kw]
                _gather_taps(accx, dyf, boffs, bw)
                for r in range(h):
                    d = (r + pt) * wq + pl
                    _copy(dx[n, g * cg + c, r], accx[d : d + wd])


# ---------------------------------------------------------------------- public API


class _Ctx:
    """What :func:`conv2d_forward` hands to :func:`conv2d_backward` (opaque to callers)."""

    __slots__ = ("algo", "cols", "nb")

    def __init__(self, algo: str, cols: np.ndarray | None = None, nb: int = 0) -> None:
        self.algo = algo
        self.cols = cols  # the forward's column matrices, chunk after chunk, when kept
        self.nb = nb  # images per chunk of ``cols``


# The context of every implicit-GEMM forward: nothing kept, so one shared instance.
_IMPLICIT = _Ctx("implicit")


def _parts(tasks: int) -> int:
    """How many blocks a parallel kernel splits ``tasks`` into (one per thread)."""
    return max(1, min(tasks, numba.get_num_threads()))


_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():  # a forked child has no threads
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)))
        return _pool[1]


def _run_parts(fn, tasks: int, parts: int, *args) -> None:
    """Run ``fn(*args, p, t0, t1)`` for ``parts`` blocks ``[t0, t1)`` of ``range(tasks)``.

    The blocks run on a small thread pool (``fn`` is ``nogil``) plus the calling thread.
    Not numba's ``prange``: an idle pool thread sleeps, where numba's OpenMP workers spin
    and take the cores from OpenBLAS in the next GEMM, and the kernels compile without
    numba's parallel passes (the direct conv kernels: 5-6 s cold instead of 11-12, same
    run time for depthwise 64x32x32x32 k3).
    """
    bounds = [(p * tasks // parts, (p + 1) * tasks // parts) for p in range(parts)]
    if parts == 1:
        fn(*args, 0, *bounds[0])
        return
    pool = _thread_pool()
    futures = [pool.submit(fn, *args, p, *bounds[p]) for p in range(1, parts)]
    fn(*args, 0, *bounds[0])
    for f in futures:
        f.result()


def _run_shared(fn, tasks: int, parts: int, *args) -> None:
    """Run ``fn(*args, p, todo)`` on ``parts`` threads that share one iterator of tasks.

    Each thread takes the next task when it is free (``next`` on a range iterator is
    atomic under the GIL), so a thread that the OS deschedules on a busy machine does
    not hold back a fixed half of the work. When this thread has taken the last task, a
    pool thread that has not woken up yet (50-100 us on this VM, milliseconds when the
    host is busy) is cancelled rather than waited for: it would find nothing to do.
    """
    todo = iter(range(tasks))
    if parts == 1:
        fn(*args, 0, todo)
        return
    pool = _thread_pool()
    futures = [pool.submit(fn, *args, p, todo) for p in range(1, parts)]
    fn(*args, 0, todo)
    for f in futures:
        if not f.cancel():  # a thread that has not woken up yet has nothing left to do
            f.result()


def _chunking(n: int, rows: int, ohw: int, itemsize: int) -> tuple[int, int, int]:
    """``(images per chunk, chunks, threads)`` for the im2col path.

    A chunk's column matrix stays under :data:`_CHUNK_BYTES`, and each thread gets
    several chunks (:data:`_CHUNKS_PER_THREAD`) so that the shared queue can even out a
    thread that the OS holds back.
    """
    per_image = rows * ohw * itemsize
    parts = _parts(n)
    nb = max(1, min(n, _CHUNK_BYTES // max(per_image, 1)))
    if parts > 1:
        nb = min(nb, max(1, n // (parts * _CHUNKS_PER_THREAD)))
    chunks = -(-n // nb)
    nb = -(-n // chunks)  # the same chunk count, sizes as equal as possible
    return nb, -(-n // nb), min(parts, chunks)


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    relu: bool = False,
    scale: np.ndarray | None = None,
    shift: np.ndarray | None = None,
    residual: np.ndarray | None = None,
    pool: bool = False,
) -> tuple[np.ndarray, _Ctx]:
    """Forward convolution (see the module docstring for the loop it computes).

    Args:
        x: input ``(N, C, H, W)``, float32 or float64.
        w: weight ``(OC, C // groups, KH, KW)``, same dtype as ``x``.
        stride: ``(sh, sw)``.
        padding: ``(top, bottom, left, right)`` zero padding.
        dilation: ``(dh, dw)``.
        groups: number of channel groups; ``C`` and ``OC`` are multiples of it.
        relu: return ``max(y, 0)`` (graph mode fuses a following ReLU).
        scale: per-output-channel factors ``(OC,)`` applied to ``y`` (an inference
            BatchNorm that graph mode folds in), with ``shift``.
        shift: per-output-channel offsets ``(OC,)``, with ``scale``.
        residual: an array shaped like ``y``, added after ``scale``/``shift`` and before
            the ReLU (a residual connection).
        pool: return the 2x2 max pooling (stride 2, no padding) of the result, ``(N,
            OC, OH // 2, OW // 2)`` (graph mode fuses a LeNet-style pooling); not with
            ``residual``. ``ctx`` is then of no use to a backward.

    The implicit kernels apply ``pool?(relu?(y * scale + shift + residual))`` as they
    write ``y``, one image at a time while it is in the cache; the other algorithms
    apply it afterwards.

    Returns:
        ``(y, ctx)``: ``y`` is ``(N, OC, OH, OW)``; ``ctx`` is an opaque object for
        :func:`conv2d_backward`.
    """
    if pool and residual is not None:
        raise ValueError("conv2d_forward: 'pool' does not take a 'residual'")
    plan = _small_plan(x, w, stride, padding, dilation, groups)
    if plan is not None and (
        plan.algo == "implicit" or pool or relu or scale is not None or residual is not None
    ):  # an implicit convolution of a shape seen before: the lean path
        return small_forward(plan, x, w, relu, scale, shift, residual, pool), _IMPLICIT
    epi = _epilogue_args(np.asarray(x).dtype, relu, scale, shift, residual)
    y, ctx = _forward(x, w, stride, padding, dilation, groups, epi, pool)
    if ctx.algo != "implicit":
        if scale is not None:
            bshape = (1, -1, 1, 1)
            y = y * epi[1].reshape(bshape) + epi[2].reshape(bshape)
        if residual is not None:
            y += epi[3]
        if relu:
            np.maximum(y, 0, out=y)
        if pool:
            y = max_pool2d_values(y, (2, 2), (2, 2))
    return y, ctx


def _small_plan(x, w, stride, padding, dilation, groups):
    """The cached plan of an implicit convolution of these operands, else None.

    A batch-1 inference convolution does microseconds of arithmetic; looking up the
    algorithm, output shape, geometry and task split each time (seven calls) cost as
    much (LeNet-5's first layer: 16 us in all, 5.5 in the kernel), so they are
    computed once per shape here. At batch 64 the same lookups were ~35 of the ~70 us
    of Python before LeNet-5's second convolution started computing.
    """
    if type(x) is not np.ndarray or type(w) is not np.ndarray or x.dtype != w.dtype:
        return None
    if not (x.flags.c_contiguous and w.flags.c_contiguous):
        return None
    try:
        return _plan_for(x.shape, w.shape, stride, padding, dilation, groups, x.dtype,
                         numba.get_num_threads())  # fmt: skip
    except TypeError:  # unhashable attributes (lists): the general path copes
        return None


def small_plan(
    x_shape, w_shape, stride, padding, dilation, groups, dtype, fused: bool = False
) -> tuple | None:
    """The plan :func:`small_forward` takes for these shapes, or None (not a small conv).

    Graph mode asks once per convolution node, when it compiles, instead of per call.
    ``fused``: the node applies an epilogue (an affine step, a residual, a pooling), for
    which the implicit kernel also takes the shapes im2col would run without one (as
    :func:`conv2d_forward` does): ResNet-20's 1x1 stride-2 shortcuts at batch 1.

    Example:
        >>> plan = small_plan((1, 16, 8, 8), (16, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1,
        ...                   np.dtype("float32"))
        >>> plan[0]  # the output shape
        (1, 16, 8, 8)
    """
    try:
        plan = _plan_for(tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding),
                         tuple(dilation), groups, np.dtype(dtype), numba.get_num_threads())  # fmt: skip
    except TypeError:
        return None
    if plan is None or plan.split is not None:
        return None
    return plan if plan.algo == "implicit" or fused else None


class _Plan(NamedTuple):
    """What an implicit convolution of one shape needs, worked out once (:func:`_plan_for`)."""

    out_shape: tuple
    mk: tuple  # the weight as a matrix: (OC, C*KH*KW)
    geo: implicit.Geometry
    starts: np.ndarray  # gemm tile starts (packing_layout)
    work: int  # scratch elements for forward_packing
    split: tuple | None  # (images per task, tasks, threads); None: one task
    algo: str  # the measured choice ("implicit", or "im2col" taken when an epilogue is fused)


@functools.lru_cache(maxsize=256)
def _plan_for(x_shape, w_shape, stride, padding, dilation, groups, dtype, threads):
    """The :class:`_Plan` of a convolution the implicit kernel can run, else None.

    ``split`` is ``(images per task, tasks, threads)``, or None for one task on the
    calling thread. ``threads`` (numba's thread count, which the split reads) is part of
    the key: ``numba.set_num_threads`` changes the split. ``algo`` is the measured
    choice: an ``"im2col"`` shape has a plan too, taken when an epilogue is fused (as
    :func:`_forward` does; ResNet-20's 1x1 stride-2 shortcuts at batch 1: 40-46 us a call
    on the general path).
    """
    algo = conv2d_algo(x_shape, w_shape, stride, padding, dilation, groups, dtype)
    implicit_ok = algo == "implicit" or (
        algo == "im2col" and groups == 1 and simd.AVAILABLE and dtype in _SIMD_DTYPES
    )
    if not implicit_ok or len(x_shape) != 4 or len(w_shape) != 4:
        return None
    out_shape = conv2d_output_shape(x_shape, w_shape, stride, padding, dilation)
    oc, _, kh, kw = w_shape
    geo = _geometry(x_shape, out_shape[2:], (kh, kw), (padding[0], padding[2]),
                    tuple(dilation), dtype.itemsize, tuple(stride))  # fmt: skip
    k = w_shape[1] * kh * kw
    split = _implicit_tasks(x_shape[0], 2 * oc * k * geo.length)
    if min(out_shape) == 0:
        return None
    starts, work = implicit.packing_layout(oc, k, geo)
    return _Plan(out_shape, (oc, k), geo, starts, work,
                 None if split[1] == 1 else split, algo)  # fmt: skip


def small_runner(
    plan,
    dtype: np.dtype,
    relu: bool,
    pool: bool = False,
    eps: float | None = None,
    fallback: Callable | None = None,
) -> Callable:
    """:func:`small_forward` for one plan and epilogue, with what they fix bound once.

    Graph mode calls the result once per replay of a convolution node: ``run(x, w,
    scale=None, shift=None, residual=None) -> y``, on C-contiguous arrays of the plan's
    shapes and ``dtype`` (``scale`` and ``shift`` flat). A plan of one task calls
    :func:`conv_implicit.forward_packing` straight away: the lookups and conversions of
    :func:`small_forward` took ~5 us of a 60-100 us batch-1 convolution, 21 times in a
    ResNet-20 forward. Plans of several tasks go through :func:`small_forward`.

    With ``eps``, the epilogue is an inference BatchNorm folded inside the kernel:
    ``run(x, w, gamma, beta, mean, var, residual=None)``. With ``fallback``, an operand
    that is not C-contiguous (a strided view fed to a compiled graph) sends the call to
    ``fallback`` with the same arguments (the general kernel, which copies).

    Example:
        >>> x = np.ones((1, 2, 4, 4), np.float32)
        >>> w = np.ones((3, 2, 3, 3), np.float32)
        >>> plan = small_plan(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1, x.dtype)
        >>> run = small_runner(plan, x.dtype, relu=False)
        >>> bool(np.array_equal(run(x, w), small_forward(plan, x, w)))
        True
    """
    out_shape, (_, k), geo, starts, work, split, _ = plan
    if split is not None:

        def run_split(x, w, *args):  # noqa: ANN001, ANN002, ANN202
            if fallback is not None and not all(a.flags.c_contiguous for a in (x, w, *args)):
                return fallback(x, w, *args)
            if eps is not None:  # (gamma, beta, mean, var[, residual]) -> (scale, shift[, ...])
                args = (*batch_norm_affine(*args[:4], eps), *args[4:])
            return small_forward(plan, x, w, relu, *args, pool=pool)

        return run_split
    if pool:
        out_shape = (*out_shape[:2], out_shape[2] // 2, out_shape[3] // 2)
    dt = np.dtype(dtype)
    kernel, scratch, empty = implicit.forward_packing, _scratch, np.empty
    offs, grid, tiling, pad_size = geo.offs, geo.grid, geo.tiling, geo.pad_size
    none = _no_epilogue(dt)
    if eps is not None:
        e = float(eps)

        def run_bn(x, w, gamma, beta, mean, var, residual=None):  # noqa: ANN001, ANN202
            if fallback is not None and not (
                x.flags.c_contiguous
                and w.flags.c_contiguous
                and gamma.flags.c_contiguous
                and beta.flags.c_contiguous
                and mean.flags.c_contiguous
                and var.flags.c_contiguous
                and (residual is None or residual.flags.c_contiguous)
            ):
                args = (gamma, beta, mean, var) + (() if residual is None else (residual,))
                return fallback(x, w, *args)
            y = empty(out_shape, dt)
            kernel(x, w.reshape(-1), k, starts, offs, grid, tiling, pad_size, y,
                   scratch("ismall", work, dt), relu, gamma, beta,
                   none[3] if residual is None else residual, pool, mean, var, e)  # fmt: skip
            return y

        return run_bn

    def run(x, w, scale=None, shift=None, residual=None):  # noqa: ANN001, ANN202
        if fallback is not None and not (
            x.flags.c_contiguous
            and w.flags.c_contiguous
            and (scale is None or (scale.flags.c_contiguous and shift.flags.c_contiguous))
            and (residual is None or residual.flags.c_contiguous)
        ):
            args = (() if scale is None else (scale, shift)) + (
                () if residual is None else (residual,)
            )
            return fallback(x, w, *args)
        y = empty(out_shape, dt)
        kernel(x, w.reshape(-1), k, starts, offs, grid, tiling, pad_size, y,
               scratch("ismall", work, dt), relu,
               none[1] if scale is None else scale.reshape(-1),
               none[2] if shift is None else shift.reshape(-1),
               none[3] if residual is None else residual, pool, none[1], none[2], 0.0)  # fmt: skip
        return y

    return run


def batch_norm_affine(gamma, beta, mean, var, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """An inference BatchNorm's per-channel ``(scale, shift)``, flat, in ``var``'s dtype.

    ``scale = gamma / sqrt(var + eps)``, ``shift = beta - mean * scale``: the kernel
    :func:`conv_implicit.fold_batch_norm` (the same arithmetic the convolution kernels
    fold inside).

    Example:
        >>> one = np.ones(1, np.float32)
        >>> [a.tolist() for a in batch_norm_affine(2 * one, one, one, 3 * one, 1.0)]
        [[1.0], [0.0]]
    """
    flat = [np.ascontiguousarray(a, dtype=var.dtype).reshape(-1) for a in (gamma, beta, mean, var)]
    out = np.empty(2 * flat[0].shape[0], var.dtype)
    implicit.fold_batch_norm(*flat, float(eps), out)
    return out[: flat[0].shape[0]], out[flat[0].shape[0] :]


def small_conv(plan, x, w, relu=False) -> tuple[np.ndarray, _Ctx]:
    """:func:`conv2d_forward`'s ``(y, ctx)`` for a :func:`small_plan` (see :func:`small_forward`)."""
    return small_forward(plan, x, w, relu), _IMPLICIT


def small_forward(
    plan, x, w, relu=False, scale=None, shift=None, residual=None, pool=False
) -> np.ndarray:
    """:func:`conv2d_forward`'s ``y`` for a :func:`small_plan`, on C-contiguous ``x``, ``w``.

    The plan fixes shapes and dtype; nothing is checked again here. ``conv2d_forward``
    also passes its cached plans of several tasks (the batch split over threads).

    Example:
        >>> x = np.ones((1, 2, 4, 4), np.float32)
        >>> w = np.ones((3, 2, 3, 3), np.float32)
        >>> args = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
        >>> plan = small_plan(x.shape, w.shape, *args, x.dtype)
        >>> y = small_forward(plan, x, w)
        >>> bool(np.array_equal(y, conv2d_forward(x, w, *args)[0])), float(y[0, 0, 1, 1])
        (True, 18.0)
    """
    out_shape, mk, geo, starts, work, split, _ = plan
    if pool:
        out_shape = (*out_shape[:2], out_shape[2] // 2, out_shape[3] // 2)
    y = np.empty(out_shape, x.dtype)
    _implicit_run(x, w.reshape(mk), y, geo, split, (starts, work),
                  _epilogue_args(x.dtype, relu, scale, shift, residual), pool)  # fmt: skip
    return y


def _epilogue_args(dt, relu, scale, shift, residual) -> tuple:
    """``(relu, scale, shift, residual)`` as the kernels take them (empty arrays: none)."""
    none = _no_epilogue(dt)
    return (
        relu,
        none[1] if scale is None else np.ascontiguousarray(scale, dt).reshape(-1),
        none[2] if shift is None else np.ascontiguousarray(shift, dt).reshape(-1),
        none[3] if residual is None else np.ascontiguousarray(residual, dt),
    )


def _forward(x, w, stride, padding, dilation, groups, epi, pool=False):
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    algo = conv2d_algo(x.shape, w.shape, stride, padding, dilation, groups, x.dtype)
    fused = pool or (epi is not None and (epi[0] or epi[1].size or epi[3].size))
    if algo == "im2col" and fused and groups == 1 and simd.AVAILABLE and x.dtype in _SIMD_DTYPES:
        # a fused epilogue would cost im2col extra passes over y (ResNet-20's inference
        # shortcuts: 1x1 stride 2 with a folded BatchNorm, 1.7 -> 1.1 ms at batch 64)
        algo = "implicit"
    n, oc, oh, ow = conv2d_output_shape(x.shape, w.shape, stride, padding, dilation)
    pooled = algo == "implicit" and pool  # else conv2d_forward pools afterwards
    y = np.empty((n, oc, oh // 2, ow // 2) if pooled else (n, oc, oh, ow), dtype=x.dtype)
    sh, sw = stride
    pt, _, pl, _ = padding
    dh, dw = dilation
    if algo == "implicit":
        _implicit_conv(x, w.reshape(oc, -1), y, w.shape[2:], (pt, pl), dilation, stride, epi,
                       (oh, ow) if pool else None)  # fmt: skip
        return y, _Ctx(algo)
    if algo == "direct":
        geom, offs, _ = _direct_geometry(x.shape, w.shape, (oh, ow), padding, dilation, groups)
        tasks = n * groups
        _run_parts(_direct_forward_block, tasks, _parts(tasks), x, w, y, geom, offs)
        return y, _Ctx(algo)
    _, cg, kh, kw = w.shape
    rows = cg * kh * kw
    nb, chunks, parts = _chunking(n, groups * rows, oh * ow, x.itemsize)
    _blas_threads(parts, 2 * y.size * rows)
    g = (kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
    w3 = w.reshape(groups, oc // groups, rows)
    size = groups * rows * n * oh * ow
    keep = _kept_buffer(size, x.dtype) if size * x.itemsize <= _KEEP_COLS_BYTES else None
    _run_shared(_im2col_forward_part, chunks, parts, x, w3, y, g, nb, keep)
    return y, _Ctx(algo, keep, nb)


def _blas_threads(parts: int, flops: int) -> None:
    """One BLAS thread when the chunks already run on ``parts > 1`` threads of our own.

    OpenBLAS's own threads spin between calls; on a shared 2-core machine that made small
    GEMMs many times slower (see ``blas.py``). Splitting the batch over our threads, each
    calling single-threaded BLAS, keeps the cores busy with im2col/col2im too.
    """
    if parts > 1 or numba.get_num_threads() == 1:  # or the user asked for one thread
        flops = 0
    blas.threads_for(flops)


# Buffers of kept columns that a backward has finished with, by (size, dtype): the next
# forward of the same layer reuses one, which is still in the cache, instead of writing
# a fresh one (c1 of LeNet-5: im2col 0.2 ms into a reused buffer, 0.5 ms into a new one).
_kept_free: dict[tuple[int, np.dtype], list[np.ndarray]] = {}


def _kept_buffer(size: int, dtype: np.dtype) -> np.ndarray:
    free = _kept_free.get((size, dtype))
    try:
        return free.pop() if free else np.empty(size, dtype=dtype)
    except IndexError:  # another thread took the last one
        return np.empty(size, dtype=dtype)


def _release_kept(ctx: _Ctx) -> None:
    """Hand ``ctx``'s kept columns back for reuse; a later backward rebuilds them."""
    buf, ctx.cols = ctx.cols, None
    free = _kept_free.setdefault((buf.size, buf.dtype), [])
    if len(free) < 4:
        free.append(buf)


def _pad_plane_buffer(g, dtype):
    """Scratch for :func:`_im2col`'s zero-padded plane, for geometry ``g``."""
    kh, kw, sh, sw, _, _, dh, dw, oh, ow = g
    return _workspace(
        "pad", (((oh - 1) * sh + (kh - 1) * dh + 1) * ((ow - 1) * sw + (kw - 1) * dw + 1),), dtype
    )


def _kept_cols(keep, n0, m, k_rows, ohw):
    """Chunk ``(n0, m)``'s ``(K, m*P)`` column matrix inside the flat buffer ``keep``."""
    return keep[k_rows * n0 * ohw : k_rows * (n0 + m) * ohw].reshape(k_rows, m * ohw)


def _im2col_forward_part(x, w3, y, g, nb, keep, p, todo):
    """The chunks this thread takes from ``todo``, forward: im2col, one GEMM, ``(OC, n, P) -> (n, OC, P)``.

    With ``keep`` the columns go there (for the backward) instead of a scratch buffer.
    """
    n = x.shape[0]
    groups, ocg, rows = w3.shape
    oc = groups * ocg
    ohw = g[-2] * g[-1]
    y3 = y.reshape(n, oc, ohw)
    for t in todo:
        n0 = t * nb
        m = min(nb, n - n0)
        if keep is None:
            cols = _workspace("cols", (groups * rows, m * ohw), x.dtype)
        else:
            cols = _kept_cols(keep, n0, m, groups * rows, ohw)
        _im2col(x, n0, m, *g, cols, _pad_plane_buffer(g, x.dtype))
        if m == 1 and groups == 1:  # straight into y[n0]: (OC, P) is its layout
            np.matmul(w3[0], cols, out=y3[n0])
            continue
        out = _workspace("ycols", (oc, m * ohw), x.dtype)
        if groups == 1:
            np.matmul(w3[0], cols, out=out)
        else:
            np.matmul(
                w3, cols.reshape(groups, rows, m * ohw), out=out.reshape(groups, ocg, m * ohw)
            )
        _swap01(out.reshape(oc, m, ohw), y3[n0 : n0 + m])


# Work per task of the implicit kernels, in FLOPs: the batch is shared out in tasks of
# about this much (one Python call of ~5 us each, ~150 us of work). Tasks of 4 MFLOP made
# a ResNet-20 training step 0.91x as fast (twice the calls; two graphs alternating in
# one process). A convolution of at least one task's work over two or more images takes
# at least two tasks, so both threads work on it: LeNet-5's first layer (11 MFLOP at
# batch 64) used to round to one task and run on one thread; on two, LeNet-5's batch-64
# inference ran 1.08-1.11x faster, training 1.00-1.03x. (On an earlier day a pool thread
# had taken that layer from 0.24 to 0.49 ms; the two vCPUs do not always behave as two
# cores.) Smaller ones stay on the calling thread: waking a pool thread costs more.
_IMPLICIT_TASK_FLOPS = 8_000_000


# The weight gradient runs its tiles over blocks of images whose padded planes and
# output gradients fit in this much (a core's L2 on the Zen machine is 512 KB).
_DW_BLOCK_BYTES = 256 << 10

# The weight gradient uses conv_implicit's outer-product tiles (weight_grad_outer) when
# the output channels fill whole tiles and C*KH*KW reaches this, else its dot tiles
# (weight_grad_images). ms per 64 images (2 threads), dot | outer, in alternating runs
# after the outer tiles learned to skip the padding columns: 3x3 16->16@32 3.14 | 3.11,
# 16->32@32 stride 2 2.65 | 2.55, 3->16@32 0.86 | 1.13; LeNet-5's 6->16@12 k5 0.48 |
# 0.30. (Before that, single-threaded: 32->32@16 6.3 | 5.9 and 64->64@8 9.6 | 8.2, both
# outer now.)
_OUTER_DW_MIN_K = 128


def _implicit_tasks(n: int, flops_per_image: int) -> tuple[int, int, int]:
    """``(images per task, tasks, threads)`` for the implicit kernels on ``n`` images."""
    flops = n * flops_per_image
    tasks = max(1, min(n, round(flops / _IMPLICIT_TASK_FLOPS)))
    if tasks < 2 <= n and flops >= _IMPLICIT_TASK_FLOPS:
        tasks = 2
    if tasks < 2:
        return n, 1, 1
    parts = _parts(n)
    tasks = -(-tasks // parts) * parts  # whole rounds of the threads
    per = -(-n // tasks)
    tasks = -(-n // per)
    return per, tasks, min(parts, tasks)


@functools.lru_cache(maxsize=8)
def _no_epilogue(dtype: np.dtype) -> tuple:
    """``(relu, scale, shift, residual)`` meaning "no epilogue" (empty arrays, shared).

    Not marked read-only: numba types read-only arrays apart and would compile the
    kernels a second time for them.
    """
    return (False, np.empty(0, dtype), np.empty(0, dtype), np.empty((0, 0, 0, 0), dtype))


@functools.lru_cache(maxsize=256)
def _geometry(src_shape, out_hw, kernel, top_left, dilation, itemsize, stride=(1, 1)):
    """:class:`conv_implicit.Geometry`, built once per shape (30 us each time otherwise)."""
    return implicit.Geometry(src_shape, out_hw, kernel, top_left, dilation, itemsize, stride)


def _implicit_conv(src, wmat, out, kernel, top_left, dilation, stride=(1, 1), epi=None,
                   pooled_from=None):  # fmt: skip
    """``out = conv(src)`` by :func:`conv_implicit.forward_images`, the batch over threads.

    ``pooled_from``: the convolution's ``(OH, OW)`` when ``out`` is its 2x2 max pooling.
    """
    pool = pooled_from is not None
    geo = _geometry(src.shape, tuple(pooled_from) if pool else out.shape[2:], tuple(kernel),
                    top_left, tuple(dilation), src.itemsize, tuple(stride))  # fmt: skip
    split = _implicit_tasks(src.shape[0], 2 * wmat.size * geo.length)
    _implicit_run(src, wmat, out, geo, None if split[1] == 1 else split,
                  implicit.packing_layout(*wmat.shape, geo),
                  _no_epilogue(src.dtype) if epi is None else epi, pool)  # fmt: skip


def _implicit_run(src, wmat, out, geo, split, layout, epi, pool):
    """:func:`conv_implicit.forward_images` over the batch into ``out``.

    ``split`` None (a batch of one or a small convolution): one call on this thread, the
    weight packed inside it, in the ``layout`` (``packing_layout``'s ``(starts, work)``).
    Else ``(images per task, tasks, threads)``: the tasks over the thread pool.
    """
    if split is None:
        starts, work = layout
        none = epi[1][:0]  # no BatchNorm to fold
        implicit.forward_packing(src, np.ascontiguousarray(wmat).reshape(-1), wmat.shape[1],
                                 starts, geo.offs, geo.grid, geo.tiling, geo.pad_size, out,
                                 _workspace("ismall", (work,), src.dtype), *epi, pool, none,
                                 none, 0.0)  # fmt: skip
        return
    per, tasks, parts = split
    packed, starts = implicit.pack_rows(wmat)
    _run_shared(_implicit_conv_part, tasks, parts, src, packed, starts, geo, out, per, epi, pool)


def _implicit_conv_part(src, packed, starts, geo, out, per, epi, pool, p, todo):
    pad = _workspace("ipad", (geo.pad_size,), src.dtype)
    ybuf = _workspace("iybuf", (out.shape[1] * geo.length,), src.dtype)
    n = src.shape[0]
    for t in todo:
        n0 = t * per
        implicit.forward_images(src, n0, min(n, n0 + per), packed, True, starts, geo.offs, geo.grid,
                                geo.tiling, out, pad, ybuf, *epi, pool)  # fmt: skip


def _implicit_grads(dy, x, w, x_shape, w_shape, stride, padding, dilation):
    """Implicit-GEMM backward; ``dx`` needs ``w``, ``dw`` needs ``x`` (else ``None``).

    ``dx`` is the convolution of ``dy``, placed ``dh*(KH-1) - pt`` rows down and
    ``dw*(KW-1) - pl`` columns right in its padded grid, by the flipped, transposed
    weight (stride 1, "same"-like padding; otherwise ``dx`` goes through im2col and col2im);
    ``dW`` is :func:`conv_implicit.weight_grad_images` over the forward's grid.
    """
    oc, c, kh, kw = w_shape
    dh, dw_ = dilation
    pt, _, pl, _ = padding
    dx = dwt = None
    # The implicit dx correlates dy's padded planes with the whole kernel: for a "valid"
    # convolution most of that grid is padding. It runs H*(W + dw*(KW-1)) output columns
    # where im2col's GEMM runs OH*OW; past 1.5 times the work, im2col and col2im win
    # (LeNet-5's 6->16@12 k5: 3x the FLOPs, dx 1.0 ms against 0.85).
    wasted = x_shape[2] * (x_shape[3] + dw_ * (kw - 1)) > 1.5 * dy.shape[2] * dy.shape[3]
    if w is not None and (tuple(stride) != (1, 1) or wasted):
        dx = _im2col_grads(dy, None, w, x_shape, w_shape, stride, padding, dilation, 1)[0]
    elif w is not None:
        dx = np.empty(x_shape, dtype=dy.dtype)
        wf = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(c, -1)
        top_left = (dh * (kh - 1) - pt, dw_ * (kw - 1) - pl)
        _implicit_conv(dy, wf, dx, (kh, kw), top_left, dilation)
    if x is not None:
        dwt = _implicit_weight_grad(dy, x, w_shape, stride, padding, dilation)
    return dx, dwt


def _implicit_weight_grad(dy, x, w_shape, stride, padding, dilation):
    """``dW`` by the outer-product or the dot tiles of :mod:`conv_implicit`, over threads."""
    oc, c, kh, kw = w_shape
    k = c * kh * kw
    geo = _geometry(x.shape, dy.shape[2:], (kh, kw), (padding[0], padding[2]), tuple(dilation),
                    x.itemsize, tuple(stride))  # fmt: skip
    nr = simd.VECTORS * simd.lanes(x.itemsize)
    outer = oc % nr == 0 and k >= _OUTER_DW_MIN_K
    length = geo.oh * geo.ow if outer else geo.dot_length
    per_image = geo.pad_size + oc * length
    nb = max(1, _DW_BLOCK_BYTES // (per_image * x.itemsize))
    n = x.shape[0]
    per, tasks, parts = _implicit_tasks(n, 2 * oc * k * length)
    nb = max(1, min(nb, per))
    tasks = -(-n // nb)
    parts = min(parts, tasks)
    acc = np.zeros((parts, k, oc) if outer else (parts, oc, k), dtype=x.dtype)
    _run_shared(_implicit_dw_part, tasks, parts, dy, x, geo, acc, nb, outer, length)
    total = acc[0] if parts == 1 else acc.sum(axis=0)
    return np.ascontiguousarray(total.T if outer else total).reshape(w_shape)


def _implicit_dw_part(dy, x, geo, acc, nb, outer, length, p, todo):
    pads = _workspace("idwpad", (nb * geo.pad_size,), x.dtype)
    dyext = _workspace("idyext", (nb * dy.shape[1] * length,), x.dtype)
    n = x.shape[0]
    for t in todo:
        n0 = t * nb
        n1 = min(n, n0 + nb)
        if outer:
            implicit.weight_grad_outer(dy, x, n0, n1, geo.offs, geo.grid, geo.pad_size, acc[p], pads,
                                       dyext)  # fmt: skip
        else:
            implicit.weight_grad_images(dy, x, n0, n1, geo.offs, geo.grid, length, geo.pad_size,
                                        acc[p], pads, dyext)  # fmt: skip


def _direct_forward_block(x, w, y, geom, offs, p, t0, t1):
    _direct_forward(x, w, y, geom, offs, t0, t1)


def _direct_backward_block(dy, x, w, dx, dwp, geom, offs, boffs, p, t0, t1):
    _direct_backward(dy, x, w, dx, dwp[p], geom, offs, boffs, t0, t1)


def _direct_geometry(x_shape, w_shape, out_hw, padding, dilation, groups):
    """``geom`` and the tap offsets of the direct kernels (see :func:`_direct_backward`).

    ``offs[(c, i, j)] = c*plane + i*dh*Wp + j*dw`` on the padded input planes (rows of
    ``Wp = OW + dw*(KW-1)``); ``boffs[(o, i, j)] = o*planeq + (KH-1-i)*dh*Wq +
    (KW-1-j)*dw`` on ``dy`` padded by the kernel's reach on every side (rows of ``Wq``).
    """
    _, _, h, w = x_shape
    oc, cg, kh, kw = w_shape
    oh, ow = out_hw
    dh, dw = dilation
    hp, wp = oh + dh * (kh - 1), ow + dw * (kw - 1)
    wq = wp + dw * (kw - 1)
    plane = hp * wp + dw * (kw - 1)  # + the tail the last taps read past the grid
    planeq = (hp + dh * (kh - 1)) * wq + dw * (kw - 1)
    c, i, j = np.meshgrid(np.arange(cg), np.arange(kh), np.arange(kw), indexing="ij")
    offs = (c * plane + i * dh * wp + j * dw).reshape(-1).astype(np.int64)
    o, i, j = np.meshgrid(np.arange(oc // groups), np.arange(kh), np.arange(kw), indexing="ij")
    boffs = (o * planeq + (kh - 1 - i) * dh * wq + (kw - 1 - j) * dw).reshape(-1)
    geom = np.zeros(9, dtype=np.int64)
    geom[[_PT, _PL, _DH, _DW, _GROUPS, _H, _W]] = padding[0], padding[2], dh, dw, groups, h, w
    return geom, offs, boffs.astype(np.int64)


def _direct_grads(dy, x, w, x_shape, w_shape, padding, dilation, groups):
    """Direct backward; ``dx`` needs ``w``, ``dw`` needs ``x`` (else ``None``)."""
    need_dx = w is not None
    need_dw = x is not None
    dtype = dy.dtype
    geom, offs, boffs = _direct_geometry(x_shape, w_shape, dy.shape[2:], padding, dilation, groups)
    geom[_NEED_DX] = need_dx
    geom[_NEED_DW] = need_dw
    parts = _parts(x_shape[0] * groups)
    nothing = np.empty((0, 0, 0, 0), dtype=dtype)
    dx = np.empty(x_shape, dtype=dtype) if need_dx else nothing
    dwp = np.empty((parts, *w_shape) if need_dw else (parts, 0, 0, 0, 0))
    _run_parts(
        _direct_backward_block,
        x_shape[0] * groups,
        parts,
        dy,
        x if need_dw else nothing,
        w if need_dx else np.zeros(w_shape, dtype=dtype),
        dx,
        dwp,
        geom,
        offs,
        boffs,
    )
    return (dx if need_dx else None), (dwp.sum(axis=0).astype(dtype) if need_dw else None)


def _im2col_grads(dy, x, w, x_shape, w_shape, stride, padding, dilation, groups, ctx=None):
    """Chunked im2col backward; ``dx`` needs ``w``, ``dw`` needs ``x`` (else ``None``).

    ``dW`` reuses the forward's column matrices when ``ctx`` kept them.
    """
    need_dx = w is not None
    need_dw = x is not None
    n = x_shape[0]
    oc, cg, kh, kw = w_shape
    ocg = oc // groups
    _, _, oh, ow = dy.shape
    rows = cg * kh * kw
    dtype = dy.dtype
    nb, chunks, parts = _chunking(n, groups * rows, oh * ow, dtype.itemsize)
    keep = ctx.cols if ctx is not None and need_dw else None
    if keep is not None:
        nb = ctx.nb
        chunks = -(-n // nb)
        parts = min(_parts(n), chunks)
    _blas_threads(parts, 2 * dy.size * rows)
    g = (kh, kw, *stride, padding[0], padding[2], *dilation, oh, ow)
    dx = np.empty(x_shape, dtype=dtype) if need_dx else None
    dwp = np.zeros((parts, groups, rows, ocg), dtype=dtype) if need_dw else None
    # a contiguous W.T: the GEMM ran a little faster than on the transposed view
    w3t = np.ascontiguousarray(w.reshape(groups, ocg, rows).transpose(0, 2, 1)) if need_dx else None
    _run_shared(_im2col_backward_part, chunks, parts, dy, x, w3t, dx, dwp, g, nb, keep)
    if keep is not None:
        _release_kept(ctx)
    if need_dw:
        dwt = dwp[0] if parts == 1 else dwp.sum(axis=0)
        return dx, np.ascontiguousarray(dwt.transpose(0, 2, 1)).reshape(oc, cg, kh, kw)
    return dx, None


def _im2col_backward_part(dy, x, w3t, dx, dwp, g, nb, keep, p, todo):
    """The chunks this thread takes from ``todo``, backward; this part's ``dW.T`` accumulates in ``dwp[p]``.

    Per chunk: ``dY`` to ``(OC, n*P)``; ``dW.T += cols @ dY.T`` (columns rebuilt rather
    than kept from the forward); ``dcols = W.T @ dY``, scattered into ``dx`` by col2im.
    """
    n, oc = dy.shape[:2]
    ohw = g[-2] * g[-1]
    dy3 = dy.reshape(n, oc, ohw)
    dtype = dy.dtype
    for t in todo:
        n0 = t * nb
        m = min(nb, n - n0)
        if m == 1:
            dyc = dy3[n0]
        else:
            dyc = _workspace("dycols", (oc, m * ohw), dtype)
            _swap01(dy3[n0 : n0 + m], dyc.reshape(oc, m, ohw))
        if dwp is not None:
            groups, rows, ocg = dwp.shape[1:]
            dyg = dyc.reshape(groups, ocg, m * ohw)
            if keep is None:
                cols = _workspace("cols", (groups * rows, m * ohw), dtype)
                _im2col(x, n0, m, *g, cols, _pad_plane_buffer(g, dtype))
            else:
                cols = _kept_cols(keep, n0, m, groups * rows, ohw)
            part = _workspace("dwpart", (groups, rows, ocg), dtype)
            np.matmul(cols.reshape(groups, rows, m * ohw), dyg.transpose(0, 2, 1), out=part)
            dwp[p] += part
        if w3t is not None:
            groups, rows, ocg = w3t.shape
            dcols = _workspace("dcols", (groups * rows, m * ohw), dtype)
            if groups == 1:
                np.matmul(w3t[0], dyc, out=dcols)
            else:
                np.matmul(
                    w3t,
                    dyc.reshape(groups, ocg, m * ohw),
                    out=dcols.reshape(groups, rows, m * ohw),
                )
            _col2im(dcols, *g, dx, n0)


def conv2d_backward(
    dy: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    ctx: _Ctx | None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
    need_dx: bool = True,
    need_dw: bool = True,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Gradients of :func:`conv2d_forward` with respect to ``x`` and ``w``.

    ``dx`` is the transposed convolution of ``dy`` (``dxpad[n, c, r*sh + i*dh, ...] +=
    w[oc, c, i, j] * dy[n, oc, r, q]``); ``dw[oc, c, i, j] = sum_{n, r, q} dy[n, oc, r, q]
    * xpad[n, c, r*sh + i*dh, q*sw + j*dw]``.

    Args:
        dy: gradient of the output ``(N, OC, OH, OW)``.
        x: the forward input.
        w: the forward weight.
        ctx: the context :func:`conv2d_forward` returned (``None`` re-picks the algorithm).
        stride: as in the forward.
        padding: as in the forward.
        dilation: as in the forward.
        groups: as in the forward.
        need_dx: compute ``dx``.
        need_dw: compute ``dw``.

    Returns:
        ``(dx, dw)``, each ``None`` when not requested.
    """
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    return _backward(
        dy,
        x if need_dw else None,
        w if need_dx else None,
        x.shape,
        w.shape,
        stride,
        padding,
        dilation,
        groups,
        ctx,
    )


def _backward(dy, x, w, x_shape, w_shape, stride, padding, dilation, groups, ctx=None):
    """Shared by the three backward entry points; ``None`` for ``x``/``w`` skips dw/dx."""
    if x is None and w is None:
        return None, None
    dtype = x.dtype if x is not None else w.dtype
    dy = np.ascontiguousarray(dy, dtype=dtype)
    if ctx is not None:
        algo = ctx.algo
    else:
        algo = conv2d_algo(x_shape, w_shape, stride, padding, dilation, groups, dtype)
    if algo == "implicit":
        return _implicit_grads(dy, x, w, x_shape, w_shape, stride, padding, dilation)
    if algo == "direct":
        return _direct_grads(dy, x, w, x_shape, w_shape, padding, dilation, groups)
    return _im2col_grads(dy, x, w, x_shape, w_shape, stride, padding, dilation, groups, ctx)


def conv2d_backward_input(
    dy: np.ndarray,
    w: np.ndarray,
    x_shape: tuple[int, int, int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """Gradient with respect to the input, without a forward context.

    Computes ``for n, oc, c, i, j, r, q: dxpad[n, g*Cg + c, r*sh + i*dh, q*sw + j*dw] +=
    w[oc, c, i, j] * dy[n, oc, r, q]`` (a transposed convolution).

    Args:
        dy: gradient of the output ``(N, OC, OH, OW)``.
        w: the forward weight ``(OC, C // groups, KH, KW)``.
        x_shape: the forward input's shape ``(N, C, H, W)``.
        stride: as in the forward.
        padding: as in the forward.
        dilation: as in the forward.
        groups: as in the forward.

    Returns:
        ``dx`` of shape ``x_shape``.
    """
    w = np.ascontiguousarray(w, dtype=np.asarray(dy).dtype)
    x_shape = tuple(int(d) for d in x_shape)
    return _backward(dy, None, w, x_shape, w.shape, stride, padding, dilation, groups)[0]


def conv2d_backward_weight(
    dy: np.ndarray,
    x: np.ndarray,
    w_shape: tuple[int, int, int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """Gradient with respect to the weight, without a forward context.

    Computes ``dw[oc, c, i, j] = sum_{n, r, q} dy[n, oc, r, q] *
    xpad[n, g*Cg + c, r*sh + i*dh, q*sw + j*dw]``.

    Args:
        dy: gradient of the output ``(N, OC, OH, OW)``.
        x: the forward input ``(N, C, H, W)``.
        w_shape: the forward weight's shape ``(OC, C // groups, KH, KW)``.
        stride: as in the forward.
        padding: as in the forward.
        dilation: as in the forward.
        groups: as in the forward.

    Returns:
        ``dw`` of shape ``w_shape``.
    """
    x = np.ascontiguousarray(x)
    w_shape = tuple(int(d) for d in w_shape)
    return _backward(dy, x, None, x.shape, w_shape, stride, padding, dilation, groups)[1]
