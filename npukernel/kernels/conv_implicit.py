"""Implicit-GEMM convolution kernels (one group, any stride): no column matrix is written.

Copy one image's ``C`` planes into a zero-padded grid of rows ``Wp = OW + dw*(KW-1)``
wide, flattened, with ``Hp = OH + dh*(KH-1)`` rows per plane (``plane = Hp*Wp``). Output
``(r, q)`` of tap ``(c, i, j)`` then reads position ``r*Wp + q + offs[c, i, j]`` with
``offs[c, i, j] = c*plane + i*dh*Wp + j*dw``: row ``k = (c, i, j)`` of the im2col matrix
is the window ``pad[offs[k] : offs[k] + OH*Wp]``, and the convolution is the GEMM

    ybuf(OC, OH*Wp) = W(OC, C*KH*KW) @ [pad[offs[k] : offs[k] + OH*Wp] for k]

computed by :func:`npukernel.kernels.simd.gemm_tile` straight from ``pad``. The last
``Wp - OW`` columns of each grid row are padding: when the output rows are a whole
number of vectors wide, the tiles take only the rows' vectors (two per tile, from one
row or across two, see :func:`_tiling`) and skip them; otherwise they run along the
flattened grid and drop them. Against im2col plus OpenBLAS this skips writing the
column matrix and OpenBLAS's own packing copy of it: ResNet-20's 3x3 convolutions ran
1.3-1.8x faster per image, and skipping the padding columns another 1.3-1.5x at batch 1.

Strided convolutions split the padded image into phase planes, one per (row, column)
remainder a tap reads (see :class:`Geometry`); on those every convolution is stride 1.
The output pass applies an optional epilogue, ``relu?(y * scale + shift + residual)``
(graph mode folds inference BatchNorm, residual adds and ReLUs into the convolution).

The same kernel gives the input gradient of a stride-1 convolution: ``dx`` is the
convolution of ``dy``, padded by ``dh*(KH-1) - pt`` rows on top and ``dw*(KW-1) - pl``
columns on the left, with the weight flipped and transposed (``wf[c, (o, i, j)] =
w[o, c, KH-1-i, KW-1-j]``). The weight gradient ``dW[o, k] = sum_p dy[o, p] *
pad[offs[k] + p]`` is a reduction over the output positions: :func:`weight_grad_outer`
(sums of outer products, when the output channels fill whole vectors; it walks the
output rows inside the padded planes) or :func:`weight_grad_images` (dot products, with
``dy`` laid out on the padded rows and zero in the padding columns).

Everything here works on images ``n0 .. n1-1`` of a batch on one thread; ``conv.py``
splits the batch over threads and owns the scratch buffers.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, uint64

from npukernel.kernels import package_only, simd

package_only(__name__, __file__)  # not as a file: numba's cache would break

__all__ = [
    "Geometry",
    "forward_images",
    "fold_batch_norm",
    "forward_packing",
    "pack_rows",
    "packing_layout",
    "weight_grad_images",
    "weight_grad_outer",
]

_MR = simd.GEMM_MR
_MR_MAX = 6  # the largest tile _gemm_tile_rows has
_OUTER_MR = 5  # the largest tile _outer_rows has
_DMR = simd.DOT_MR
_DKR = simd.DOT_KR
_VEC_BYTES = simd.VEC_BYTES
_NV = simd.VECTORS

# numba's on-disk cache is invalidated when *this* file changes, not when simd.py (whose
# tiles are compiled into the kernels below) does. This is the start of simd.py's
# SHA-256; tests/kernels/test_nn_kernels.py checks it, so a change to simd.py fails the
# tests until this line is updated, and updating it invalidates the cached kernels.
SIMD_SOURCE_SHA256 = "25e014b938a81ee0"


# Layout of the ``grid`` array the kernels take (see :class:`Geometry`).
_PT, _PL, _HP, _WP, _SH, _SW, _NPH = range(7)


class Geometry:
    """Padded-grid geometry of a convolution of ``src`` into ``out``.

    With stride ``(sh, sw)`` the padded image is split into phase planes, ``(a, b)``
    holding rows ``a, a + sh, ...`` and columns ``b, b + sw, ...``: tap ``(i, j)`` of a
    strided convolution reads phase ``(i*dh % sh, j*dw % sw)`` at the shift
    ``(i*dh // sh, j*dw // sw)``, so on the phase planes every convolution is a stride-1
    one and the same gemm and weight-gradient tiles serve. Only the phases some tap reads
    are stored (a 1x1 stride-2 convolution keeps one of four). Stride 1 is one phase.

    Args:
        src_shape: ``(N, C, H, W)`` of the convolved array (``x``, or ``dy`` for ``dx``).
        out_hw: ``(OH, OW)`` of the result.
        kernel: ``(KH, KW)``.
        top_left: zero rows above and columns left of ``src`` in the padded grid (may be
            negative: rows and columns before the grid are dropped).
        dilation: ``(dh, dw)``.
        itemsize: bytes per element (sets the vector width).
        stride: ``(sh, sw)``.

    Example:
        >>> g = Geometry((64, 16, 32, 32), (32, 32), (3, 3), (1, 1), (1, 1), 4)
        >>> (g.hp, g.wp, g.plane, g.length)
        (34, 34, 1156, 1024)
        >>> g = Geometry((64, 16, 32, 32), (16, 16), (3, 3), (1, 1), (1, 1), 4, (2, 2))
        >>> (g.phases.tolist(), g.hp, g.wp)
        ([[0, 0], [0, 1], [1, 0], [1, 1]], 17, 17)
    """

    def __init__(self, src_shape, out_hw, kernel, top_left, dilation, itemsize, stride=(1, 1)):
        _, self.c, self.h, self.w = (int(d) for d in src_shape)
        self.oh, self.ow = (int(d) for d in out_hw)
        self.kh, self.kw = kernel
        self.pt, self.pl = top_left
        self.dh, self.dw = dilation
        self.sh, self.sw = stride
        rows_a, rows_u = np.divmod(np.arange(self.kh) * self.dh, self.sh)[::-1]
        cols_b, cols_v = np.divmod(np.arange(self.kw) * self.dw, self.sw)[::-1]
        self.hp = self.oh + int(rows_u.max())
        self.wp = self.ow + int(cols_v.max())
        self.plane = self.hp * self.wp
        used = sorted({(int(a), int(b)) for a in rows_a for b in cols_b})
        self.phases = np.array(used, dtype=np.int64).reshape(-1, 2)
        index = {ab: k for k, ab in enumerate(used)}
        nph = len(used)
        lanes = simd.lanes(itemsize)
        nr = _NV * lanes
        self.length, self.tiling = _tiling(self.oh, self.ow, self.wp, lanes)
        self.dot_length = -(-self.oh * self.wp // lanes) * lanes  # dot steps, whole vectors
        # the last window starts at most plane - OH*Wp into the last plane; the tiles read
        # at most ceil(OH*Wp / NR) * NR elements from a window's start (see _tiling)
        self.pad_size = self.c * nph * self.plane + int(cols_v.max()) + nr
        offs = np.empty((self.c, self.kh, self.kw), dtype=np.int64)
        for i in range(self.kh):
            for j in range(self.kw):
                ph = index[(int(rows_a[i]), int(cols_b[j]))]
                shift = int(rows_u[i]) * self.wp + int(cols_v[j])
                offs[:, i, j] = (np.arange(self.c) * nph + ph) * self.plane + shift
        self.offs = offs.reshape(-1)
        # what the kernels take: pt, pl, hp, wp, sh, sw, the number of phases, each (a, b)
        head = [self.pt, self.pl, self.hp, self.wp, self.sh, self.sw, nph]
        self.grid = np.concatenate([np.array(head, np.int64), self.phases.reshape(-1)])


def _tiling(oh: int, ow: int, wp: int, lanes: int) -> tuple[int, np.ndarray]:
    """``(length, tiling)``: where the gemm tiles read and write (see :class:`Geometry`).

    ``tiling = [length, yrow, src_0, dst_0, vs_0, src_1, dst_1, vs_1, ...]``: tile ``j``
    reads the padded grid from position ``src_j``, its ``NV`` vectors ``vs_j`` apart, and
    writes ``ybuf`` from ``dst_j``; output row ``r`` sits at ``r * yrow`` in each
    channel's ``length`` columns of ``ybuf``.

    * Rows a whole number of vectors wide (``OW % lanes == 0``: every layer of LeNet-5 and
      ResNet-20): the row vectors are taken in order, ``NV`` to a tile, a tile's vectors
      from one row or from the end of one and the start of the next, so the ``Wp - OW``
      padding columns are never computed. ``ybuf`` holds just ``OH x OW`` (rounded up to
      whole tiles). Computing the padded grid wasted a fifth of the work on ResNet-20's
      8x8 layers (``Wp = 10``) and a seventh on LeNet-5's first layer.
    * Otherwise the tiles run along the flattened grid, ``OH * Wp`` columns, and the
      padding columns are computed and dropped.

    Example:
        >>> _tiling(2, 8, 10, 8)[1].tolist()  # one tile: row 0 and row 1, 10 apart
        [16, 8, 0, 0, 10]
    """
    nr = _NV * lanes
    if ow % lanes == 0 and _NV == 2:  # a tile's two vectors: any distance apart
        vecs = [r * wp + c for r in range(oh) for c in range(0, ow, lanes)]
        vecs += vecs[-1:] * (len(vecs) % 2)  # an odd last vector: the tile takes it twice
        tiles = [(vecs[t], t * lanes, vecs[t + 1] - vecs[t]) for t in range(0, len(vecs), 2)]
        length, yrow = len(vecs) * lanes, ow
    else:
        length = -(-oh * wp // nr) * nr
        tiles = [(p, p, lanes) for p in range(0, length, nr)]
        yrow = wp
    tiling = np.array([length, yrow, *(i for tile in tiles for i in tile)], dtype=np.int64)
    tiling.flags.writeable = False
    return length, tiling


def pack_rows(a: np.ndarray, mr: int = _MR) -> tuple[np.ndarray, np.ndarray]:
    """Pack the ``(M, K)`` matrix ``a`` into gemm tiles of at most ``GEMM_MR`` rows.

    The rows are split into ``ceil(M / MR)`` tiles of near-equal size (16 rows: 6, 5
    and 5, not 6, 6 and 4; a tile of 1 row runs at a fraction of the speed). Tile ``t``
    starts at row ``starts[t]`` and is stored from ``starts[t] * K`` column by column.

    Returns:
        ``(packed, starts)``: the flat packed matrix and ``M``'s tile starts (with ``M``
        appended).

    Example:
        >>> packed, starts = pack_rows(np.arange(6.0).reshape(3, 2))
        >>> packed.tolist(), starts.tolist()
        ([0.0, 2.0, 4.0, 1.0, 3.0, 5.0], [0, 3])
    """
    m, k = a.shape
    starts = _tile_starts(m, mr)
    packed = np.empty(m * k, dtype=a.dtype)
    _pack(np.ascontiguousarray(a).reshape(-1), k, starts, packed)
    return packed, starts


@functools.lru_cache(maxsize=64)
def _tile_starts(m: int, mr: int) -> np.ndarray:
    tiles = 1 if m <= _MR_MAX else -(-m // mr)
    sizes = np.full(tiles, m // tiles)
    sizes[: m % tiles] += 1
    starts = np.zeros(tiles + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    starts.flags.writeable = False
    return starts


@njit(cache=True, nogil=True)
def _pack(a, k, starts, packed):
    """The copy of :func:`pack_rows`, on flat arrays, reading ``a`` row by row.

    numpy's strided copies took 190 us for a 64x576 weight, a column-order numba loop
    61 us.
    """
    for t in range(starts.shape[0] - 1):
        r0 = starts[t]
        m = starts[t + 1] - r0
        base = uint64(r0 * k)
        um = uint64(m)
        for i in range(m):
            src = uint64((r0 + i) * k)
            dst = base + uint64(i)
            for kk in range(uint64(k)):
                packed[dst + kk * um] = a[src + kk]


@njit(cache=True, nogil=True)
def _pad_image(src, n, pad, grid, zero=True):
    """Zero ``pad`` and copy ``src[n]`` into its phase planes (see :class:`Geometry`).

    ``zero=False`` skips the zeroing: ``pad`` holds an earlier image of the same
    geometry, so everything the copy does not overwrite is zero already (the images
    after the first of a batch: a fifth to a quarter less time in the pad).

    Plane ``(c, phase (a, b))`` row ``r``, column ``q`` holds ``xpad[c, a + r*sh,
    b + q*sw]``, where ``src`` sits at ``(pt, pl)`` in ``xpad``. Flat views and unsigned
    offsets let numba vectorise the stride-1 row copies (as in ``conv._im2col``): with
    4-D indexing, ResNet-20's 16x32x32 images took 22 us each.
    """
    c_n = src.shape[1]
    h = src.shape[2]
    w = src.shape[3]
    pt = grid[_PT]
    pl = grid[_PL]
    hp = grid[_HP]
    wp = grid[_WP]
    sh = grid[_SH]
    sw = grid[_SW]
    nph = grid[_NPH]
    plane = hp * wp
    if zero:
        for k in range(pad.shape[0]):
            pad[k] = 0.0
    sf = src.reshape(-1)
    for ph in range(nph):
        a = grid[_NPH + 1 + 2 * ph]
        b = grid[_NPH + 2 + 2 * ph]
        # plane rows r with 0 <= a + r*sh - pt < h, columns likewise
        r0 = max(0, (pt - a + sh - 1) // sh)
        r1 = min(hp, (h - 1 + pt - a) // sh + 1)
        q0 = max(0, (pl - b + sw - 1) // sw)
        q1 = min(wp, (w - 1 + pl - b) // sw + 1)
        if r1 <= r0 or q1 <= q0:
            continue
        width = uint64(q1 - q0)
        usw = uint64(sw)
        for c in range(c_n):
            for r in range(r0, r1):
                d = uint64((c * nph + ph) * plane + r * wp + q0)
                s = uint64(((n * c_n + c) * h + a + r * sh - pt) * w + b + q0 * sw - pl)
                if sw == 1:
                    for q in range(width):
                        pad[d + q] = sf[s + q]
                else:
                    for q in range(width):
                        pad[d + q] = sf[s + q * usw]


@njit(cache=True, nogil=True)
def _spread_rows(src, n, dst, row, ld, o_n):
    """``dst[o*ld + r*row + q] = src[n, o, r, q]`` (rows of ``src`` onto longer rows)."""
    oh = src.shape[2]
    ow = src.shape[3]
    sf = src.reshape(-1)
    for o in range(o_n):
        for r in range(oh):
            d = uint64(o * ld + r * row)
            s = uint64(((n * o_n + o) * oh + r) * ow)
            for q in range(uint64(ow)):
                dst[d + q] = sf[s + q]


@njit(cache=True, nogil=True)
def _gemm_tile_rows(m, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy):
    """One gemm tile of ``m`` rows (a literal per branch, as the intrinsic needs)."""
    if m == 6:
        simd.gemm_tile(6, _NV, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy)
    elif m == 5:
        simd.gemm_tile(5, _NV, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy)
    elif m == 4:
        simd.gemm_tile(4, _NV, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy)
    elif m == 3:
        simd.gemm_tile(3, _NV, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy)
    elif m == 2:
        simd.gemm_tile(2, _NV, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy)
    else:
        simd.gemm_tile(1, _NV, a, ao, ka, lda, k, pad, p0, vs, offs, ybuf, yo, ldy)


@njit(cache=True, nogil=True)
def forward_images(src, n0, n1, weight, packed, starts, offs, grid, tiling, out, pad, ybuf, relu,
                   scale, shift, res, pool):  # fmt: skip
    """``out[n] = conv(src[n])`` for ``n0 <= n < n1`` (see the module docstring).

    Args:
        src: ``(N, C, H, W)``.
        n0: first image.
        n1: one past the last image.
        weight: the weight as ``(OC, C*KH*KW)``, flat: packed by :func:`pack_rows` when
            ``packed``, else row-major as it is.
        packed: how ``weight`` is laid out. Packing pays when many images reuse the
            weight; for one image the copy costs more than it saves (18 us of a 64x576
            weight, against ~7 us of arithmetic per 8x8 image).
        starts: the gemm tiles' first rows (:func:`pack_rows`).
        offs: ``Geometry.offs``.
        grid: ``Geometry.grid``.
        tiling: ``Geometry.tiling`` (where the gemm tiles read and write).
        out: ``(N, OC, OH, OW)``.
        pad: scratch of ``Geometry.pad_size``.
        ybuf: scratch of ``OC * Geometry.length``.
        relu: apply a ReLU last.
        scale: per-output-channel factors (length 0: none).
        shift: per-output-channel offsets (with ``scale``).
        res: an ``out``-shaped array added before the ReLU (shape ``(0, 0, 0, 0)``: none).
        pool: take the maximum of each 2x2 block (stride 2, no padding) as ``out`` is
            written; ``out`` is then ``(N, OC, OH // 2, OW // 2)`` and ``res`` none.

    The epilogue (graph mode fuses an inference BatchNorm, a residual add, a ReLU and a
    2x2 max pooling into the convolution) is applied as ``out`` is written: ``out =
    pool?(relu?(y * scale + shift + res))``. Each image's ``y`` stays in ``ybuf``.
    """
    k = offs.shape[0]
    tiles = starts.shape[0] - 1
    length = tiling[0]
    yrow = tiling[1]
    for n in range(n0, n1):
        _pad_image(src, n, pad, grid, n == n0)  # the same geometry from image to image
        for j in range(2, tiling.shape[0], 3):
            so = tiling[j]
            yo = tiling[j + 1]
            vs = tiling[j + 2]
            for t in range(tiles):
                r0 = starts[t]
                m = starts[t + 1] - r0
                _gemm_tile_rows(m, weight, r0 * k, m if packed else 1, 1 if packed else k, k,
                                pad, so, vs, offs, ybuf, r0 * length + yo, length)  # fmt: skip
        if pool:
            _epilogue_pool(ybuf, length, yrow, out, n, relu, scale, shift)
        else:
            _epilogue(ybuf, length, yrow, out, n, relu, scale, shift, res)


@njit(cache=True, nogil=True)
def forward_packing(src, wflat, k, starts, offs, grid, tiling, pad_size, out, work, relu, scale,
                    shift, res, pool, mean, var, eps):  # fmt: skip
    """:func:`forward_images` over the whole batch in one call (a small convolution).

    For small convolutions (a batch of one) the Python around the kernel cost as much as
    the kernel: this takes the flat ``(OC, K)`` weight ``wflat`` and one scratch array
    ``work`` of :func:`packing_layout`'s size, split here into the packed weight (for
    more than one image), the padded image (``Geometry.pad_size``), the gemm output and
    the folded BatchNorm.

    With a non-empty ``mean``, ``scale`` and ``shift`` are an inference BatchNorm's
    ``gamma`` and ``beta`` and the epilogue's factors are folded here
    (:func:`fold_batch_norm`): graph mode's BatchNorm folds were 21 kernel launches of
    their own in a batch-1 ResNet-20 forward.
    """
    m = wflat.shape[0] // k
    a = _round_up(m * k)
    b = a + _round_up(pad_size)
    c = b + m * tiling[0]
    pad = work[a:b]
    ybuf = work[b:c]
    if mean.shape[0] > 0:
        folded = work[c : c + 2 * m]
        fold_batch_norm(scale, shift, mean, var, eps, folded)
        scale = folded[:m]
        shift = folded[m:]
    if src.shape[0] == 1:  # the tiles read the weight's rows where they are
        forward_images(src, 0, 1, wflat, False, starts, offs, grid, tiling, out, pad, ybuf, relu,
                       scale, shift, res, pool)  # fmt: skip
        return
    packed = work[: m * k]
    _pack(wflat, k, starts, packed)
    forward_images(src, 0, src.shape[0], packed, True, starts, offs, grid, tiling, out, pad, ybuf,
                   relu, scale, shift, res, pool)  # fmt: skip


@njit(cache=True, nogil=True)
def fold_batch_norm(gamma, beta, mean, var, eps, out):
    """``out = [scale, shift]``: ``scale = gamma / sqrt(var + eps)``, ``shift = beta - mean*scale``.

    An inference BatchNorm as the per-channel affine ``y * scale + shift``, in the arrays'
    own precision (``out`` holds ``2 * C`` values).

    Example:
        >>> out = np.empty(2, np.float32)
        >>> one = np.ones(1, np.float32)
        >>> fold_batch_norm(2 * one, one, one, 3 * one, 1.0, out)
        >>> out.tolist()
        [1.0, 0.0]
    """
    m = gamma.shape[0]
    e = var.dtype.type(eps)
    one = var.dtype.type(1)
    for o in range(m):
        sc = gamma[o] * (one / np.sqrt(var[o] + e))
        out[o] = sc
        out[m + o] = beta[o] - mean[o] * sc


@njit(cache=True, nogil=True)
def _round_up(n):
    return (n + 15) // 16 * 16  # 64-byte starts for float32 (the tiles load unaligned anyway)


def packing_layout(m: int, k: int, geo: Geometry) -> tuple[np.ndarray, int]:
    """``(starts, work)`` for :func:`forward_packing` with an ``(M, K)`` weight.

    ``starts`` are the tile starts :func:`pack_rows` uses; ``work`` is the size of the
    scratch array (elements), a folded BatchNorm's ``2 * M`` values included.

    Example:
        >>> g = Geometry((1, 16, 8, 8), (8, 8), (3, 3), (1, 1), (1, 1), 4)
        >>> starts, work = packing_layout(16, 144, g)
        >>> starts.tolist()
        [0, 6, 11, 16]
    """
    work = _round_up(m * k) + _round_up(geo.pad_size) + m * geo.length + 2 * m
    return _tile_starts(m, _MR), int(work)


@njit(cache=True, nogil=True)
def _epilogue(ybuf, length, yrow, out, n, relu, scale, shift, res):
    """``out[n] = relu?(ybuf's valid columns * scale + shift + res[n])``.

    Channel ``o``'s row ``r`` starts at ``o*length + r*yrow`` in ``ybuf``.
    """
    oc = out.shape[1]
    oh = out.shape[2]
    ow = out.shape[3]
    of = out.reshape(-1)
    affine = scale.shape[0] > 0
    has_res = res.shape[0] > 0
    rf = res.reshape(-1)
    zero = ybuf.dtype.type(0)  # constants of the array's type: float32 work stays float32
    one = ybuf.dtype.type(1)  # (1.0 made it float64: the affine loops ran 1.1-1.4x slower)
    for o in range(oc):
        sc = scale[o] if affine else one
        sh = shift[o] if affine else zero
        for r in range(oh):
            b = uint64(o * length + r * yrow)
            e = uint64(((n * oc + o) * oh + r) * ow)
            if has_res:
                for q in range(uint64(ow)):
                    v = ybuf[b + q] * sc + sh + rf[e + q]
                    of[e + q] = max(v, zero) if relu else v
            elif affine:
                for q in range(uint64(ow)):
                    v = ybuf[b + q] * sc + sh
                    of[e + q] = max(v, zero) if relu else v
            elif relu:
                for q in range(uint64(ow)):
                    of[e + q] = max(ybuf[b + q], zero)
            else:
                for q in range(uint64(ow)):
                    of[e + q] = ybuf[b + q]


@njit(cache=True, nogil=True)
def _epilogue_pool(ybuf, length, yrow, out, n, relu, scale, shift):
    """``out[n] = maxpool2x2(relu?(ybuf's valid columns * scale + shift)))``.

    ``out`` is ``(N, OC, OH // 2, OW // 2)``: an odd last row or column is dropped, as
    max pooling without padding does. The maximum is taken after the affine step (a
    negative scale reverses the order) and before the ReLU (the two commute). Each pair
    of rows is first reduced to one row in ``pair`` (a loop that vectorises), then its
    neighbouring columns.
    """
    oc = out.shape[1]
    ph = out.shape[2]
    pw = out.shape[3]
    of = out.reshape(-1)
    affine = scale.shape[0] > 0
    down = uint64(yrow)  # (uint64 + int64 would be float64 in numba)
    w2 = uint64(2 * pw)
    pair = np.empty(2 * pw, ybuf.dtype)
    zero = ybuf.dtype.type(0)  # (as in _epilogue: the same arithmetic, so the same bits)
    one = ybuf.dtype.type(1)
    for o in range(oc):
        sc = scale[o] if affine else one
        sh = shift[o] if affine else zero
        for r in range(ph):
            b = uint64(o * length + 2 * r * yrow)
            e = uint64(((n * oc + o) * ph + r) * pw)
            if affine:
                for q in range(w2):
                    pair[q] = max(ybuf[b + q] * sc + sh, ybuf[b + down + q] * sc + sh)
            else:
                for q in range(w2):
                    pair[q] = max(ybuf[b + q], ybuf[b + down + q])
            for q in range(pw):
                v = max(pair[2 * q], pair[2 * q + 1])
                of[e + uint64(q)] = max(v, zero) if relu else v


@njit(cache=True, nogil=True)
def _dot_rows(mr, kr, d, do, ldd, pads, offs, length, count, dstep, sstep, acc, ao, lda):
    """One dot tile of ``mr`` x ``kr`` (literals per branch, as the intrinsic needs)."""
    if kr == _DKR:
        if mr == 4:
            simd.dot_tile(
                4, 3, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda
            )
        elif mr == 3:
            simd.dot_tile(
                3, 3, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda
            )
        elif mr == 2:
            simd.dot_tile(
                2, 3, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda
            )
        else:
            simd.dot_tile(
                1, 3, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda
            )
    elif mr == 4:
        simd.dot_tile(4, 1, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda)
    elif mr == 3:
        simd.dot_tile(3, 1, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda)
    elif mr == 2:
        simd.dot_tile(2, 1, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda)
    else:
        simd.dot_tile(1, 1, d, do, ldd, pads, 0, offs, length, count, dstep, sstep, acc, ao, lda)


@njit(cache=True, nogil=True)
def weight_grad_images(dy, x, n0, n1, offs, grid, dot_length, pad_size, acc, pads, dyext):
    """``acc[o, k] += sum over images n0..n1-1 of dy[n, o] . window k of x[n]``.

    Images go in blocks of ``nb = len(pads) // pad_size``: their padded planes and
    output gradients are laid out one after the other, and each tile's accumulators
    run over the whole block before they are added up (for ResNet-20's 8x8 layers, one
    image is only 10 vector steps per tile).

    Args:
        dy: ``(N, OC, OH, OW)``.
        x: ``(N, C, H, W)``.
        n0: first image.
        n1: one past the last image.
        offs: ``Geometry.offs`` of the forward.
        grid: ``Geometry.grid`` of the forward.
        dot_length: ``Geometry.dot_length``.
        pad_size: ``Geometry.pad_size``.
        acc: ``(OC, C*KH*KW)`` accumulator.
        pads: scratch of ``nb * pad_size``.
        dyext: scratch of ``nb * OC * dot_length``.
    """
    oc = dy.shape[1]
    k = offs.shape[0]
    wp = grid[_WP]
    nb = pads.shape[0] // pad_size
    dstep = oc * dot_length
    accf = acc.reshape(-1)
    for q in range(dyext.shape[0]):
        dyext[q] = 0.0
    for b0 in range(n0, n1, nb):
        m = min(nb, n1 - b0)
        for b in range(m):
            _pad_image(x, b0 + b, pads[b * pad_size : (b + 1) * pad_size], grid, b0 == n0)
            _spread_rows(dy, b0 + b, dyext[b * dstep : (b + 1) * dstep], wp, dot_length, oc)
        o0 = 0
        while o0 < oc:
            mr = min(_DMR, oc - o0)
            k0 = 0
            while k0 < k:
                kr = _DKR if k0 + _DKR <= k else 1
                _dot_rows(mr, kr, dyext, o0 * dot_length, dot_length, pads, offs[k0:],
                          dot_length, m, dstep, pad_size, accf, o0 * k + k0, k)  # fmt: skip
                k0 += kr
            o0 += mr


@njit(cache=True, nogil=True)
def _outer_rows(mr, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds, y, yo, ldy):
    """One outer tile of ``mr`` rows (a literal per branch, as the intrinsic needs)."""
    if mr == 5:
        simd.outer_tile(5, _NV, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds,
                        y, yo, ldy)  # fmt: skip
    elif mr == 4:
        simd.outer_tile(4, _NV, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds,
                        y, yo, ldy)  # fmt: skip
    elif mr == 3:
        simd.outer_tile(3, _NV, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds,
                        y, yo, ldy)  # fmt: skip
    elif mr == 2:
        simd.outer_tile(2, _NV, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds,
                        y, yo, ldy)  # fmt: skip
    else:
        simd.outer_tile(1, _NV, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds,
                        y, yo, ldy)  # fmt: skip


@njit(cache=True, nogil=True)
def weight_grad_outer(dy, x, n0, n1, offs, grid, pad_size, acct, pads, dyt):
    """``acct[k, o] += sum over images n0..n1-1 of window k of x[n] . dy[n, o]``.

    The transposed weight gradient ``acct`` (``(C*KH*KW, OC)``, ``OC`` a whole number of
    tiles: ``conv.py`` takes this path only then) is a sum of outer products: for each output position
    ``p``, ``MR`` taps' values (broadcast from the padded plane: the padding columns are
    skipped) times the row ``dyt[p, :]`` of the output gradient transposed (vectors).
    Each tile's accumulators run over the whole block of ``nb`` images in registers, and
    it loads one vector row and ``MR`` scalars per ``2*MR`` vector FMAs, where
    :func:`weight_grad_images`' dot tiles load 7 vectors per 12.

    Args:
        dy: ``(N, OC, OH, OW)``.
        x: ``(N, C, H, W)``.
        n0: first image.
        n1: one past the last image.
        offs: ``Geometry.offs`` of the forward.
        grid: ``Geometry.grid`` of the forward.
        pad_size: ``Geometry.pad_size``.
        acct: ``(C*KH*KW, OC)`` accumulator.
        pads: scratch of ``nb * pad_size``.
        dyt: scratch of ``nb * OH*OW * OC``.
    """
    oc = dy.shape[1]
    oh = dy.shape[2]
    ow = dy.shape[3]
    k = offs.shape[0]
    wp = grid[_WP]
    nb = pads.shape[0] // pad_size
    tstep = oh * ow * oc
    nr = _NV * (_VEC_BYTES // pads.itemsize)
    accf = acct.reshape(-1)
    dyf = dy.reshape(-1)
    for b0 in range(n0, n1, nb):
        m = min(nb, n1 - b0)
        for b in range(m):
            _pad_image(x, b0 + b, pads[b * pad_size : (b + 1) * pad_size], grid, b0 == n0)
            for o in range(oc):
                s = uint64(((b0 + b) * oc + o) * oh * ow)
                d = uint64(b * tstep + o)
                for q in range(uint64(oh * ow)):
                    dyt[d + q * uint64(oc)] = dyf[s + q]
        for o0 in range(0, oc, nr):
            k0 = 0
            while k0 < k:
                mr = min(_OUTER_MR, k - k0)
                _outer_rows(mr, pads, 0, offs[k0:], ow, oh, wp, m, pad_size, dyt, o0, oc, accf,
                            k0 * oc + o0, oc)  # fmt: skip
                k0 += mr
