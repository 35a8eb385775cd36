"""Convolution and pooling: the Cube's and the Vector unit's image work.

``conv2d`` runs im2col + GEMM or a direct kernel (``kernels/conv.py`` picks per shape);
its backward is one more registered operator, ``conv2d_backward``, so gradients are
profiled and costed like any launch. The ``cpu`` references below are written with plain
numpy slicing and ``einsum``: slow, obvious and independent of the kernels they check.
"""

from __future__ import annotations

import functools

import numpy as np

from npukernel.errors import ShapeError
from npukernel.kernels import deferred, lazy
from npukernel.ops import functional as F
from npukernel.ops.dispatch import apply
from npukernel.ops.opdef import CONV, POOL, OpDef, register

ck = lazy("npukernel.kernels.conv")
pk = lazy("npukernel.kernels.pool")

# -- references ----------------------------------------------------------------------------


def _windows(xp, i, j, oh, ow, stride, dilation):
    sh, sw = stride
    dh, dw = dilation
    return xp[
        :, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw
    ]


def conv2d_ref(x, w, stride, padding, dilation, groups):
    """``y[n, o, r, q] = sum_{c, i, j} xpad[n, g*Cg + c, r*sh + i*dh, q*sw + j*dw] * w[o, c, i, j]``."""
    pt, pb, pl, pr = padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, oc = x.shape[0], w.shape[0]
    _, _, oh, ow = ck.conv2d_output_shape(x.shape, w.shape, stride, padding, dilation)
    cg, og = w.shape[1], oc // groups
    y = np.zeros((n, oc, oh, ow))
    for g in range(groups):
        xg = xp[:, g * cg : (g + 1) * cg]
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                patch = _windows(xg, i, j, oh, ow, stride, dilation)
                y[:, g * og : (g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j]
                )
    return y.astype(x.dtype)


def conv2d_backward_ref(dy, x, w, stride, padding, dilation, groups):
    """Gradients of :func:`conv2d_ref` by the same loops, transposed."""
    pt, pb, pl, pr = padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    oh, ow = dy.shape[2], dy.shape[3]
    cg, og = w.shape[1], w.shape[0] // groups
    for g in range(groups):
        cs, os_ = slice(g * cg, (g + 1) * cg), slice(g * og, (g + 1) * og)
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                patch = _windows(xp[:, cs], i, j, oh, ow, stride, dilation)
                dw[os_, :, i, j] = np.einsum("nohw,nchw->oc", dy[:, os_], patch)
                dpatch = _windows(dxp[:, cs], i, j, oh, ow, stride, dilation)
                dpatch += np.einsum("nohw,oc->nchw", dy[:, os_], w[os_, :, i, j])
    dx = dxp[:, :, pt : pt + x.shape[2], pl : pl + x.shape[3]]
    return dx.astype(x.dtype), dw.astype(x.dtype)


# -- conv2d --------------------------------------------------------------------------------


def _conv_npu(x, w, stride, padding, dilation, groups):
    return ck.conv2d_forward(x, w, stride, padding, dilation, groups)


def _conv_cpu(x, w, stride, padding, dilation, groups):
    return conv2d_ref(x, w, stride, padding, dilation, groups), None


def _conv_cost(inputs, outputs, attrs):
    x, w = inputs
    y = outputs[0]
    return 2 * y.size * w.shape[1] * w.shape[2] * w.shape[3], x.nbytes + w.nbytes + y.nbytes


def _conv_grad(n, dy):
    x, w = n.inputs
    a = n.attrs
    dx, dw = apply(OPS_BACKWARD, dy, x.detach(), w.detach(), ctx=n.saved, stride=a["stride"],
                   padding=a["padding"], dilation=a["dilation"], groups=a["groups"],
                   need_dx=x.requires_grad, need_dw=w.requires_grad)  # fmt: skip
    return (dx if x.requires_grad else None), (dw if w.requires_grad else None)


def _conv_bwd_npu(dy, x, w, ctx, stride, padding, dilation, groups, need_dx, need_dw):
    dx, dw = ck.conv2d_backward(dy, x, w, ctx, stride, padding, dilation, groups, need_dx, need_dw)
    return (dx if dx is not None else np.empty(0, x.dtype)), (
        dw if dw is not None else np.empty(0, x.dtype)
    )


def _conv_bwd_cpu(dy, x, w, ctx, stride, padding, dilation, groups, need_dx, need_dw):
    return conv2d_backward_ref(dy, x, w, stride, padding, dilation, groups)


def _conv_bwd_cost(inputs, outputs, attrs):
    dy, x, w = inputs
    n = int(attrs["need_dx"]) + int(attrs["need_dw"])
    return 2 * n * dy.size * w.shape[1] * w.shape[2] * w.shape[3], sum(
        a.nbytes for a in inputs + list(outputs)
    )


OPS_BACKWARD = register(OpDef("conv2d_backward", CONV, _conv_bwd_npu, _conv_bwd_cpu, n_outputs=2,
                              cost=_conv_bwd_cost, doc="Gradients of conv2d (dx, dw)."))  # fmt: skip


def _conv_examples(rng):
    def case(n, c, h, w, oc, k, **attrs):
        a = {"stride": (1, 1), "padding": (0, 0, 0, 0), "dilation": (1, 1), "groups": 1} | attrs
        g = a["groups"]
        return ([rng.standard_normal((n, c, h, w)), rng.standard_normal((oc, c // g, k, k))], a)

    return [
        case(2, 3, 6, 6, 4, 3),
        case(1, 2, 7, 5, 3, 3, stride=(2, 1), padding=(1, 0, 2, 1)),
        case(2, 4, 6, 6, 4, 3, groups=2, dilation=(2, 1)),
        case(1, 4, 5, 5, 4, 3, groups=4, padding=(1, 1, 1, 1)),  # depthwise
        case(2, 3, 4, 4, 5, 1),  # 1x1
        case(2, 3, 6, 5, 4, 1, stride=(2, 2)),  # 1x1 strided (a ResNet shortcut)
    ]


def _conv_bad():
    base = {"stride": (1, 1), "padding": (0, 0, 0, 0), "dilation": (1, 1), "groups": 1}
    return [
        ([np.ones((1, 28, 28)), np.ones((6, 1, 5, 5))], base, ShapeError),
        ([np.ones((1, 3, 8, 8)), np.ones((6, 2, 3, 3))], base, ShapeError),
        ([np.ones((1, 1, 2, 2)), np.ones((6, 1, 5, 5))], base, ShapeError),
    ]


def _conv_check(x, w, stride, padding, dilation, groups):
    from npukernel.ops.nn_check import check_conv2d

    return check_conv2d(x, w, stride, padding, dilation, groups)


def _conv_specialize(relu: bool | None, affine: bool = False, pool: bool = False,
                     batch_norm: bool = False):  # noqa: ANN202 # fmt: skip
    """``OpDef.specialize`` for the convolutions: a batch-1-sized one skips its plan lookup.

    ``relu=None`` reads the ``relu`` attribute. A non-contiguous operand at run time
    (a view from a graph input) takes the general kernel. With ``pool`` (conv2d_maxpool)
    the per-channel ``scale, shift`` are optional; with ``batch_norm`` (conv2d_bn) they
    are ``gamma, beta, mean, var``.
    """

    def specialize(shapes, dtypes, attrs):  # noqa: ANN001, ANN202
        if dtypes[0] not in ("float32", "float64") or any(d != dtypes[0] for d in dtypes):
            return None
        a = attrs
        plan = ck.small_plan(shapes[0], shapes[1], a["stride"], a["padding"], a["dilation"],
                             a["groups"], dtypes[0], fused=affine or pool)  # fmt: skip
        if plan is None:
            return None
        fused = a["relu"] if relu is None else relu
        if batch_norm:
            return ck.small_runner(plan, np.dtype(dtypes[0]), fused, pool, a["eps"],
                                   functools.partial(_conv_bn_npu, **a))  # fmt: skip
        if affine:
            return ck.small_runner(plan, np.dtype(dtypes[0]), fused, pool,
                                   fallback=functools.partial(_conv_affine_npu, **a))  # fmt: skip
        if pool:
            return ck.small_runner(plan, np.dtype(dtypes[0]), fused, pool,
                                   fallback=functools.partial(_conv_pool_npu, **a))  # fmt: skip
        general = _conv_relu_npu if fused else _conv_npu
        small_conv = ck.small_conv

        def run(x, w):  # noqa: ANN001, ANN202
            if x.flags.c_contiguous and w.flags.c_contiguous:
                return small_conv(plan, x, w, fused)
            return general(x, w, **a)

        return run

    return specialize


register(OpDef("conv2d", CONV, _conv_npu, _conv_cpu, check=_conv_check, grad=_conv_grad, saves=True,
               cost=_conv_cost, examples=_conv_examples, bad=_conv_bad,
               specialize=_conv_specialize(False),
               doc="2-D convolution (NCHW), stride/padding/dilation/groups."))  # fmt: skip


def _conv_relu_npu(x, w, stride, padding, dilation, groups):
    return ck.conv2d_forward(x, w, stride, padding, dilation, groups, relu=True)


def _conv_relu_cpu(x, w, stride, padding, dilation, groups):
    y, ctx = _conv_cpu(x, w, stride, padding, dilation, groups)
    return np.maximum(y, 0), ctx


def _conv_relu_grad(n, dy):
    # relu(z) > 0 exactly where z > 0, so the output stands in for the convolution's
    return _conv_grad(n, F.relu_grad(n.output(0), dy))


register(OpDef("conv2d_relu", CONV, _conv_relu_npu, _conv_relu_cpu, check=_conv_check,
               grad=_conv_relu_grad, saves=True, cost=_conv_cost, examples=_conv_examples,
               specialize=_conv_specialize(True),
               doc="relu(conv2d(x, w)) in one pass; graph mode fuses the pair into it."))  # fmt: skip


def _conv_affine_cost(inputs, outputs, attrs):
    return _conv_cost(inputs[:2], outputs, attrs)


def _check_epilogue(op: str, x, w, attrs: dict, channels: dict, residual: tuple) -> None:  # noqa: ANN001
    """Raise ShapeError unless the epilogue's operands fit the convolution's output.

    Each per-channel operand must hold one value per output channel and the residual
    have the output's shape: the kernels index them by the output's positions.
    """
    oc = w.shape[0]
    for name, v in channels.items():
        if v.size != oc or v.ndim not in (1, 4) or (v.ndim == 4 and v.shape[1] != oc):
            raise ShapeError(
                f"For '{op}', '{name}' must hold one value per output channel, shape ({oc},) "
                f"or (1, {oc}, 1, 1), but got {v.shape}."
            )
    if residual:
        a = attrs
        want = ck.conv2d_output_shape(x.shape, w.shape, a["stride"], a["padding"], a["dilation"])
        if tuple(residual[0].shape) != tuple(want):
            raise ShapeError(
                f"For '{op}', 'residual' must have the convolution's output shape {tuple(want)}, "
                f"but got {tuple(residual[0].shape)}."
            )


def _conv_affine_check(x, w, scale, shift, *residual, stride, padding, dilation, groups, relu):
    attrs = _conv_check(x, w, stride, padding, dilation, groups)
    op = "conv2d_affine_add" if residual else "conv2d_affine"
    _check_epilogue(op, x, w, attrs, {"scale": scale, "shift": shift}, residual)
    return attrs | {"relu": bool(relu)}


def _conv_affine_npu(x, w, scale, shift, *residual, stride, padding, dilation, groups, relu):
    res = residual[0] if residual else None
    return ck.conv2d_forward(x, w, stride, padding, dilation, groups, relu, scale, shift, res)[0]


def _conv_affine_cpu(x, w, scale, shift, *residual, stride, padding, dilation, groups, relu):
    y = conv2d_ref(x, w, stride, padding, dilation, groups).astype(np.float64)
    y = y * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)
    if residual:
        y = y + residual[0]
    return (np.maximum(y, 0) if relu else y).astype(x.dtype)


def _conv_affine_examples(rng, residual=False):
    out = []
    for (x, w), attrs in _conv_examples(rng):
        y = conv2d_ref(x, w, **attrs)
        c = (1, w.shape[0], 1, 1)
        extra = [rng.standard_normal(y.shape)] if residual else []
        for relu in (False, True):
            ins = [x, w, rng.standard_normal(c), rng.standard_normal(c), *extra]
            out.append((ins, attrs | {"relu": relu}))
    return out


def _conv_affine_bad(residual=False):
    base = {"stride": (1, 1), "padding": (0, 0, 0, 0), "dilation": (1, 1), "groups": 1,
            "relu": False}  # fmt: skip
    x, w, c4 = np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), np.ones(4)
    if residual:
        return [([x, w, c4, c4, np.ones((1, 4, 2, 2))], base, ShapeError)]
    return [
        ([x, w, np.ones(2), c4], base, ShapeError),
        ([x, w, c4, np.ones((1, 2, 2, 1))], base, ShapeError),
    ]


register(OpDef("conv2d_affine", CONV, _conv_affine_npu, _conv_affine_cpu, check=_conv_affine_check,
               cost=_conv_affine_cost, examples=_conv_affine_examples, bad=_conv_affine_bad,
               specialize=_conv_specialize(None, affine=True),
               doc="relu?(conv2d(x, w) * scale + shift): graph mode folds an inference BatchNorm "
                   "(and a ReLU) into the convolution."))  # fmt: skip
register(OpDef("conv2d_affine_add", CONV, _conv_affine_npu, _conv_affine_cpu, check=_conv_affine_check,
               cost=_conv_affine_cost, examples=lambda rng: _conv_affine_examples(rng, residual=True),
               bad=lambda: _conv_affine_bad(residual=True),
               specialize=_conv_specialize(None, affine=True),
               doc="relu?(conv2d(x, w) * scale + shift + residual), the end of a residual block."))  # fmt: skip


# -- convolution + inference BatchNorm: the fold computed inside the kernel --------------------


def _conv_bn_check(x, w, gamma, beta, mean, var, *residual, stride, padding, dilation, groups,
                   relu, eps):  # fmt: skip
    attrs = _conv_check(x, w, stride, padding, dilation, groups)
    op = "conv2d_bn_add" if residual else "conv2d_bn"
    stats = {"gamma": gamma, "beta": beta, "mean": mean, "var": var}
    _check_epilogue(op, x, w, attrs, stats, residual)
    return attrs | {"relu": bool(relu), "eps": float(eps)}


def _conv_bn_npu(x, w, gamma, beta, mean, var, *residual, stride, padding, dilation, groups,
                 relu, eps):  # fmt: skip
    scale, shift = ck.batch_norm_affine(gamma, beta, mean, var, eps)
    return _conv_affine_npu(x, w, scale, shift, *residual, stride=stride, padding=padding,
                            dilation=dilation, groups=groups, relu=relu)  # fmt: skip


def _conv_bn_cpu(x, w, gamma, beta, mean, var, *residual, stride, padding, dilation, groups,
                 relu, eps):  # fmt: skip
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    shift = beta - mean * scale
    return _conv_affine_cpu(x, w, scale, shift, *residual, stride=stride, padding=padding,
                            dilation=dilation, groups=groups, relu=relu)  # fmt: skip


def _conv_bn_examples(rng, residual=False):
    out = []
    for ins, attrs in _conv_affine_examples(rng, residual):
        oc = ins[1].shape[0]
        gamma, beta, mean = (rng.standard_normal(oc) for _ in range(3))
        var = rng.uniform(0.5, 2.0, oc)
        out.append(([ins[0], ins[1], gamma, beta, mean, var, *ins[4:]], attrs | {"eps": 1e-5}))
    return out


def _conv_bn_bad(residual=False):
    base = {"stride": (1, 1), "padding": (0, 0, 0, 0), "dilation": (1, 1), "groups": 1,
            "relu": False, "eps": 1e-5}  # fmt: skip
    x, w, c4, c3 = np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), np.ones(4), np.ones(3)
    if residual:
        return [
            ([x, w, c4, c4, c4, c4, np.ones((1, 4, 8, 8))], base, ShapeError),  # not 6x6
            ([x, w, c4, c4, c3, c4, np.ones((1, 4, 6, 6))], base, ShapeError),
        ]
    return [([x, w, c4, c4, c3, c4], base, ShapeError)]


register(OpDef("conv2d_bn", CONV, _conv_bn_npu, _conv_bn_cpu, check=_conv_bn_check,
               cost=_conv_affine_cost, examples=_conv_bn_examples, bad=_conv_bn_bad,
               specialize=_conv_specialize(None, affine=True, batch_norm=True),
               doc="relu?(batch_norm(conv2d(x, w), gamma, beta, mean, var, eps)) with the "
                   "BatchNorm's fold computed inside the kernel (graph mode, inference)."))  # fmt: skip
register(OpDef("conv2d_bn_add", CONV, _conv_bn_npu, _conv_bn_cpu, check=_conv_bn_check,
               cost=_conv_affine_cost, examples=lambda rng: _conv_bn_examples(rng, residual=True),
               bad=lambda: _conv_bn_bad(residual=True),
               specialize=_conv_specialize(None, affine=True, batch_norm=True),
               doc="relu?(batch_norm(conv2d(x, w), ...) + residual), the end of a residual "
                   "block, the BatchNorm folded inside the kernel."))  # fmt: skip

# -- convolution + 2x2 max pooling: graph mode fuses a LeNet-style pair ---------------------

_POOL2 = {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0)}


def _conv_pool_check(x, w, *affine, stride, padding, dilation, groups, relu):
    attrs = _conv_check(x, w, stride, padding, dilation, groups)
    _check_epilogue("conv2d_maxpool", x, w, attrs, dict(zip(("scale", "shift"), affine)), ())
    attrs = attrs | {"relu": bool(relu)}
    oh, ow = ck.conv2d_output_shape(x.shape, w.shape, stride, padding, dilation)[2:]
    if oh < 2 or ow < 2:
        raise ShapeError(
            f"For 'conv2d_maxpool', the convolution's output must be at least 2x2 to pool, "
            f"but got {oh}x{ow}."
        )
    return attrs


def _conv_pool_npu(x, w, *affine, stride, padding, dilation, groups, relu):
    scale, shift = affine if affine else (None, None)
    return ck.conv2d_forward(x, w, stride, padding, dilation, groups, relu, scale, shift,
                             pool=True)[0]  # fmt: skip


def _conv_pool_cpu(x, w, *affine, stride, padding, dilation, groups, relu):
    y = conv2d_ref(x, w, stride, padding, dilation, groups).astype(np.float64)
    if affine:
        y = y * affine[0].reshape(1, -1, 1, 1) + affine[1].reshape(1, -1, 1, 1)
    y = np.maximum(y, 0) if relu else y
    return max_pool2d_ref(y, **_POOL2)[0].astype(x.dtype)


def _conv_pool_examples(rng):
    out = []
    for (x, w), attrs in _conv_examples(rng):
        if min(conv2d_ref(x, w, **attrs).shape[2:]) < 2:
            continue
        c = w.shape[0]
        out.append(([x, w], attrs | {"relu": True}))
        out.append(
            ([x, w, rng.standard_normal(c), rng.standard_normal(c)], attrs | {"relu": False})
        )
    return out


def _conv_pool_bad():
    base = {
        "stride": (1, 1),
        "padding": (0, 0, 0, 0),
        "dilation": (1, 1),
        "groups": 1,
        "relu": True,
    }
    return [
        ([np.ones((1, 1, 5, 5)), np.ones((2, 1, 5, 5))], base, ShapeError),  # 1x1: nothing to pool
        ([np.ones((1, 28, 28)), np.ones((6, 1, 5, 5))], base, ShapeError),
        ([np.ones((1, 1, 8, 8)), np.ones((2, 1, 3, 3)), np.ones(3), np.ones(2)], base, ShapeError),
    ]


register(OpDef("conv2d_maxpool", CONV, _conv_pool_npu, _conv_pool_cpu, check=_conv_pool_check,
               cost=_conv_affine_cost, examples=_conv_pool_examples, bad=_conv_pool_bad,
               specialize=_conv_specialize(None, affine=True, pool=True),
               doc="max_pool2d(relu?(conv2d(x, w) [* scale + shift]), 2, 2): graph mode fuses "
                   "a 2x2 max pooling into the convolution before it (LeNet-5), so the "
                   "convolution's output never leaves the cache."))  # fmt: skip


# -- pooling -------------------------------------------------------------------------------


def max_pool2d_ref(x, kernel, stride, padding):
    """``y[n, c, r, q] = max_{i, j} xpad[n, c, r*sh + i, q*sw + j]`` (padding is -inf)."""
    ph, pw = padding
    h, w = x.shape[2], x.shape[3]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    pos = np.pad(np.arange(h * w).reshape(h, w), ((ph, ph), (pw, pw)), constant_values=-1)
    _, _, oh, ow = pk.pool2d_output_shape(x.shape, kernel, stride, padding)
    y = np.full(x.shape[:2] + (oh, ow), -np.inf)
    idx = np.full(y.shape, -1, np.int64)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            v = _windows(xp, i, j, oh, ow, stride, (1, 1))
            p = pos[
                i : i + stride[0] * (oh - 1) + 1 : stride[0],
                j : j + stride[1] * (ow - 1) + 1 : stride[1],
            ]
            better = v > y
            y = np.where(better, v, y)
            idx = np.where(better, p, idx)
    return y.astype(x.dtype), idx


def _max_pool_back_ref(dy, idx, x_shape):
    n, c, h, w = x_shape
    dx = np.zeros((n * c, h * w), dy.dtype)
    flat_idx = idx.reshape(n * c, -1)
    rows = np.repeat(np.arange(n * c), flat_idx.shape[1]).reshape(flat_idx.shape)
    ok = flat_idx >= 0
    np.add.at(dx, (rows[ok], flat_idx[ok]), dy.reshape(n * c, -1)[ok])
    return dx.reshape(x_shape)


def _max_pool_grad(n, dy):
    return (apply(MAXPOOL_BACKWARD, dy, idx=n.saved, x_shape=n.inputs[0].shape),)


def _max_pool_back_npu(dy, idx, x_shape):
    return pk.max_pool2d_backward(dy, idx, x_shape)


MAXPOOL_BACKWARD = register(OpDef("max_pool2d_backward", POOL, _max_pool_back_npu, _max_pool_back_ref,
                                  doc="Gradient of max_pool2d."))  # fmt: skip


def _pool_check(name):
    def check(x, kernel, stride, padding, **extra):
        from npukernel.ops.nn_check import check_pool2d

        return check_pool2d(name, x, kernel, stride, padding) | extra

    return check


def _pool_examples(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    return [
        ([x], {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0)}),
        ([x], {"kernel": (3, 3), "stride": (2, 1), "padding": (1, 1)}),
        ([x.transpose(0, 1, 3, 2)], {"kernel": (3, 2), "stride": (1, 2), "padding": (0, 1)}),
    ]


register(OpDef("max_pool2d", POOL, deferred(pk, "max_pool2d_forward"), max_pool2d_ref, check=_pool_check("max_pool2d"),
               grad=_max_pool_grad, saves=True, examples=_pool_examples,
               doc="2-D max pooling."))  # fmt: skip
register(OpDef("max_pool2d_values", POOL, deferred(pk, "max_pool2d_values"),
               lambda x, kernel, stride, padding: max_pool2d_ref(x, kernel, stride, padding)[0],
               check=_pool_check("max_pool2d"), examples=_pool_examples,
               doc="max_pool2d without the argmax; graph mode runs it when no gradient needs it."))  # fmt: skip


def avg_pool2d_ref(x, kernel, stride, padding, count_include_pad=True):
    """``y[n, c, r, q] = mean_{i, j} xpad[n, c, r*sh + i, q*sw + j]``."""
    ph, pw = padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ones = np.pad(np.ones(x.shape[2:]), ((ph, ph), (pw, pw)))[None, None]
    _, _, oh, ow = pk.pool2d_output_shape(x.shape, kernel, stride, padding)
    s = np.zeros(x.shape[:2] + (oh, ow))
    cnt = np.zeros((1, 1, oh, ow))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            s += _windows(xp, i, j, oh, ow, stride, (1, 1))
            cnt += _windows(ones, i, j, oh, ow, stride, (1, 1))
    div = kernel[0] * kernel[1] if count_include_pad else cnt
    return (s / div).astype(x.dtype)


def _avg_grad(n, dy):
    a = n.attrs
    return (apply(AVGPOOL_BACKWARD, dy, x_shape=n.inputs[0].shape, kernel=a["kernel"], stride=a["stride"],
                  padding=a["padding"], count_include_pad=a["count_include_pad"]),)  # fmt: skip


def _avg_back_ref(dy, x_shape, kernel, stride, padding, count_include_pad):
    ph, pw = padding
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    ones = np.pad(np.ones((h, w)), ((ph, ph), (pw, pw)))[None, None]
    oh, ow = dy.shape[2], dy.shape[3]
    cnt = np.zeros((1, 1, oh, ow))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            cnt += _windows(ones, i, j, oh, ow, stride, (1, 1))
    g = dy / (kernel[0] * kernel[1] if count_include_pad else cnt)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            _windows(dxp, i, j, oh, ow, stride, (1, 1))[...] += g
    return dxp[:, :, ph : ph + h, pw : pw + w].astype(dy.dtype)


AVGPOOL_BACKWARD = register(OpDef("avg_pool2d_backward", POOL, deferred(pk, "avg_pool2d_backward"), _avg_back_ref,
                                  doc="Gradient of avg_pool2d."))  # fmt: skip

register(OpDef("avg_pool2d", POOL, deferred(pk, "avg_pool2d_forward"), avg_pool2d_ref, check=_pool_check("avg_pool2d"),
               grad=_avg_grad,
               examples=lambda r: [(a, k | {"count_include_pad": c}) for (a, k), c in
                                   zip(_pool_examples(r), (True, False, True))],
               doc="2-D average pooling."))  # fmt: skip
