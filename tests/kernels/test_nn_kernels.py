"""Neural-network kernels against plain-numpy references and finite differences.

Gradients are checked in float64 on tiny shapes; float32 only gets forward checks, to keep
the number of numba compilations (and the cold-cache run time) small.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from npukernel.kernels import conv, dropout, norm, pool, simd, softmax

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_conv_plans():
    """Plans are cached per shape: a test that patches the algorithm or the task split
    must not get a plan made before the patch (nor leave its own to later tests)."""
    conv._plan_for.cache_clear()
    yield
    conv._plan_for.cache_clear()


def rng(seed=0):
    return np.random.default_rng(seed)


def num_grad(f, a, eps=1e-6):
    """Central finite differences of the scalar ``f()`` with respect to array ``a``."""
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + eps
        fp = f()
        a[idx] = old - eps
        fm = f()
        a[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


# ------------------------------------------------------------------------------ conv


def conv_ref(x, w, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    pt, pb, pl, pr = padding
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, oc, oh, ow), dtype=np.float64)
    ocg = oc // groups
    for o in range(oc):
        g = o // ocg
        for ci in range(cg):
            for i in range(kh):
                for j in range(kw):
                    for r in range(oh):
                        for q in range(ow):
                            y[:, o, r, q] += (
                                w[o, ci, i, j]
                                * xp[:, g * cg + ci, r * sh + i * dh, q * sw + j * dw]
                            )
    return y


def conv_ref_backward(dy, x, w, stride, padding, dilation, groups):
    """The adjoint loops, written independently of the kernels."""
    n, c, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    pt, pb, pl, pr = padding
    (sh, sw), (dh, dw) = stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    dxp = np.zeros_like(xp)
    dwr = np.zeros_like(w)
    _, _, oh, ow = dy.shape
    ocg = oc // groups
    for o in range(oc):
        g = o // ocg
        for ci in range(cg):
            for i in range(kh):
                for j in range(kw):
                    for r in range(oh):
                        for q in range(ow):
                            ih, iw = r * sh + i * dh, q * sw + j * dw
                            dxp[:, g * cg + ci, ih, iw] += w[o, ci, i, j] * dy[:, o, r, q]
                            dwr[o, ci, i, j] += np.dot(dy[:, o, r, q], xp[:, g * cg + ci, ih, iw])
    return dxp[:, :, pt : pt + h, pl : pl + wd], dwr


# (x_shape, w_shape, stride, padding (t, b, l, r), dilation, groups)
CONV_CASES = [
    ((2, 3, 6, 6), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),  # "same": block copies
    ((2, 3, 7, 6), (4, 3, 3, 2), (1, 1), (1, 0, 2, 1), (1, 1), 1),  # asymmetric padding
    ((1, 4, 9, 8), (6, 2, 3, 3), (2, 3), (0, 1, 1, 2), (2, 1), 2),  # stride, dilation, groups
    ((1, 4, 9, 8), (6, 2, 3, 3), (1, 1), (0, 1, 1, 2), (2, 1), 2),  # dilation, groups
    ((2, 4, 6, 7), (8, 1, 3, 3), (2, 1), (1, 1, 1, 1), (1, 2), 4),  # depthwise, multiplier 2
    ((2, 4, 6, 7), (8, 1, 3, 2), (1, 1), (0, 2, 1, 0), (2, 2), 4),  # depthwise, stride 1
    ((2, 2, 5, 5), (3, 2, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),  # 1x1
    ((1, 2, 5, 6), (2, 2, 3, 3), (1, 1), (1, 1, 2, 2), (1, 2), 1),  # dilated "same"
    ((1, 1, 3, 3), (2, 1, 3, 3), (1, 1), (3, 3, 3, 3), (1, 1), 1),  # padding > image
    # rows of >= 16 outputs: im2col/col2im copy whole "same" planes at once
    ((2, 2, 4, 17), (3, 2, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((1, 3, 5, 16), (2, 3, 3, 3), (1, 1), (2, 0, 0, 2), (1, 1), 1),
    # strided, one group: the implicit kernels' phase planes
    ((2, 3, 9, 8), (4, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),  # stride 2 "same"
    ((1, 4, 9, 8), (5, 4, 3, 2), (2, 3), (0, 1, 1, 2), (2, 1), 1),  # with dilation
    ((2, 3, 8, 8), (5, 3, 1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),  # 1x1: one phase used
    ((1, 2, 7, 7), (3, 2, 3, 3), (3, 2), (2, 2, 2, 2), (1, 1), 1),  # stride 3, wide padding
]


@pytest.mark.parametrize(
    ("case", "algo_name"),
    # the direct kernels are stride-1 only, the implicit ones take one group, and
    # conv2d_algo never sends them other cases
    [
        (c, a)
        for c in CONV_CASES
        for a in ("im2col", "direct", "implicit")
        if a == "im2col" or (a == "direct" and c[2] == (1, 1)) or (a == "implicit" and c[5] == 1)
    ],
)
def test_conv2d_forward_backward_float64(case, algo_name, monkeypatch):
    monkeypatch.setattr(conv, "conv2d_algo", lambda *a, **k: algo_name)
    xs, ws, stride, padding, dilation, groups = case
    r = rng(1)
    x = r.standard_normal(xs)
    w = r.standard_normal(ws)
    y, ctx = conv.conv2d_forward(x, w, stride, padding, dilation, groups)
    np.testing.assert_allclose(y, conv_ref(x, w, stride, padding, dilation, groups), atol=1e-12)
    dy = r.standard_normal(y.shape)
    dx_ref, dw_ref = conv_ref_backward(dy, x, w, stride, padding, dilation, groups)
    x0, w0 = x.copy(), w.copy()
    dx, dw = conv.conv2d_backward(dy, x, w, ctx, stride, padding, dilation, groups)
    np.testing.assert_allclose(dx, dx_ref, atol=1e-12)
    np.testing.assert_allclose(dw, dw_ref, atol=1e-12)
    assert np.array_equal(x, x0) and np.array_equal(w, w0)
    dx2 = conv.conv2d_backward_input(dy, w, x.shape, stride, padding, dilation, groups)
    dw2 = conv.conv2d_backward_weight(dy, x, w.shape, stride, padding, dilation, groups)
    np.testing.assert_allclose(dx2, dx_ref, atol=1e-12)
    np.testing.assert_allclose(dw2, dw_ref, atol=1e-12)
    dx3, none = conv.conv2d_backward(
        dy, x, w, ctx, stride, padding, dilation, groups, need_dx=True, need_dw=False
    )
    assert none is None
    np.testing.assert_allclose(dx3, dx_ref, atol=1e-12)


def test_conv2d_backward_matches_finite_differences():
    r = rng(2)
    x = r.standard_normal((1, 2, 4, 5))
    w = r.standard_normal((2, 2, 2, 3))
    args = ((2, 1), (1, 0, 0, 2), (1, 1), 1)
    dy = r.standard_normal(conv.conv2d_forward(x, w, *args)[0].shape)

    def loss():
        return float((conv_ref(x, w, *args) * dy).sum())

    dx, dw = conv.conv2d_backward(dy, x, w, None, *args)
    np.testing.assert_allclose(dx, num_grad(loss, x), atol=1e-6)
    np.testing.assert_allclose(dw, num_grad(loss, w), atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("keep_cols", [True, False])
def test_conv2d_chunked_batch(monkeypatch, threads, keep_cols):
    # A tiny chunk size forces several batch chunks, including a short last one; the
    # chunks run on one or two threads, with the forward's columns kept or rebuilt.
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 3 * 27 * 36 * 8)
    monkeypatch.setattr(conv, "_parts", lambda tasks: min(tasks, threads))
    monkeypatch.setattr(conv, "conv2d_algo", lambda *a, **k: "im2col")
    if not keep_cols:
        monkeypatch.setattr(conv, "_KEEP_COLS_BYTES", 0)
    r = rng(3)
    x = r.standard_normal((7, 3, 6, 6))
    w = r.standard_normal((5, 3, 3, 3))
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    y, ctx = conv.conv2d_forward(x, w, *args)
    np.testing.assert_allclose(y, conv_ref(x, w, *args), atol=1e-12)
    dy = r.standard_normal(y.shape)
    dx, dw = conv.conv2d_backward(dy, x, w, ctx, *args)
    dx_ref, dw_ref = conv_ref_backward(dy, x, w, *args)
    np.testing.assert_allclose(dx, dx_ref, atol=1e-12)
    np.testing.assert_allclose(dw, dw_ref, atol=1e-12)


def test_shared_tasks_do_not_wait_for_a_pool_thread_that_has_not_started():
    """The caller that took every task returns at once, not when a late thread wakes."""
    import threading

    pool = conv._thread_pool()
    release = threading.Event()
    busy = [pool.submit(release.wait, 30) for _ in range(pool._max_workers)]  # all asleep
    done: list = []
    caller = threading.Thread(
        target=lambda: (
            conv._run_shared(lambda p, todo: done.extend(todo), 4, 2),
            done.append("back"),
        )
    )
    try:
        caller.start()
        caller.join(10)
        assert done == [0, 1, 2, 3, "back"]
    finally:
        release.set()
        for f in busy:
            f.result()
        caller.join()


def test_implicit_tasks_split_a_mid_sized_convolution(monkeypatch):
    # (images per task, tasks, threads): LeNet-5's first layer at batch 64 (11 MFLOP)
    # rounds to one 8-MFLOP task but is split in two; a small one and a single image
    # stay on the calling thread; a large one gets tasks of ~8 MFLOP in whole rounds
    monkeypatch.setattr(conv, "_parts", lambda tasks: min(tasks, 2))
    assert conv._implicit_tasks(64, 2 * 6 * 25 * 576) == (32, 2, 2)
    assert conv._implicit_tasks(8, 2 * 6 * 25 * 576) == (8, 1, 1)
    assert conv._implicit_tasks(1, 10**9) == (1, 1, 1)
    assert conv._implicit_tasks(64, 2 * 16 * 144 * 1024) == (2, 32, 2)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("oc", [13, 16])
def test_conv2d_implicit_batches_over_threads(monkeypatch, threads, dtype, oc):
    # 11 images in tasks of ~2 and weight-gradient blocks of 3 (a short last one of each);
    # 7x9 images (rows not a whole number of vectors); float32 and float64 vector widths.
    # 13 output channels: gemm tiles of 5, 4 and 4 rows, the weight gradient by dot tiles
    # of 4 and 1 rows; 16: whole vector columns, so the weight gradient takes the outer
    # product tiles (of 5 and 5 rows: C*KH*KW = 30).
    monkeypatch.setattr(conv, "_parts", lambda tasks: min(tasks, threads))
    monkeypatch.setattr(conv, "_OUTER_DW_MIN_K", 0)
    r = rng(5)
    x = r.standard_normal((11, 5, 7, 9)).astype(dtype)
    w = r.standard_normal((oc, 5, 3, 2)).astype(dtype)
    args = ((1, 1), (1, 2, 0, 1), (1, 2), 1)
    monkeypatch.setattr(conv, "_IMPLICIT_TASK_FLOPS", 2 * oc * 30 * 80)  # ~2 images
    geo = conv._geometry(x.shape, (8, 8), (3, 2), (1, 0), (1, 2), x.itemsize)
    per_image = geo.pad_size + oc * max(geo.dot_length, geo.oh * geo.wp)
    monkeypatch.setattr(conv, "_DW_BLOCK_BYTES", 3 * per_image * x.itemsize)
    assert conv.conv2d_algo(x.shape, w.shape, *args, dtype) == "implicit"
    y, ctx = conv.conv2d_forward(x, w, *args)
    assert y.shape == (11, oc, 8, 8)
    assert conv._small_plan(x, w, *args).split[1] > 1  # the cached plan's batch split
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"atol": 1e-12}
    ref = conv_ref(x, w, *args)
    np.testing.assert_allclose(y, ref, **tol)
    # the fused epilogues and the pooled output, split over the batch the same way
    sc, sh = r.standard_normal(oc).astype(dtype), r.standard_normal(oc).astype(dtype)
    res = r.standard_normal(y.shape).astype(dtype)
    affine = ref * sc[:, None, None] + sh[:, None, None]
    fused, _ = conv.conv2d_forward(x, w, *args, relu=True, scale=sc, shift=sh, residual=res)
    np.testing.assert_allclose(fused, np.maximum(affine + res, 0), **tol)
    pooled, _ = conv.conv2d_forward(x, w, *args, relu=True, scale=sc, shift=sh, pool=True)
    want = np.maximum(affine.reshape(11, oc, 4, 2, 4, 2).max(axis=(3, 5)), 0)
    np.testing.assert_allclose(pooled, want, **tol)
    dy = r.standard_normal(y.shape).astype(dtype)
    dx, dw = conv.conv2d_backward(dy, x, w, ctx, *args)
    dx_ref, dw_ref = conv_ref_backward(dy, x, w, *args)
    assert dx.dtype == dw.dtype == dtype
    np.testing.assert_allclose(dx, dx_ref, **tol)
    np.testing.assert_allclose(dw, dw_ref, **tol)


@pytest.mark.skipif(not simd.AVAILABLE, reason="small plans need the SIMD tiles (JIT on)")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 64])
def test_small_runner_matches_conv2d_forward(monkeypatch, dtype, batch):
    # What graph mode binds per convolution node: every epilogue and the pooled output
    # equal the general kernel's bit for bit, and a second call reuses nothing stale.
    # Batch 1: one task, the kernel called straight away; batch 64: a cached plan whose
    # batch is split over two threads (what conv2d_forward passes on).
    monkeypatch.setattr(conv, "_parts", lambda tasks: min(tasks, 2))
    r = rng(9)
    x = r.standard_normal((batch, 6, 8, 8)).astype(dtype)
    w = r.standard_normal((16, 6, 3, 3)).astype(dtype)
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    if batch == 1:
        plan = conv.small_plan(x.shape, w.shape, *args, np.dtype(dtype))
    else:
        monkeypatch.setattr(conv, "_IMPLICIT_TASK_FLOPS", 2 * 16 * 54 * 64 * 8)  # 8 images
        plan = conv._small_plan(x, w, *args)
    assert plan is not None and (plan.split is None) == (batch == 1)
    sc, sh = r.standard_normal(16).astype(dtype), r.standard_normal(16).astype(dtype)
    res = r.standard_normal((batch, 16, 8, 8)).astype(dtype)
    for relu in (False, True):
        run = conv.small_runner(plan, np.dtype(dtype), relu)
        want, _ = conv.conv2d_forward(x, w, *args, relu=relu)
        np.testing.assert_array_equal(run(x, w), want)
        want, _ = conv.conv2d_forward(x, w, *args, relu=relu, scale=sc, shift=sh, residual=res)
        np.testing.assert_array_equal(run(x, w, sc, sh, res), want)
        np.testing.assert_array_equal(run(2 * x, w, sc, sh, res),
                                      conv.conv2d_forward(2 * x, w, *args, relu=relu, scale=sc,
                                                          shift=sh, residual=res)[0])  # fmt: skip
        pooled = conv.small_runner(plan, np.dtype(dtype), relu, pool=True)
        want, _ = conv.conv2d_forward(x, w, *args, relu=relu, scale=sc, shift=sh, pool=True)
        assert want.shape == (batch, 16, 4, 4)
        np.testing.assert_array_equal(pooled(x, w, sc, sh), want)
    # a strided operand goes to the fallback, with the same arguments
    seen = []
    run = conv.small_runner(plan, np.dtype(dtype), True, fallback=lambda *a: seen.append(a) or 7)
    wide = np.repeat(x, 2, axis=3)[..., ::2]
    assert not wide.flags.c_contiguous and run(wide, w, sc, sh) == 7
    assert len(seen) == 1 and seen[0][0] is wide and seen[0][2] is sc
    assert run(x, w, sc, sh).shape == (batch, 16, 8, 8) and len(seen) == 1
    conv._plan_for.cache_clear()  # the split above came from patched thresholds


@pytest.mark.parametrize("batch", [1, 2])  # one image reads the weight unpacked
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(
    ("dtype", "out_hw", "mode"),
    [
        (np.float32, (5, 16), "vectors"),  # two vectors per row: the padding skipped
        (np.float32, (3, 24), "vectors"),  # three: every other tile spans two rows
        (np.float32, (7, 8), "vectors"),  # one: tiles of two rows, the last row alone
        (np.float64, (3, 8), "vectors"),
        (np.float64, (5, 4), "vectors"),
        (np.float32, (4, 9), "grid"),  # rows not whole vectors: the flattened padded grid
    ],
)
def test_conv2d_implicit_tilings(monkeypatch, dtype, out_hw, mode, stride, batch):
    from npukernel.kernels import simd

    oh, ow = out_hw
    r = rng(8)
    x = r.standard_normal((batch, 3, oh * stride, ow * stride)).astype(dtype)
    w = r.standard_normal((7, 3, 3, 3)).astype(dtype)  # tiles of 4 and 3 output channels
    args = ((stride, stride), (1, 1, 1, 1), (1, 1), 1)
    geo = conv._geometry(x.shape, out_hw, (3, 3), (1, 1), (1, 1), x.itemsize, (stride, stride))
    length, yrow = geo.tiling[:2]
    assert ("grid" if yrow == geo.wp else "vectors") == mode
    # the work (ybuf columns per channel) each tiling does: whole tiles of 2 vectors
    lanes = simd.lanes(x.itemsize)
    grid = -(-oh * geo.wp // (2 * lanes)) * 2 * lanes
    want = {"vectors": -(-oh * ow // (2 * lanes)) * 2 * lanes, "grid": grid}[mode]
    assert length == want <= grid
    monkeypatch.setattr(conv, "conv2d_algo", lambda *a, **k: "implicit")
    y, ctx = conv.conv2d_forward(x, w, *args)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"atol": 1e-12}
    np.testing.assert_allclose(y, conv_ref(x, w, *args), **tol)
    epi = (rng(9).standard_normal(7).astype(dtype), rng(10).standard_normal(7).astype(dtype))
    res = rng(11).standard_normal(y.shape).astype(dtype)
    fused, _ = conv.conv2d_forward(x, w, *args, relu=True, scale=epi[0], shift=epi[1],
                                   residual=res)  # fmt: skip
    want = np.maximum(
        conv_ref(x, w, *args) * epi[0][:, None, None] + epi[1][:, None, None] + res, 0
    )
    np.testing.assert_allclose(fused, want, **tol)
    dy = r.standard_normal(y.shape).astype(dtype)
    dx, dw = conv.conv2d_backward(dy, x, w, ctx, *args)
    dx_ref, dw_ref = conv_ref_backward(dy, x, w, *args)
    np.testing.assert_allclose(dx, dx_ref, **tol)
    np.testing.assert_allclose(dw, dw_ref, **tol)
    # the 2x2 max pooling fused into the epilogue: exactly the pooling of the unpooled
    # output (odd sizes drop the last row or column)
    for relu, affine in ((True, ()), (False, epi)):
        full, _ = conv.conv2d_forward(x, w, *args, relu, *affine)
        if not affine:  # the ReLU alone (in place on out's columns when they are whole)
            np.testing.assert_array_equal(full, np.maximum(y, 0))
        pooled, _ = conv.conv2d_forward(x, w, *args, relu, *affine, pool=True)
        assert pooled.shape == (batch, 7, oh // 2, ow // 2)
        np.testing.assert_array_equal(pooled, pool.max_pool2d_values(full, (2, 2), (2, 2)))


@pytest.mark.parametrize(
    ("x_shape", "out_hw", "kernel", "top_left", "stride"),
    [
        ((2, 3, 6, 7), (6, 7), (3, 3), (1, 1), (1, 1)),  # "same"
        ((2, 3, 9, 8), (5, 4), (3, 3), (1, 1), (2, 2)),  # stride 2: four phase planes
        ((1, 2, 7, 7), (3, 4), (3, 3), (2, 2), (3, 2)),  # wide padding
        ((1, 1, 3, 3), (7, 7), (3, 3), (3, 3), (1, 1)),  # padding larger than the image
        ((1, 2, 1, 1), (2, 2), (3, 3), (2, 2), (2, 2)),  # phases of padding only
    ],
)
def test_pad_image_zeroes_everything_it_does_not_copy(x_shape, out_hw, kernel, top_left, stride):
    # The scratch buffer is shared by convolutions of other shapes: whatever _pad_image
    # does not overwrite with the image must come out zero, never stale.
    from npukernel.kernels import conv_implicit

    x = rng(12).standard_normal(x_shape)
    geo = conv_implicit.Geometry(x_shape, out_hw, kernel, top_left, (1, 1), 8, stride)
    pad = np.full(geo.pad_size, np.nan)
    conv_implicit._pad_image(x, 1 % x_shape[0], pad, geo.grid)
    n, c = 1 % x_shape[0], x_shape[1]
    big = np.zeros(
        (c, geo.pt + x_shape[2] + geo.hp * geo.sh, geo.pl + x_shape[3] + geo.wp * geo.sw)
    )
    big[:, geo.pt : geo.pt + x_shape[2], geo.pl : geo.pl + x_shape[3]] = x[n]
    nph = len(geo.phases)
    planes = pad[: c * nph * geo.plane].reshape(c, nph, geo.hp, geo.wp)
    for ph, (a, b) in enumerate(geo.phases):
        want = big[:, a :: geo.sh, b :: geo.sw][:, : geo.hp, : geo.wp]
        np.testing.assert_array_equal(planes[:, ph], want)
    assert not pad[c * nph * geo.plane :].any()


@pytest.mark.skipif(not simd.AVAILABLE, reason="the gemm tiles need the JIT")
@pytest.mark.parametrize("stride", [1, 2])
def test_forward_images_zeroes_the_padding_once_per_call(stride):
    # Only the first image of a call zeroes the padded grid; the later ones rely on
    # the copy overwriting exactly what the first image's did. A grid full of NaN
    # before the call must not leak into any image's output.
    from npukernel.kernels import conv_implicit

    r = rng(13)
    x = r.standard_normal((3, 4, 9, 9)).astype(np.float32)
    w = r.standard_normal((5, 4, 3, 3)).astype(np.float32)
    oh = (9 + 2 - 3) // stride + 1
    geo = conv_implicit.Geometry(x.shape, (oh, oh), (3, 3), (1, 1), (1, 1), 4, (stride, stride))
    packed, starts = conv_implicit.pack_rows(w.reshape(5, -1))
    pad = np.full(geo.pad_size, np.nan, np.float32)
    ybuf = np.full(5 * geo.length, np.nan, np.float32)
    out = np.empty((3, 5, oh, oh), np.float32)
    none = conv._no_epilogue(np.dtype(np.float32))
    conv_implicit.forward_images(x, 0, 3, packed, True, starts, geo.offs, geo.grid, geo.tiling,
                                 out, pad, ybuf, *none, False)  # fmt: skip
    args = ((stride, stride), (1, 1, 1, 1), (1, 1), 1)
    np.testing.assert_allclose(out, conv_ref(x, w, *args), rtol=1e-4, atol=1e-4)


def test_implicit_kernels_are_recompiled_when_the_simd_tiles_change():
    # numba only invalidates a cached kernel when its own source file changes
    import hashlib

    from npukernel.kernels import conv_implicit, simd

    digest = hashlib.sha256(Path(simd.__file__).read_bytes()).hexdigest()[:16]
    assert conv_implicit.SIMD_SOURCE_SHA256 == digest, (
        "simd.py changed: set conv_implicit.SIMD_SOURCE_SHA256 to " + repr(digest)
    )


def test_conv2d_float32_forward():
    r = rng(4)
    x = r.standard_normal((3, 3, 6, 5)).astype(np.float32)
    w = r.standard_normal((4, 3, 3, 3)).astype(np.float32)
    for args in (((1, 1), (1, 1, 1, 1), (1, 1), 1), ((2, 1), (0, 1, 2, 0), (1, 2), 1)):
        y, _ = conv.conv2d_forward(x, w, *args)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, conv_ref(x, w, *args), rtol=1e-5, atol=1e-5)


def test_conv2d_algo_choice():
    assert conv.conv2d_algo((64, 64, 16, 16), (64, 64, 3, 3), groups=1) == "implicit"
    assert conv.conv2d_algo((64, 3, 32, 32), (16, 3, 3, 3)) == "implicit"
    assert conv.conv2d_algo((64, 3, 32, 32), (16, 3, 3, 3), dtype=np.float16) == "im2col"
    assert conv.conv2d_algo((64, 16, 32, 32), (32, 16, 3, 3), (2, 2)) == "implicit"
    assert conv.conv2d_algo((64, 16, 32, 32), (32, 16, 1, 1), (2, 2)) == "im2col"
    assert conv.conv2d_algo((64, 16, 32, 32), (32, 16, 1, 1)) == "implicit"
    assert conv.conv2d_algo((64, 32, 32, 32), (32, 1, 3, 3), groups=32) == "direct"
    assert conv.conv2d_algo((64, 32, 32, 32), (32, 1, 3, 3), (2, 2), groups=32) == "im2col"


# --------------------------------------------------------------------------- pooling


def max_pool_ref(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0],) * 2, (p[1],) * 2), constant_values=-np.inf)
    oh = (h + 2 * p[0] - k[0]) // s[0] + 1
    ow = (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.empty((n, c, oh, ow))
    for r in range(oh):
        for q in range(ow):
            win = xp[:, :, r * s[0] : r * s[0] + k[0], q * s[1] : q * s[1] + k[1]]
            y[:, :, r, q] = win.max(axis=(2, 3))
    return y


def avg_pool_ref(x, k, s, p, include_pad):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0],) * 2, (p[1],) * 2))
    ones = np.pad(np.ones((h, w)), ((p[0],) * 2, (p[1],) * 2))
    oh = (h + 2 * p[0] - k[0]) // s[0] + 1
    ow = (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.empty((n, c, oh, ow))
    for r in range(oh):
        for q in range(ow):
            rs = slice(r * s[0], r * s[0] + k[0])
            qs = slice(q * s[1], q * s[1] + k[1])
            cnt = k[0] * k[1] if include_pad else ones[rs, qs].sum()
            y[:, :, r, q] = xp[:, :, rs, qs].sum(axis=(2, 3)) / cnt
    return y


POOL_CASES = [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 2), (1, 1))]


@pytest.mark.parametrize("k,s,p", POOL_CASES)
def test_max_pool(k, s, p):
    r = rng(4)
    # distinct values so the argmax (and the finite-difference gradient) is unambiguous
    x = r.permutation(2 * 3 * 5 * 6).reshape(2, 3, 5, 6) / 7.0
    y, idx = pool.max_pool2d_forward(x, k, s, p)
    np.testing.assert_array_equal(y, max_pool_ref(x, k, s, p))
    assert idx.dtype == np.int32
    dy = r.standard_normal(y.shape)
    dx = pool.max_pool2d_backward(dy, idx, x.shape)
    g = num_grad(lambda: float((max_pool_ref(x, k, s, p) * dy).sum()), x, eps=1e-3)
    np.testing.assert_allclose(dx, g, atol=1e-8)


def test_max_pool_nan_and_ties():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 3] = np.nan
    y, idx = pool.max_pool2d_forward(x, (2, 2), (2, 2))
    assert y[0, 0, 0, 0] == 0 and idx[0, 0, 0, 0] == 0  # first of the tied zeros
    assert np.isnan(y[0, 0, 0, 1]) and idx[0, 0, 0, 1] == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 4, 6, 8), (2, 3, 2, 2), (1, 2, 24, 24)])
def test_max_pool_2x2_path_matches_general_kernel(shape, dtype):
    # values from a small set, so windows hold ties; some NaNs, some -inf
    r = rng(7)
    x = r.integers(-3, 3, size=shape).astype(dtype)
    x[r.random(shape) < 0.05] = np.nan
    x[r.random(shape) < 0.05] = -np.inf
    y, idx = pool.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    y_ref = np.empty_like(y)
    idx_ref = np.empty_like(idx)
    pool._max_pool_fwd(x, 2, 2, 2, 2, 0, 0, y_ref, idx_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    # the inference kernel (no argmax) gives the same maxima, NaNs included
    np.testing.assert_array_equal(pool.max_pool2d_values(x, (2, 2), (2, 2)), y_ref)
    assert pool.max_pool2d_values(x, (2, 2), (2, 2)).dtype == dtype


@pytest.mark.parametrize("k,s,p", POOL_CASES)
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool(k, s, p, include_pad):
    r = rng(5)
    x = r.standard_normal((2, 3, 5, 6))
    y = pool.avg_pool2d_forward(x, k, s, p, include_pad)
    np.testing.assert_allclose(y, avg_pool_ref(x, k, s, p, include_pad), atol=1e-14)
    dy = r.standard_normal(y.shape)
    dx = pool.avg_pool2d_backward(dy, x.shape, k, s, p, include_pad)
    g = num_grad(lambda: float((avg_pool_ref(x, k, s, p, include_pad) * dy).sum()), x)
    np.testing.assert_allclose(dx, g, atol=1e-8)


def test_global_avg_pool():
    r = rng(6)
    x = r.standard_normal((2, 3, 4, 5))
    y = pool.global_avg_pool_forward(x)
    np.testing.assert_allclose(y, x.mean(axis=(2, 3), keepdims=True), atol=1e-14)
    dy = r.standard_normal(y.shape)
    dx = pool.global_avg_pool_backward(dy, x.shape)
    g = num_grad(lambda: float((x.mean(axis=(2, 3), keepdims=True) * dy).sum()), x)
    np.testing.assert_allclose(dx, g, atol=1e-8)


# ------------------------------------------------------------------------------ norms


def bn_ref(x, gamma, beta, eps):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * gamma.reshape(shape) + beta.reshape(shape), mean, var


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 4)])
def test_batch_norm_train(shape):
    r = rng(7)
    x = r.standard_normal(shape) * 3 + 10
    gamma = r.standard_normal(shape[1])
    beta = r.standard_normal(shape[1])
    y, mean, invstd, var_unb = norm.batch_norm_train_forward(x, gamma, beta, 1e-5, return_var=True)
    y_ref, mean_ref, var_ref = bn_ref(x, gamma, beta, 1e-5)
    np.testing.assert_allclose(y, y_ref, atol=1e-12)
    np.testing.assert_allclose(mean, mean_ref, atol=1e-12)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(var_ref + 1e-5), rtol=1e-12)
    m = x.size // shape[1]
    np.testing.assert_allclose(var_unb, var_ref * m / (m - 1), rtol=1e-12)
    assert len(norm.batch_norm_train_forward(x, gamma, beta, 1e-5)) == 3

    dy = r.standard_normal(shape)
    dx, dgamma, dbeta = norm.batch_norm_backward(dy, x, gamma, mean, invstd)

    def loss():
        return float((bn_ref(x, gamma, beta, 1e-5)[0] * dy).sum())

    np.testing.assert_allclose(dx, num_grad(loss, x), atol=1e-6)
    np.testing.assert_allclose(dgamma, num_grad(loss, gamma), atol=1e-6)
    np.testing.assert_allclose(dbeta, num_grad(loss, beta), atol=1e-6)


@pytest.mark.parametrize("offset", [0.0, 1e4, -1e6])
def test_batch_norm_statistics_hold_far_from_zero(offset):
    # one pass over deviations from a sample: a mean 1e8 standard deviations away from
    # zero must not cancel the variance away (float32 data, float64 sums)
    r = rng(9)
    x = (r.standard_normal((16, 4, 6, 6)) * 0.01 + offset).astype(np.float32)
    x[0, :, 0, 0] = offset + 0.05  # the sample the pass starts from, an outlier
    one = np.ones(4, np.float32)
    _, mean, invstd, var_unb = norm.batch_norm_train_forward(x, one, 0 * one, 1e-9, return_var=True)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(x64.var(axis=(0, 2, 3)) + 1e-9), rtol=1e-6)
    np.testing.assert_allclose(var_unb, x64.var(axis=(0, 2, 3), ddof=1), rtol=1e-6)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 4)])
def test_batch_norm_eval(shape):
    r = rng(8)
    x = r.standard_normal(shape)
    c = shape[1]
    rm, rv, gamma, beta = r.standard_normal(c), r.random(c) + 0.5, r.random(c), r.random(c)
    y = norm.batch_norm_eval_forward(x, rm, rv, gamma, beta, 1e-3)
    bshape = (1, -1) + (1,) * (len(shape) - 2)
    ref = (x - rm.reshape(bshape)) / np.sqrt(rv.reshape(bshape) + 1e-3) * gamma.reshape(
        bshape
    ) + beta.reshape(bshape)
    np.testing.assert_allclose(y, ref, atol=1e-12)


def ln_ref(x, gamma, beta, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta, mean, var


@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((2, 3, 4), 1), ((3, 2, 2, 3), 2)])
def test_layer_norm(shape, axis):
    r = rng(10)
    x = r.standard_normal(shape) + 5
    gshape = shape[axis % len(shape) :]
    gamma = r.standard_normal(gshape)
    beta = r.standard_normal(gshape)
    y, mean, invstd = norm.layer_norm_forward(x, gamma, beta, axis, 1e-5)
    y_ref, mean_ref, var_ref = ln_ref(x, gamma, beta, axis, 1e-5)
    np.testing.assert_allclose(y, y_ref, atol=1e-12)
    np.testing.assert_allclose(mean, mean_ref, atol=1e-12)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(var_ref + 1e-5), rtol=1e-12)
    dy = r.standard_normal(shape)
    dx, dgamma, dbeta = norm.layer_norm_backward(dy, x, gamma, mean, invstd, axis)
    assert dgamma.shape == gshape and dbeta.shape == gshape

    def loss():
        return float((ln_ref(x, gamma, beta, axis, 1e-5)[0] * dy).sum())

    np.testing.assert_allclose(dx, num_grad(loss, x), atol=1e-6)
    np.testing.assert_allclose(dgamma, num_grad(loss, gamma), atol=1e-6)
    np.testing.assert_allclose(dbeta, num_grad(loss, beta), atol=1e-6)


# ---------------------------------------------------------------------------- softmax


def softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax(axis):
    r = rng(11)
    x = r.standard_normal((3, 4, 5)) * 3
    dy = r.standard_normal(x.shape)
    y = softmax.softmax_forward(x, axis)
    np.testing.assert_allclose(y, softmax_ref(x, axis), atol=1e-14)
    g = num_grad(lambda: float((softmax_ref(x, axis) * dy).sum()), x)
    np.testing.assert_allclose(softmax.softmax_backward(dy, y, axis), g, atol=1e-8)
    ly = softmax.log_softmax_forward(x, axis)
    np.testing.assert_allclose(ly, np.log(softmax_ref(x, axis)), atol=1e-12)
    g = num_grad(lambda: float((np.log(softmax_ref(x, axis)) * dy).sum()), x)
    np.testing.assert_allclose(softmax.log_softmax_backward(dy, ly, axis), g, atol=1e-7)


def test_softmax_large_logits():
    x = np.array([[1000.0, 999.0, -1000.0], [-50.0, -50.0, -50.0]])
    y = softmax.softmax_forward(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, softmax_ref(x, -1), atol=1e-15)
    ly = softmax.log_softmax_forward(x)
    assert np.isfinite(ly).all()


def sce_ref(x, labels, sparse):
    lp = np.log(softmax_ref(x, -1))
    if sparse:
        return -lp[np.arange(len(x)), labels]
    return -(labels * lp).sum(axis=1)


@pytest.mark.parametrize("sparse", [True, False])
def test_softmax_cross_entropy(sparse):
    r = rng(12)
    x = r.standard_normal((4, 5)) * 4
    if sparse:
        labels = np.array([0, 4, 2, 2], dtype=np.int32)
    else:
        labels = softmax_ref(r.standard_normal((4, 5)), -1)
    loss, probs = softmax.softmax_cross_entropy_forward(x, labels, sparse)
    np.testing.assert_allclose(loss, sce_ref(x, labels, sparse), atol=1e-12)
    np.testing.assert_allclose(probs, softmax_ref(x, -1), atol=1e-14)
    dloss = r.standard_normal(4)
    dx = softmax.softmax_cross_entropy_backward(dloss, probs, labels, sparse)
    g = num_grad(lambda: float((sce_ref(x, labels, sparse) * dloss).sum()), x)
    np.testing.assert_allclose(dx, g, atol=1e-7)


def test_softmax_cross_entropy_extreme_logits_float32():
    x = np.array([[1e4, 0.0, -1e4]], dtype=np.float32)
    loss, probs = softmax.softmax_cross_entropy_forward(x, np.array([2], np.int64), True)
    assert loss.dtype == np.float32 and np.isfinite(loss).all()
    np.testing.assert_allclose(loss, [2e4], rtol=1e-6)
    loss, _ = softmax.softmax_cross_entropy_forward(
        np.array([[-np.inf, 0.0]]), np.array([[0.0, 1.0]]), False
    )
    assert loss[0] == 0.0  # a zero target on a -inf logit contributes nothing


# ---------------------------------------------------------------------------- dropout


def test_dropout():
    x = np.ones((200, 50))
    y, mask = dropout.dropout_forward(x, 0.3, seed=42)
    y2, mask2 = dropout.dropout_forward(x, 0.3, seed=42)
    assert mask.dtype == np.bool_ and np.array_equal(mask, mask2) and np.array_equal(y, y2)
    assert not np.array_equal(mask, dropout.dropout_forward(x, 0.3, seed=43)[1])
    assert abs(mask.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y, np.where(mask, 1 / 0.7, 0.0))
    dy = rng(13).standard_normal(x.shape)
    np.testing.assert_allclose(dropout.dropout_backward(dy, mask, 0.3), np.where(mask, dy / 0.7, 0))
    assert np.array_equal(dropout.dropout_forward(x, 0.0, 1)[0], x)
    assert not dropout.dropout_forward(x, 1.0, 1)[0].any()


# ----------------------------------------------------------- NUMBA_DISABLE_JIT=1 run

_NOJIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from npukernel.kernels import conv, dropout, norm, pool, softmax

    def run():
        r = np.random.default_rng(0)
        x = r.standard_normal((2, 2, 4, 4))
        w = r.standard_normal((2, 2, 3, 3))
        out = {}
        for algo in ("im2col", "direct"):
            conv.conv2d_algo = lambda *a, _algo=algo, **k: _algo
            for args in (((1, 1), (1, 1, 1, 1), (1, 1), 1), ((1, 1), (0, 1, 1, 0), (1, 2), 2)):
                y, ctx = conv.conv2d_forward(x, w[:, : 2 // args[3]], *args)
                dx, dw = conv.conv2d_backward(y, x, w[:, : 2 // args[3]], ctx, *args)
                out[f"conv_{algo}_{args[3]}"] = np.concatenate([y.ravel(), dx.ravel(), dw.ravel()])
        y, idx = pool.max_pool2d_forward(x, (3, 3), (2, 2), (1, 1))
        out["max"] = np.concatenate([y.ravel(), pool.max_pool2d_backward(y, idx, x.shape).ravel()])
        y = pool.avg_pool2d_forward(x, (3, 3), (2, 2), (1, 1), False)
        out["avg"] = np.concatenate(
            [y.ravel(), pool.avg_pool2d_backward(y, x.shape, (3, 3), (2, 2), (1, 1), False).ravel()]
        )
        g = pool.global_avg_pool_forward(x)
        out["gap"] = np.concatenate([g.ravel(), pool.global_avg_pool_backward(g, x.shape).ravel()])
        for shape in ((4, 3), (2, 2, 4, 4)):
            xs = x.reshape(shape) if len(shape) == 4 else x.reshape(-1)[:12].reshape(shape)
            c = shape[1]
            y, m, s = norm.batch_norm_train_forward(xs, np.ones(c), np.zeros(c), 1e-5)
            res = [y.ravel(), *norm.batch_norm_backward(y, xs, np.ones(c) * 2, m, s)]
            res.append(norm.batch_norm_eval_forward(xs, m, 1 / s**2, np.ones(c), np.zeros(c), 0.0))
            out[f"bn{len(shape)}"] = np.concatenate([a.ravel() for a in res])
        y, m, s = norm.layer_norm_forward(x, np.ones((4, 4)), np.zeros((4, 4)), 2, 1e-5)
        res = [y, *norm.layer_norm_backward(y, x, np.ones((4, 4)), m, s, 2)]
        out["ln"] = np.concatenate([a.ravel() for a in res])
        y = softmax.softmax_forward(x, 1)
        ly = softmax.log_softmax_forward(x, 1)
        out["sm"] = np.concatenate(
            [y.ravel(), softmax.softmax_backward(x, y, 1).ravel(),
             ly.ravel(), softmax.log_softmax_backward(x, ly, 1).ravel()]
        )
        lg = x.reshape(16, 4)
        for sparse, lab in ((True, np.arange(16) % 4), (False, softmax.softmax_forward(lg))):
            loss, p = softmax.softmax_cross_entropy_forward(lg, lab, sparse)
            d = softmax.softmax_cross_entropy_backward(loss, p, lab, sparse)
            out[f"sce{sparse}"] = np.concatenate([loss, p.ravel(), d.ravel()])
        y, mask = dropout.dropout_forward(x, 0.5, 7)
        out["drop"] = np.concatenate([y.ravel(), dropout.dropout_backward(x, mask, 0.5).ravel()])
        return out

    if __name__ == "__main__":
        np.savez(sys.argv[1], **run())
    """
)


def test_kernels_run_without_jit(tmp_path):
    script = tmp_path / "nojit.py"
    script.write_text(_NOJIT_SCRIPT)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(ROOT))
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "nojit.npz")], env=env, check=True, timeout=120
    )
    nojit = np.load(tmp_path / "nojit.npz")
    ns = {"__name__": "jitted"}
    exec(compile(_NOJIT_SCRIPT, "nojit", "exec"), ns)
    saved = conv.conv2d_algo
    try:
        jitted = ns["run"]()
    finally:
        conv.conv2d_algo = saved
    assert set(jitted) == set(nojit.files)
    for k, v in jitted.items():
        np.testing.assert_allclose(v, nojit[k], rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("rows", [64, 512])  # serial below PARALLEL_MIN_SIZE, parallel above
def test_cross_entropy_serial_and_parallel_paths_agree_with_numpy(rows):
    from npukernel.kernels import softmax as sm

    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 512)).astype(np.float32)
    labels = rng.integers(0, 512, rows)
    shifted = x - x.max(1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(1)) + x.max(1)
    ref = lse - x[np.arange(rows), labels]
    loss, probs = sm.softmax_cross_entropy_forward(x, labels, True)
    np.testing.assert_allclose(loss, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    dense, _ = sm.softmax_cross_entropy_forward(x, np.eye(512, dtype=np.float32)[labels], False)
    np.testing.assert_allclose(dense, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sm.softmax_forward(x), probs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("relu", [False, True])
def test_small_dense_keeps_nan_and_inf_as_blas_does(relu):
    # the one-call kernel reassociates its sums but must not assume finite values: a
    # diverging loss has to stay visible, as it is through BLAS
    from npukernel.kernels.dense import dense_small

    x = np.array([[np.nan, 1.0, 2.0], [np.inf, 1.0, 2.0], [1.0, 2.0, 3.0]], np.float32)
    w = np.array([[1.0, 1.0, 1.0], [0.5, -1.0, 2.0]], np.float32)
    b = np.array([0.25, -4.0], np.float32)
    with np.errstate(invalid="ignore"):
        want = x @ w.T + b
        want = np.maximum(want, 0) if relu else want
    got = dense_small(x, w, b, relu)
    np.testing.assert_allclose(got, want, rtol=1e-6)  # NaN where NaN, inf where inf
    assert np.isnan(got[0]).all() and np.isinf(got[1]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("bias", ["none", "contiguous", "strided"])
def test_bias_act_matches_numpy_add_and_maximum(dtype, relu, bias):
    # the bias and ReLU after a BLAS dense layer: one pass in place, NaN kept as
    # np.maximum keeps it (a diverging loss stays visible)
    from npukernel.kernels.dense import bias_act

    rng = np.random.default_rng(3)
    y = rng.standard_normal((5, 7)).astype(dtype)
    y[1, 2] = np.nan
    b = {"none": np.empty(0, dtype), "contiguous": rng.standard_normal(7).astype(dtype),
         "strided": rng.standard_normal(14).astype(dtype)[::2]}[bias]  # fmt: skip
    want = y + b if b.size else y.copy()
    want = np.maximum(want, 0) if relu else want
    bias_act(y, b, relu)
    np.testing.assert_array_equal(y, want)
    assert np.isnan(y[1, 2])


def test_dense_layer_on_blas_applies_bias_and_relu():
    # past _SMALL_MACS the product is BLAS's and bias_act does the rest
    from npukernel.ops.linalg import _dense_npu

    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 120)).astype(np.float32)
    w = rng.standard_normal((84, 120)).astype(np.float32)
    b = rng.standard_normal(84).astype(np.float32)
    want = x.astype(np.float64) @ w.T.astype(np.float64) + b
    np.testing.assert_allclose(_dense_npu(x, w, b, relu=True), np.maximum(want, 0), rtol=1e-4,
                               atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(_dense_npu(x, w, b), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_dense_npu(x, w, relu=True), np.maximum(want - b, 0), rtol=1e-4,
                               atol=1e-4)  # fmt: skip
