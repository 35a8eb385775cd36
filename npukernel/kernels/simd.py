"""Register-blocked SIMD tiles, written as numba intrinsics in LLVM IR.

numba vectorises simple loops, but it does not keep a block of accumulators in vector
registers across a reduction loop: a generated 4x16 tile of scalar accumulators ran at
3 GFLOP/s. These intrinsics build that inner loop directly (LLVM vector types, one
``llvm.fma`` per accumulator and step), so a GEMM-like kernel written in numba around
them runs at 45-70 GFLOP/s per core on this machine's AVX2 (57-88 in L1, depending on
the minute), where OpenBLAS's own kernels reach 66 on a large square GEMM. LLVM lowers the
vector types for any target (AVX-512, NEON, SSE), so the tiles are portable; only their
speed is tuned for 256-bit registers.

The tiles read rows through a table of offsets: the rows of a convolution's implicit
column matrix are shifted windows of one zero-padded image
(:mod:`npukernel.kernels.conv_implicit`), so no column matrix is ever written.

* :func:`gemm_tile` -- ``y[i, 0:NR] = sum_k a[i, k] * src[so + offs[k] : ... + NR]`` for
  ``MR`` rows ``i``: the output block stays in registers while ``k`` runs (its ``NV``
  vectors may also start a row apart in ``src``).
* :func:`dot_tile` -- ``out[i, j] += sum_p d[i, p] * src[so + offs[j] + p]`` for an
  ``MR x KR`` block, ``p`` running over whole vectors: each accumulator is one vector of
  partial sums, added across its lanes at the end.
* :func:`outer_tile` -- ``y[i, 0:NR] += sum_p a[arow[i] + at(p)] * src[p*lds : ... + NR]``:
  a sum of outer products, ``MR`` broadcast runs times vector rows (the weight
  gradient when the output channels fill whole vectors), ``p`` over the output rows
  of several images.

Editing this file: numba does not see that the cached kernels which inline these tiles
(``conv_implicit.py``) depend on it; update ``conv_implicit.SIMD_SOURCE_SHA256`` (a test
says to), which invalidates them.

All take flat (1-D, contiguous) arrays plus element offsets and leading dimensions, and
check nothing: the callers size every buffer so that no access leaves it. They cannot
run with ``NUMBA_DISABLE_JIT=1`` (there is no Python body); :data:`AVAILABLE` says
whether they can, and callers fall back to another algorithm when it is false.

Example:
    >>> import numpy as np
    >>> from numba import njit
    >>> from npukernel.kernels import simd
    >>> @njit
    ... def one_tile(a, src, offs, y):
    ...     simd.gemm_tile(5, 2, a, 0, 5, 1, a.shape[0] // 5, src, 0, 8, offs, y, 0, 16)
    >>> a = np.ones(5 * 2, np.float32)  # 5 rows, K = 2
    >>> src = np.arange(32, dtype=np.float32)
    >>> y = np.empty(5 * 16, np.float32)
    >>> if simd.AVAILABLE:
    ...     one_tile(a, src, np.array([0, 16]), y)
    ...     assert y[0] == 16.0 and y[15] == 46.0
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "AVAILABLE",
    "DOT_KR",
    "DOT_MR",
    "GEMM_MR",
    "VECTORS",
    "VEC_BYTES",
    "dot_tile",
    "gemm_tile",
    "lanes",
    "outer_tile",
]

# Bytes per vector register the tiles are shaped for (AVX2). Wider hardware still runs
# them correctly; LLVM splits or joins the vectors.
VEC_BYTES = 32

# Vectors per row of a gemm tile: NR = VECTORS * lanes columns (16 float32, 8 float64).
VECTORS = 2

# Rows per full gemm tile: 6 x 2 vectors = 12 accumulators plus the two source vectors
# and a broadcast fit the 16 AVX2 registers. Measured single-threaded on the 3x3
# convolutions of ResNet-20 (ms per 64 images, 16->16@32 | 32->32@16 | 64->64@8):
# 6x2 7.8 | 6.0 | 7.4, 5x2 6.4 | 5.6 | 5.7, 4x2 7.5 | 6.8 | 6.9, 4x3 7.4 | 6.7 | 7.2,
# 3x4 11.0 | 10.8 | 13.2 (6x2 then split 16 rows as 6+6+4). With the rows split evenly
# (16 = 6+5+5 against 4+4+4+4) and the tiles skipping the padding columns, 6 rows ran
# 3-7% faster than 5 in 7 of 8 layers at batch 1 and 64 (alternating, one process).
GEMM_MR = 6

# dot tile: rows of ``d`` x columns of ``src``: 12 accumulators, the 3 source vectors
# and one row vector take the 16 registers (3x4 spilled one accumulator to the stack).
# In L1, float32 GFLOP/s single-threaded: 4x3 58, 2x5 59, 3x3 55, 2x4 50, 3x4 32, 2x6 33.
DOT_MR = 4
DOT_KR = 3

AVAILABLE = not numba.config.DISABLE_JIT


def lanes(itemsize: int) -> int:
    """Elements per vector for a dtype of ``itemsize`` bytes (8 float32, 4 float64)."""
    return VEC_BYTES // itemsize


def _vector_type(context, dtype):
    fty = context.get_value_type(dtype)
    n = VEC_BYTES // context.get_abi_sizeof(fty)
    return fty, ir.VectorType(fty, n), n


def _fma(builder, vty):
    name = f"llvm.fma.v{vty.count}{'f32' if vty.element == ir.FloatType() else 'f64'}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3), name)


def _load_vec(builder, base, index, vty):
    ptr = builder.bitcast(builder.gep(base, [index]), vty.as_pointer())
    return builder.load(ptr, align=1)


def _store_vec(builder, value, base, index, vty):
    ptr = builder.bitcast(builder.gep(base, [index]), vty.as_pointer())
    builder.store(value, ptr, align=1)


def _splat(builder, scalar, vty):
    i32 = ir.IntType(32)
    v = builder.insert_element(ir.Constant(vty, None), scalar, ir.Constant(i32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, vty.count), [0] * vty.count))


def _data(context, builder, ty, value):
    return context.make_array(ty)(context, builder, value).data


def _fma_broadcast(builder, fma, scalar, vectors, accs):
    """``accs[v] += scalar * vectors[v]`` for each ``v``: one row of a tile's step."""
    splat = _splat(builder, scalar, vectors[0].type)
    for vec, acc in zip(vectors, accs, strict=True):
        builder.store(builder.call(fma, [splat, vec, builder.load(acc)]), acc)


def _zeroed_accumulators(builder, vty, count):
    accs = []
    for _ in range(count):
        a = cgutils.alloca_once(builder, vty)  # in the entry block: SROA keeps it in a register
        builder.store(ir.Constant(vty, None), a)
        accs.append(a)
    return accs


@intrinsic
def gemm_tile(typingctx, mr, nv, a, ao, ka, lda, k, src, so, vs, offs, y, yo, ldy):
    """``y[yo + i*ldy + v*lanes + c] = sum_k a[ao + k*ka + i*lda] * src[so + v*vs + offs[k] + c]``.

    For ``i < MR``, vectors ``v < NV`` (``mr`` and ``nv`` are compile-time literals) and
    lanes ``c``. ``a`` holds the tile's MR rows either packed column by column (``ka =
    MR``, ``lda = 1``: the broadcasts of one step are adjacent) or as they are in a
    row-major matrix (``ka = 1``, ``lda`` its row length: no packing copy). ``vs`` is how
    far apart in ``src`` the tile's vectors start: ``lanes`` for one run of columns, or a
    row's length to take the same columns of ``NV`` rows (an 8-wide output row wastes no
    lanes).
    """
    if not isinstance(mr, types.IntegerLiteral) or not isinstance(nv, types.IntegerLiteral):
        return None
    rows = mr.literal_value
    vectors = nv.literal_value
    sig = types.void(mr, nv, a, ao, ka, lda, k, src, so, vs, offs, y, yo, ldy)

    def codegen(context, builder, signature, args):
        _, _, a_, ao_, ka_, lda_, k_, src_, so_, vs_, offs_, y_, yo_, ldy_ = args
        tys = signature.args[1:]
        _, vty, n = _vector_type(context, tys[1].dtype)
        fma = _fma(builder, vty)
        i64 = ir.IntType(64)
        ap = _data(context, builder, tys[1], a_)
        sp = _data(context, builder, tys[6], src_)
        op = _data(context, builder, tys[9], offs_)
        yp = _data(context, builder, tys[10], y_)
        accs = _zeroed_accumulators(builder, vty, rows * vectors)
        vstart = [builder.mul(vs_, ir.Constant(i64, v)) for v in range(vectors)]
        astart = [builder.add(ao_, builder.mul(lda_, ir.Constant(i64, i))) for i in range(rows)]
        with cgutils.for_range(builder, k_) as loop:
            kk = loop.index
            base = builder.add(so_, builder.load(builder.gep(op, [kk])))
            bv = [_load_vec(builder, sp, builder.add(base, vstart[v]), vty) for v in range(vectors)]
            astep = builder.mul(kk, ka_)
            for i in range(rows):
                s = builder.load(builder.gep(ap, [builder.add(astart[i], astep)]))
                _fma_broadcast(builder, fma, s, bv, accs[i * vectors : (i + 1) * vectors])
        for i in range(rows):
            row = builder.add(yo_, builder.mul(ldy_, ir.Constant(i64, i)))
            for v in range(vectors):
                idx = builder.add(row, ir.Constant(i64, v * n))
                _store_vec(builder, builder.load(accs[i * vectors + v]), yp, idx, vty)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def dot_tile(
    typingctx, mr, kr, d, do, ldd, src, so, offs, length, count, dstep, sstep, out, oo, ldo
):
    """``out[oo + i*ldo + j] += sum_b sum_p d[do + b*dstep + i*ldd + p] * src[so + b*sstep + offs[j] + p]``.

    For ``i < MR``, ``j < KR`` (compile-time literals), ``b < count`` (images: the
    accumulators stay in registers from one to the next) and ``p < length``, a multiple
    of the vector width.
    """
    if not isinstance(mr, types.IntegerLiteral) or not isinstance(kr, types.IntegerLiteral):
        return None
    rows = mr.literal_value
    cols = kr.literal_value
    sig = types.void(mr, kr, d, do, ldd, src, so, offs, length, count, dstep, sstep, out, oo, ldo)

    def codegen(context, builder, signature, args):
        _, _, d_, do_, ldd_, src_, so_, offs_, len_, count_, dstep_, sstep_, out_, oo_, ldo_ = args
        tys = signature.args
        _, vty, n = _vector_type(context, tys[2].dtype)
        fma = _fma(builder, vty)
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        dp = _data(context, builder, tys[2], d_)
        sp = _data(context, builder, tys[5], src_)
        op = _data(context, builder, tys[7], offs_)
        outp = _data(context, builder, tys[12], out_)
        accs = _zeroed_accumulators(builder, vty, rows * cols)
        steps = builder.udiv(len_, ir.Constant(i64, n))
        with cgutils.for_range(builder, count_) as images:
            b = images.index
            dbase = builder.add(do_, builder.mul(b, dstep_))
            drow = [builder.add(dbase, builder.mul(ldd_, ir.Constant(i64, i))) for i in range(rows)]
            sb = builder.add(so_, builder.mul(b, sstep_))
            sbase = [
                builder.add(sb, builder.load(builder.gep(op, [ir.Constant(i64, j)])))
                for j in range(cols)
            ]
            with cgutils.for_range(builder, steps) as loop:
                p = builder.mul(loop.index, ir.Constant(i64, n))
                sv = [_load_vec(builder, sp, builder.add(sbase[j], p), vty) for j in range(cols)]
                for i in range(rows):
                    dv = _load_vec(builder, dp, builder.add(drow[i], p), vty)
                    for j in range(cols):
                        acc = accs[i * cols + j]
                        builder.store(builder.call(fma, [dv, sv[j], builder.load(acc)]), acc)
        for i in range(rows):
            orow = builder.add(oo_, builder.mul(ldo_, ir.Constant(i64, i)))
            for j in range(cols):
                v = builder.load(accs[i * cols + j])
                total = builder.extract_element(v, ir.Constant(i32, 0))
                for e in range(1, n):
                    total = builder.fadd(total, builder.extract_element(v, ir.Constant(i32, e)))
                ptr = builder.gep(outp, [builder.add(orow, ir.Constant(i64, j))])
                builder.store(builder.fadd(builder.load(ptr), total), ptr)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def outer_tile(typingctx, mr, nv, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds,
               y, yo, ldy):  # fmt: skip
    """``y[yo + i*ldy + c] += sum_p a[ao + arow[i] + at(p)] * src[so + p*lds + c]``.

    For ``i < MR``, ``c < NV * lanes`` (``mr`` and ``nv`` are compile-time literals): a
    sum of outer products of ``MR`` strided runs of ``a`` (broadcast) with rows of
    ``src`` (vectors). ``p`` counts ``count`` blocks of ``rows`` runs of ``rowlen``;
    run ``r`` of block ``b`` starts at ``at = b*astep + r*astride`` in ``a`` (an image's
    output rows in its padded plane, image after image), while the rows of ``src`` follow
    on without gaps. The accumulators start from ``y``'s block and stay in registers
    over all of ``p``.
    """
    if not isinstance(mr, types.IntegerLiteral) or not isinstance(nv, types.IntegerLiteral):
        return None
    nrows = mr.literal_value
    vectors = nv.literal_value
    sig = types.void(
        mr, nv, a, ao, arow, rowlen, rows, astride, count, astep, src, so, lds, y, yo, ldy
    )

    def codegen(context, builder, signature, args):
        (_, _, a_, ao_, arow_, rowlen_, rows_, astride_, count_, astep_, src_, so_, lds_, y_,
         yo_, ldy_) = args  # fmt: skip
        tys = signature.args
        _, vty, n = _vector_type(context, tys[2].dtype)
        fma = _fma(builder, vty)
        i64 = ir.IntType(64)
        ap = _data(context, builder, tys[2], a_)
        rp = _data(context, builder, tys[4], arow_)
        sp = _data(context, builder, tys[10], src_)
        yp = _data(context, builder, tys[13], y_)
        abase = [
            builder.add(ao_, builder.load(builder.gep(rp, [ir.Constant(i64, i)])))
            for i in range(nrows)
        ]
        yidx = []
        accs = []
        for i in range(nrows):
            row = builder.add(yo_, builder.mul(ldy_, ir.Constant(i64, i)))
            for v in range(vectors):
                idx = builder.add(row, ir.Constant(i64, v * n))
                acc = cgutils.alloca_once(builder, vty)
                builder.store(_load_vec(builder, yp, idx, vty), acc)
                yidx.append(idx)
                accs.append(acc)
        run_step = builder.mul(rowlen_, lds_)
        block_step = builder.mul(rows_, run_step)
        with cgutils.for_range(builder, count_) as blocks:
            b = blocks.index
            ablock = builder.mul(b, astep_)
            sblock = builder.add(so_, builder.mul(b, block_step))
            with cgutils.for_range(builder, rows_) as runs:
                r = runs.index
                arun = builder.add(ablock, builder.mul(r, astride_))
                srun = builder.add(sblock, builder.mul(r, run_step))
                with cgutils.for_range(builder, rowlen_) as loop:
                    q = loop.index
                    base = builder.add(srun, builder.mul(q, lds_))
                    bv = [
                        _load_vec(builder, sp, builder.add(base, ir.Constant(i64, v * n)), vty)
                        for v in range(vectors)
                    ]
                    at = builder.add(arun, q)
                    for i in range(nrows):
                        s = builder.load(builder.gep(ap, [builder.add(abase[i], at)]))
                        _fma_broadcast(builder, fma, s, bv, accs[i * vectors : (i + 1) * vectors])
        for idx, acc in zip(yidx, accs, strict=True):
            _store_vec(builder, builder.load(acc), yp, idx, vty)
        return context.get_dummy_value()

    return sig, codegen
