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
  ``cols[(c, i, j), (n, oh, ow)]`` (``C*KH*KW`` rows, ``nb*OH*OW`` columns) fits in the
  L3 cache. Forward is one GEMM per chunk (``W(OC, CKK) @ cols``), ``dW`` accumulates
  ``dY(OC, nb*OHW) @ cols.T``, ``dcols = W.T @ dY`` is scattered back by col2im. GEMMs run
  on numpy's BLAS; im2col, col2im and the ``(n, oc, p) <-> (oc, n*p)`` transposes are
  parallel numba loops over (image, channel) pairs with contiguous inner copies.
  The backward recomputes each chunk's columns instead of keeping them from the
  forward: rebuilding a cache-resident chunk is cheaper than writing the whole matrix
  (37 MB for a 64x64x16x16 batch with a 3x3 kernel) to memory and reading it back, and the
  forward's context then holds no large buffer.
* ``"direct"``: a numba loop per (image, output channel) that accumulates
  ``w[oc, c, i, j] * x`` row by row -- for depthwise and other narrow groups, where the
  per-group GEMMs would be tiny.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit, prange

__all__ = [
    "conv2d_algo",
    "conv2d_backward",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "conv2d_forward",
    "conv2d_output_shape",
]

# Target size of one chunk's column matrix. Measured on the 2-core Zen machine with the
# (64, 64->64, 16x16, k3) conv: 0.6-2.5 MB chunks (1-4 images) ran the three GEMMs at
# 125-135 GFLOP/s, one 37 MB matrix at 95-110, and 9 MB chunks in between.
_CHUNK_BYTES = 2 << 20

_tls = threading.local()


def _workspace(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Return a scratch array reused between calls (per thread, per name and dtype).

    Reusing the buffer avoids the page faults of fresh multi-MB allocations. The returned
    array is only valid until the next call asking for the same name.
    """
    cache = getattr(_tls, "buffers", None)
    if cache is None:
        cache = _tls.buffers = {}
    size = int(np.prod(shape))
    key = (name, np.dtype(dtype).str)
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        cache[key] = buf
    return buf[:size].reshape(shape)


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


def conv2d_algo(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> str:
    """Pick ``"im2col"`` or ``"direct"`` for a convolution shape.

    Args:
        x_shape: ``(N, C, H, W)``.
        w_shape: ``(OC, C // groups, KH, KW)``.
        stride: ``(sh, sw)``.
        padding: ``(top, bottom, left, right)``.
        dilation: ``(dh, dw)``.
        groups: number of channel groups.

    Returns:
        ``"direct"`` for narrow groups (few input channels per group), else ``"im2col"``.
    """
    cg = w_shape[1]
    # Measured (fwd+bwd, float32, 2 threads): depthwise 64x32x32x32 k3 ran 4.6x faster
    # direct than through per-group GEMMs; with groups=1 and C=3 (64x3x32x32 -> 16, k3)
    # im2col+GEMM was 1.3x faster than direct, so only grouped convs go direct.
    if groups > 1 and cg <= 4:
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
# Sequential on purpose: these run between BLAS calls, and numba's OpenMP workers spinning
# after a parallel loop took the cores from OpenBLAS's threads (and OpenBLAS's spinning
# workers from numba's): fwd+bwd of the 64x64x16x16 conv took 0.2-0.6 s instead of 60 ms
# while another process kept one core busy. With these loops on one thread the conv runs
# at the same speed whatever the load, and BLAS still uses both cores.


@njit(cache=True)
def _im2col(x, n0, nb, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols):
    """Columns of images ``n0 .. n0+nb-1``.

    The loop::

        for n, c, i, j, r, q:
            cols[(c*KH + i)*KW + j, (n*OH + r)*OW + q] = xpad[n0+n, c, r*sh + i*dh, q*sw + j*dw]

    When ``sh == sw == 1`` and ``OW == W`` (a "same" convolution), output ``(r, q)`` reads
    input ``(r + i*dh - pt, q + j*dw - pl)``: a constant shift in the flattened plane, so
    each (n, c, i, j) run is one long copy, after which the padded positions are zeroed.
    """
    c_in = x.shape[1]
    h = x.shape[2]
    w = x.shape[3]
    xf = x.reshape(-1)
    cf = cols.reshape(-1)
    ln = cols.shape[1]
    block = sh == 1 and sw == 1 and ow == w
    for n in range(nb):
        for c in range(c_in):
            xb = ((n0 + n) * c_in + c) * h * w
            for i in range(kh):
                rlo, rhi = _valid_range(i * dh - pt, sh, h, oh)
                for j in range(kw):
                    d = ((c * kh + i) * kw + j) * ln + n * oh * ow
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, w, ow)
                    if hi == lo:
                        rhi = rlo
                    _zero(cf[d : d + rlo * ow])
                    _zero(cf[d + rhi * ow : d + oh * ow])
                    if block and rhi > rlo:
                        a = d + rlo * ow + lo
                        b = d + (rhi - 1) * ow + hi
                        s = xb + (rlo + i * dh - pt) * w + lo + off
                        _copy(cf[a:b], xf[s : s + b - a])
                        if lo > 0 or hi < ow:
                            for r in range(rlo, rhi):
                                e = d + r * ow
                                _zero(cf[e : e + lo])
                                _zero(cf[e + hi : e + ow])
                    else:
                        for r in range(rlo, rhi):
                            e = d + r * ow
                            s = xb + (r * sh + i * dh - pt) * w + off
                            _zero(cf[e : e + lo])
                            _zero(cf[e + hi : e + ow])
                            _copy(cf[e + lo : e + hi], xf[s + lo * sw : s + (hi - 1) * sw + 1 : sw])


@njit(cache=True)
def _col2im(cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, dx, n0):
    """Scatter-add columns back into images ``dx[n0 .. n0+nb-1]`` (overwritten).

    The loop::

        dx[n0:n0+nb] = 0
        for n, c, i, j, r, q:
            dxpad[n0+n, c, r*sh + i*dh, q*sw + j*dw] += cols[(c*KH + i)*KW + j, (n*OH + r)*OW + q]

    Mirrors :func:`_im2col`; in the "same" case the padded positions of ``cols`` (a scratch
    buffer) are zeroed first so that each (n, c, i, j) run is added as one long run.
    """
    c_in = dx.shape[1]
    h = dx.shape[2]
    w = dx.shape[3]
    cf = cols.reshape(-1)
    dxf = dx.reshape(-1)
    ln = cols.shape[1]
    nb = ln // (oh * ow)
    block = sh == 1 and sw == 1 and ow == w
    _zero(dxf[n0 * c_in * h * w : (n0 + nb) * c_in * h * w])
    for n in range(nb):
        for c in range(c_in):
            xb = ((n0 + n) * c_in + c) * h * w
            for i in range(kh):
                rlo, rhi = _valid_range(i * dh - pt, sh, h, oh)
                for j in range(kw):
                    d = ((c * kh + i) * kw + j) * ln + n * oh * ow
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, w, ow)
                    if hi == lo or rhi == rlo:
                        continue
                    if block:
                        if lo > 0 or hi < ow:
                            for r in range(rlo, rhi):
                                e = d + r * ow
                                _zero(cf[e : e + lo])
                                _zero(cf[e + hi : e + ow])
                        a = d + rlo * ow + lo
                        b = d + (rhi - 1) * ow + hi
                        s = xb + (rlo + i * dh - pt) * w + lo + off
                        _add(dxf[s : s + b - a], cf[a:b])
                    else:
                        for r in range(rlo, rhi):
                            e = d + r * ow
                            s = xb + (r * sh + i * dh - pt) * w + off
                            _add(dxf[s + lo * sw : s + (hi - 1) * sw + 1 : sw], cf[e + lo : e + hi])


@njit(cache=True)
def _swap01(src, dst):
    """``dst[a, b, :] = src[b, a, :]``: ``(OC, nb, P) <-> (nb, OC, P)`` for whole runs of P."""
    n_a = dst.shape[0]
    n_b = dst.shape[1]
    for t in range(n_a * n_b):
        a = t // n_b
        b = t % n_b
        _copy(dst[a, b], src[b, a])


# ------------------------------------------------------------------ direct kernels


@njit(cache=True, parallel=True)
def _direct_forward(x, w, sh, sw, pt, pl, dh, dw, groups, y):
    """Direct convolution, one task per (n, oc), accumulating whole output rows.

    The loop::

    for n, oc, c, i, j, r:
        y[n, oc, r, :] += w[oc, c, i, j] * xpad[n, g*Cg + c, r*sh + i*dh, j*dw :: sw]
    """
    n_b = x.shape[0]
    h = x.shape[2]
    wd = x.shape[3]
    oc_n = w.shape[0]
    cg = w.shape[1]
    kh = w.shape[2]
    kw = w.shape[3]
    ocg = oc_n // groups
    oh = y.shape[2]
    ow = y.shape[3]
    for t in prange(n_b * oc_n):
        n = t // oc_n
        oc = t % oc_n
        c0 = (oc // ocg) * cg
        for r in range(oh):
            _zero(y[n, oc, r])
        for c in range(cg):
            for i in range(kh):
                rlo, rhi = _valid_range(i * dh - pt, sh, h, oh)
                for j in range(kw):
                    a = w[oc, c, i, j]
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, wd, ow)
                    if hi == lo:
                        continue
                    for r in range(rlo, rhi):
                        xrow = x[n, c0 + c, r * sh + i * dh - pt]
                        _axpy(
                            y[n, oc, r, lo:hi],
                            xrow[lo * sw + off : (hi - 1) * sw + off + 1 : sw],
                            a,
                        )


@njit(cache=True, parallel=True)
def _direct_backward_input(dy, w, sh, sw, pt, pl, dh, dw, groups, dx):
    """Direct input gradient, one task per (n, channel).

    The loop::

    for n, c, oc in group(c), i, j, r:
        dxpad[n, c, r*sh + i*dh, j*dw :: sw] += w[oc, c % Cg, i, j] * dy[n, oc, r, :]
    """
    n_b = dx.shape[0]
    c_in = dx.shape[1]
    h = dx.shape[2]
    wd = dx.shape[3]
    oc_n = w.shape[0]
    cg = w.shape[1]
    kh = w.shape[2]
    kw = w.shape[3]
    ocg = oc_n // groups
    oh = dy.shape[2]
    ow = dy.shape[3]
    for t in prange(n_b * c_in):
        n = t // c_in
        ci = t % c_in
        g = ci // cg
        c = ci % cg
        for r in range(h):
            _zero(dx[n, ci, r])
        for oc in range(g * ocg, (g + 1) * ocg):
            for i in range(kh):
                rlo, rhi = _valid_range(i * dh - pt, sh, h, oh)
                for j in range(kw):
                    a = w[oc, c, i, j]
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, wd, ow)
                    if hi == lo:
                        continue
                    for r in range(rlo, rhi):
                        dxrow = dx[n, ci, r * sh + i * dh - pt]
                        _axpy(
                            dxrow[lo * sw + off : (hi - 1) * sw + off + 1 : sw],
                            dy[n, oc, r, lo:hi],
                            a,
                        )


@njit(cache=True, parallel=True)
def _direct_backward_weight(dy, x, sh, sw, pt, pl, dh, dw, groups, dwt):
    """Direct weight gradient, one task per (oc, c).

    The loop::

    for oc, c, i, j:
        dw[oc, c, i, j] = sum_{n, r} dot(dy[n, oc, r, :], xpad[n, g*Cg + c, r*sh + i*dh, j*dw :: sw])
    """
    n_b = x.shape[0]
    h = x.shape[2]
    wd = x.shape[3]
    oc_n = dwt.shape[0]
    cg = dwt.shape[1]
    kh = dwt.shape[2]
    kw = dwt.shape[3]
    ocg = oc_n // groups
    oh = dy.shape[2]
    ow = dy.shape[3]
    for t in prange(oc_n * cg):
        oc = t // cg
        c = t % cg
        ci = (oc // ocg) * cg + c
        for i in range(kh):
            rlo, rhi = _valid_range(i * dh - pt, sh, h, oh)
            for j in range(kw):
                off = j * dw - pl
                lo, hi = _valid_range(off, sw, wd, ow)
                s = 0.0
                if hi > lo:
                    for n in range(n_b):
                        for r in range(rlo, rhi):
                            xrow = x[n, ci, r * sh + i * dh - pt]
                            s += _dot(
                                dy[n, oc, r, lo:hi],
                                xrow[lo * sw + off : (hi - 1) * sw + off + 1 : sw],
                            )
                dwt[oc, c, i, j] = s


# ---------------------------------------------------------------------- public API


class _Ctx:
    """What :func:`conv2d_forward` hands to :func:`conv2d_backward` (opaque to callers)."""

    __slots__ = ("algo",)

    def __init__(self, algo: str) -> None:
        self.algo = algo


def _chunk_images(n: int, rows: int, ohw: int, itemsize: int) -> int:
    per_image = rows * ohw * itemsize
    return max(1, min(n, _CHUNK_BYTES // max(per_image, 1)))


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> tuple[np.ndarray, _Ctx]:
    """Forward convolution (see the module docstring for the loop it computes).

    Args:
        x: input ``(N, C, H, W)``, float32 or float64.
        w: weight ``(OC, C // groups, KH, KW)``, same dtype as ``x``.
        stride: ``(sh, sw)``.
        padding: ``(top, bottom, left, right)`` zero padding.
        dilation: ``(dh, dw)``.
        groups: number of channel groups; ``C`` and ``OC`` are multiples of it.

    Returns:
        ``(y, ctx)``: ``y`` is ``(N, OC, OH, OW)``; ``ctx`` is an opaque object for
        :func:`conv2d_backward`.
    """
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    algo = conv2d_algo(x.shape, w.shape, stride, padding, dilation, groups)
    n, oc, oh, ow = conv2d_output_shape(x.shape, w.shape, stride, padding, dilation)
    y = np.empty((n, oc, oh, ow), dtype=x.dtype)
    sh, sw = stride
    pt, _, pl, _ = padding
    dh, dw = dilation
    if algo == "direct":
        _direct_forward(x, w, sh, sw, pt, pl, dh, dw, groups, y)
        return y, _Ctx(algo)
    _, cg, kh, kw = w.shape
    ocg = oc // groups
    rows = cg * kh * kw
    ohw = oh * ow
    nb = _chunk_images(n, groups * rows, ohw, x.itemsize)
    w3 = w.reshape(groups, ocg, rows)
    y3 = y.reshape(n, oc, ohw)
    for n0 in range(0, n, nb):
        m = min(nb, n - n0)
        cols = _workspace("cols", (groups * rows, m * ohw), x.dtype)
        _im2col(x, n0, m, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols)
        out = _workspace("ycols", (oc, m * ohw), x.dtype)
        if groups == 1:
            np.matmul(w3[0], cols, out=out)
        else:
            np.matmul(
                w3, cols.reshape(groups, rows, m * ohw), out=out.reshape(groups, ocg, m * ohw)
            )
        _swap01(out.reshape(oc, m, ohw), y3[n0 : n0 + m])
    return y, _Ctx(algo)


def _im2col_backward(dy, x, w, x_shape, w_shape, stride, padding, dilation, groups):
    """Chunked im2col backward; ``dx`` needs ``w``, ``dw`` needs ``x`` (else ``None``)."""
    need_dx = w is not None
    need_dw = x is not None
    n = x_shape[0]
    oc, cg, kh, kw = w_shape
    ocg = oc // groups
    _, _, oh, ow = dy.shape
    sh, sw = stride
    pt, _, pl, _ = padding
    dh, dw = dilation
    rows = cg * kh * kw
    ohw = oh * ow
    dtype = dy.dtype
    nb = _chunk_images(n, groups * rows, ohw, dtype.itemsize)
    dy3 = dy.reshape(n, oc, ohw)
    dx = np.empty(x_shape, dtype=dtype) if need_dx else None
    dwt = np.zeros((groups, ocg, rows), dtype=dtype) if need_dw else None
    w3t = w.reshape(groups, ocg, rows).transpose(0, 2, 1) if need_dx else None
    part = _workspace("dwpart", (groups, ocg, rows), dtype) if need_dw else None
    for n0 in range(0, n, nb):
        m = min(nb, n - n0)
        dyc = _workspace("dycols", (oc, m * ohw), dtype)
        _swap01(dy3[n0 : n0 + m], dyc.reshape(oc, m, ohw))
        dyg = dyc.reshape(groups, ocg, m * ohw)
        if need_dw:
            cols = _workspace("cols", (groups * rows, m * ohw), dtype)
            _im2col(x, n0, m, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols)
            np.matmul(dyg, cols.reshape(groups, rows, m * ohw).transpose(0, 2, 1), out=part)
            dwt += part
        if need_dx:
            dcols = _workspace("dcols", (groups * rows, m * ohw), dtype)
            if groups == 1:
                np.matmul(w3t[0], dyc, out=dcols)
            else:
                np.matmul(w3t, dyg, out=dcols.reshape(groups, rows, m * ohw))
            _col2im(dcols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, dx, n0)
    if need_dw:
        dwt = dwt.reshape(oc, cg, kh, kw)
    return dx, dwt


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
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    w = np.ascontiguousarray(w, dtype=x.dtype)
    if not (need_dx or need_dw):
        return None, None
    algo = (
        ctx.algo
        if ctx is not None
        else conv2d_algo(x.shape, w.shape, stride, padding, dilation, groups)
    )
    sh, sw = stride
    pt, _, pl, _ = padding
    dh, dw = dilation
    if algo == "direct":
        dx = dwt = None
        if need_dx:
            dx = np.empty(x.shape, dtype=x.dtype)
            _direct_backward_input(dy, w, sh, sw, pt, pl, dh, dw, groups, dx)
        if need_dw:
            dwt = np.empty(w.shape, dtype=x.dtype)
            _direct_backward_weight(dy, x, sh, sw, pt, pl, dh, dw, groups, dwt)
        return dx, dwt
    return _im2col_backward(
        dy,
        x if need_dw else None,
        w if need_dx else None,
        x.shape,
        w.shape,
        stride,
        padding,
        dilation,
        groups,
    )


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
    dy = np.ascontiguousarray(dy)
    w = np.ascontiguousarray(w, dtype=dy.dtype)
    x_shape = tuple(int(s) for s in x_shape)
    algo = conv2d_algo(x_shape, w.shape, stride, padding, dilation, groups)
    if algo == "direct":
        dx = np.empty(x_shape, dtype=dy.dtype)
        sh, sw = stride
        dh, dw = dilation
        _direct_backward_input(dy, w, sh, sw, padding[0], padding[2], dh, dw, groups, dx)
        return dx
    dx, _ = _im2col_backward(dy, None, w, x_shape, w.shape, stride, padding, dilation, groups)
    return dx


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
    dy = np.ascontiguousarray(dy, dtype=x.dtype)
    w_shape = tuple(int(s) for s in w_shape)
    algo = conv2d_algo(x.shape, w_shape, stride, padding, dilation, groups)
    if algo == "direct":
        dwt = np.empty(w_shape, dtype=x.dtype)
        sh, sw = stride
        dh, dw = dilation
        _direct_backward_weight(dy, x, sh, sw, padding[0], padding[2], dh, dw, groups, dwt)
        return dwt
    _, dwt = _im2col_backward(dy, x, None, x.shape, w_shape, stride, padding, dilation, groups)
    return dwt
