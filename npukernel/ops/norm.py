"""Normalisation operators: batch norm (training and inference) and layer norm.

The ``npu`` kernels fuse statistics and normalisation (``kernels/norm.py``); their
backward passes are registered operators too. The ``cpu`` references are the textbook
formulas in float64.
"""

from __future__ import annotations

import numpy as np

from npukernel.errors import ShapeError, ValueRangeError
from npukernel.kernels import deferred, lazy
from npukernel.ops import functional as F
from npukernel.ops.dispatch import apply
from npukernel.ops.nn_check import float_input
from npukernel.ops.opdef import NORM, OpDef, register

nk = lazy("npukernel.kernels.norm")


def _bn_axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _bn_shape(x):
    return (1, -1) if x.ndim == 2 else (1, -1, 1, 1)


def _bn_check(x, gamma, beta, eps):
    if x.ndim not in (2, 4):
        raise ShapeError(
            f"For 'batch_norm', 'x' must be 2-D (N, C) or 4-D (N, C, H, W), but got shape {x.shape}."
        )
    float_input("batch_norm", "x", x)
    c = x.shape[1]
    for name, p in (("weight", gamma), ("bias", beta)):
        if p.shape != (c,):
            raise ShapeError(
                f"For 'batch_norm', '{name}' must have shape ({c},), but got {p.shape}."
            )
    if x.size == 0 or x.size // c < 2:
        raise ShapeError(
            f"For 'batch_norm', training needs more than one value per channel, but got shape {x.shape}."
        )
    if not eps > 0:
        raise ValueRangeError(f"For 'batch_norm', 'eps' must be positive, but got {eps!r}.")
    return {"eps": float(eps)}


def _bn_train_npu(x, gamma, beta, eps):
    y, mean, invstd, var_u = nk.batch_norm_train_forward(x, gamma, beta, eps, return_var=True)
    return (y, mean, var_u), (mean, invstd)


def _bn_train_cpu(x, gamma, beta, eps):
    axes, shp = _bn_axes(x), _bn_shape(x)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes)
    var = x64.var(axis=axes)
    n = x.size // x.shape[1]
    invstd = 1.0 / np.sqrt(var + eps)
    y = (x64 - mean.reshape(shp)) * (invstd * gamma).reshape(shp) + beta.reshape(shp)
    dt = x.dtype
    return (y.astype(dt), mean.astype(dt), (var * n / (n - 1)).astype(dt)), (
        mean.astype(dt),
        invstd.astype(dt),
    )


def _bn_back_cpu(dy, x, gamma, mean, invstd):
    axes, shp = _bn_axes(x), _bn_shape(x)
    n = x.size // x.shape[1]
    xhat = (x.astype(np.float64) - mean.reshape(shp)) * invstd.reshape(shp)
    dbeta = dy.sum(axis=axes, dtype=np.float64)
    dgamma = (dy * xhat).sum(axis=axes)
    dx = (
        (gamma * invstd).reshape(shp)
        / n
        * (n * dy - dbeta.reshape(shp) - xhat * dgamma.reshape(shp))
    )
    return dx.astype(x.dtype), dgamma.astype(x.dtype), dbeta.astype(x.dtype)


def _bn_back_npu(dy, x, gamma, mean, invstd):
    return nk.batch_norm_backward(dy, x, gamma, mean, invstd)


BN_BACKWARD = register(OpDef("batch_norm_backward", NORM, _bn_back_npu, _bn_back_cpu, n_outputs=3,
                             doc="Gradients of batch_norm in training mode."))  # fmt: skip


def _bn_train_grad(n, dy, dmean=None, dvar=None):
    x, gamma, _ = n.inputs
    if dy is None:
        dy = F.zeros_like(n.output(0))
    return _bn_grads(n, x, gamma, dy, dmean, dvar)


def _bn_grads(n, x, gamma, dy, dmean, dvar):
    """``(dx, dgamma, dbeta)`` of a training BatchNorm node ``n``, given ``dy`` of its result."""
    mean, invstd = n.saved
    dx, dgamma, dbeta = apply(BN_BACKWARD, dy, x.detach(), gamma.detach(), mean=mean, invstd=invstd)
    if dmean is not None or dvar is not None:  # the statistics outputs were used too
        shp, count = _bn_shape(x), x.size // x.shape[1]
        if dmean is not None:
            dx = dx + F.reshape(dmean, shp) * (1.0 / count)
        if dvar is not None:
            centred = x.detach() - F.reshape(n.output(1), shp)
            dx = dx + centred * F.reshape(dvar, shp) * (2.0 / (count - 1))
    return dx, dgamma, dbeta


def _bn_train_relu_npu(x, gamma, beta, eps):
    y, mean, invstd, var_u = nk.batch_norm_train_forward(
        x, gamma, beta, eps, return_var=True, relu=True
    )
    return (y, mean, var_u), (mean, invstd)


def _bn_train_relu_cpu(x, gamma, beta, eps):
    (y, mean, var_u), saved = _bn_train_cpu(x, gamma, beta, eps)
    return (np.maximum(y, 0), mean, var_u), saved


def _bn_train_relu_grad(n, dy, dmean=None, dvar=None):
    # relu(z) > 0 exactly where z > 0, so the output stands in for the BatchNorm result
    if dy is not None:
        dy = F.relu_grad(n.output(0), dy)
    return _bn_train_grad(n, dy, dmean, dvar)


def _bn_examples(rng):
    return [
        (
            [rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)],
            {"eps": 1e-5},
        ),
        (
            [rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal(4)],
            {"eps": 1e-3},
        ),
    ]


register(OpDef("batch_norm_train", NORM, _bn_train_npu, _bn_train_cpu, check=_bn_check, grad=_bn_train_grad,
               saves=True, n_outputs=3, examples=_bn_examples,
               bad=lambda: [([np.ones((2, 3, 4)), np.ones(3), np.ones(3)], {"eps": 1e-5}, ShapeError)],
               doc="Batch norm with batch statistics; also returns mean and unbiased variance."))  # fmt: skip


def _bn_eval_check(x, mean, var, gamma, beta, eps):
    _bn_check(np.empty((2,) + x.shape[1:], x.dtype) if x.ndim in (2, 4) else x, gamma, beta, eps)
    for name, p in (("running_mean", mean), ("running_var", var)):
        if p.shape != (x.shape[1],):
            raise ShapeError(
                f"For 'batch_norm', '{name}' must have shape ({x.shape[1]},), but got {p.shape}."
            )
    return {"eps": float(eps)}


def _bn_eval_cpu(x, mean, var, gamma, beta, eps):
    shp = _bn_shape(x)
    y = (
        (x.astype(np.float64) - mean.reshape(shp))
        / np.sqrt(var.reshape(shp) + eps)
        * gamma.reshape(shp)
    )
    return (y + beta.reshape(shp)).astype(x.dtype)


def _bn_eval_grad(n, dy):
    x, mean, var, gamma, _ = (n.input(i) for i in range(5))
    shp = _bn_shape(x)
    axes = _bn_axes(x)
    invstd = F.rsqrt(var + n.attrs["eps"])
    xhat = (x - F.reshape(mean, shp)) * F.reshape(invstd, shp)
    dx = dy * F.reshape(gamma * invstd, shp)
    return dx, None, None, F.sum(dy * xhat, axes), F.sum(dy, axes)


register(OpDef("batch_norm_eval", NORM, deferred(nk, "batch_norm_eval_forward"), _bn_eval_cpu, check=_bn_eval_check,
               grad=_bn_eval_grad, diff_inputs=(0, 3, 4),
               examples=lambda r: [([r.standard_normal((2, 3, 2, 2)), r.standard_normal(3),
                                     np.abs(r.standard_normal(3)) + 0.5, r.standard_normal(3),
                                     r.standard_normal(3)], {"eps": 1e-5})],
               doc="Batch norm with running statistics (inference)."))  # fmt: skip


# -- layer norm --------------------------------------------------------------------------------


def _ln_check(x, gamma, beta, begin_norm_axis, eps):
    float_input("layer_norm", "x", x)
    if (
        not isinstance(begin_norm_axis, (int, np.integer))
        or not -x.ndim <= begin_norm_axis < x.ndim
    ):
        raise ShapeError(
            f"For 'layer_norm', 'begin_norm_axis' must be in [{-x.ndim}, {x.ndim}), but got {begin_norm_axis!r}."
        )
    axis = int(begin_norm_axis) % x.ndim
    shape = x.shape[axis:]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.shape != shape:
            raise ShapeError(
                f"For 'layer_norm', '{name}' must have shape {shape}, but got {p.shape}."
            )
    if x.size == 0:
        raise ShapeError(f"For 'layer_norm', 'x' must not be empty, but got shape {x.shape}.")
    return {"begin_norm_axis": axis, "eps": float(eps)}


def _ln_cpu(x, gamma, beta, begin_norm_axis, eps):
    axes = tuple(range(begin_norm_axis, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    invstd = 1.0 / np.sqrt(x64.var(axis=axes, keepdims=True) + eps)
    y = (x64 - mean) * invstd * gamma + beta
    return y.astype(x.dtype), (mean.astype(x.dtype), invstd.astype(x.dtype))


def _ln_npu(x, gamma, beta, begin_norm_axis, eps):
    y, mean, invstd = nk.layer_norm_forward(x, gamma, beta, begin_norm_axis, eps)
    return y, (mean, invstd)


def _ln_back_cpu(dy, x, gamma, mean, invstd, begin_norm_axis):
    axes = tuple(range(begin_norm_axis, x.ndim))
    lead = tuple(range(begin_norm_axis))
    m = int(np.prod(x.shape[begin_norm_axis:]))
    mean = np.asarray(mean).reshape(x.shape[:begin_norm_axis] + (1,) * len(axes))
    invstd = np.asarray(invstd).reshape(mean.shape)
    xhat = (x.astype(np.float64) - mean) * invstd
    g = dy * gamma
    dx = (
        invstd
        / m
        * (
            m * g
            - g.sum(axis=axes, keepdims=True)
            - xhat * (g * xhat).sum(axis=axes, keepdims=True)
        )
    )
    return (
        dx.astype(x.dtype),
        (dy * xhat).sum(axis=lead).astype(x.dtype),
        dy.sum(axis=lead).astype(x.dtype),
    )


def _ln_back_npu(dy, x, gamma, mean, invstd, begin_norm_axis):
    return nk.layer_norm_backward(dy, x, gamma, mean, invstd, begin_norm_axis)


LN_BACKWARD = register(OpDef("layer_norm_backward", NORM, _ln_back_npu, _ln_back_cpu, n_outputs=3,
                             doc="Gradients of layer_norm."))  # fmt: skip


def _ln_grad(n, dy):
    x, gamma, _ = n.inputs
    mean, invstd = n.saved
    return apply(LN_BACKWARD, dy, x.detach(), gamma.detach(), mean=mean, invstd=invstd,
                 begin_norm_axis=n.attrs["begin_norm_axis"])  # fmt: skip


register(OpDef("layer_norm", NORM, _ln_npu, _ln_cpu, check=_ln_check, grad=_ln_grad, saves=True,
               examples=lambda r: [([r.standard_normal((3, 5)), r.standard_normal(5), r.standard_normal(5)],
                                    {"begin_norm_axis": -1, "eps": 1e-5}),
                                   ([r.standard_normal((2, 3, 4)), r.standard_normal((3, 4)),
                                     r.standard_normal((3, 4))], {"begin_norm_axis": 1, "eps": 1e-5})],
               bad=lambda: [([np.ones((2, 3)), np.ones(2), np.ones(2)], {"begin_norm_axis": 1, "eps": 1e-5},
                             ShapeError)],
               doc="Layer norm over the trailing axes."))  # fmt: skip
register(OpDef("batch_norm_train_relu", NORM, _bn_train_relu_npu, _bn_train_relu_cpu, check=_bn_check,
               grad=_bn_train_relu_grad, saves=True, n_outputs=3, examples=_bn_examples,
               doc="relu(batch_norm_train(x)) in one pass; graph mode fuses the pair into it."))  # fmt: skip


def _bn_add_relu_check(x, gamma, beta, residual, eps):
    if residual.shape != x.shape:
        raise ShapeError(
            f"For 'batch_norm', 'residual' must have the shape of 'x' {x.shape}, "
            f"but got {residual.shape}."
        )
    return _bn_check(x, gamma, beta, eps)


def _bn_add_relu_npu(x, gamma, beta, residual, eps):
    y, mean, invstd, var_u = nk.batch_norm_train_forward(
        x, gamma, beta, eps, return_var=True, relu=True, residual=residual
    )
    return (y, mean, var_u), (mean, invstd)


def _bn_add_relu_cpu(x, gamma, beta, residual, eps):
    (y, mean, var_u), saved = _bn_train_cpu(x, gamma, beta, eps)
    return (np.maximum(y + residual, 0).astype(x.dtype), mean, var_u), saved


def _bn_add_relu_grad(n, dy, dmean=None, dvar=None):
    # d(residual) is the ReLU's gradient itself; the BatchNorm part is as unfused
    x, gamma, _, _ = n.inputs
    dz = F.relu_grad(n.output(0), dy) if dy is not None else F.zeros_like(n.output(0))
    return (*_bn_grads(n, x, gamma, dz, dmean, dvar), dz)


def _bn_add_relu_examples(rng):
    return [
        ([*arrays[:3], rng.standard_normal(arrays[0].shape)], attrs)
        for arrays, attrs in _bn_examples(rng)
    ]


register(OpDef("batch_norm_train_add_relu", NORM, _bn_add_relu_npu, _bn_add_relu_cpu,
               check=_bn_add_relu_check, grad=_bn_add_relu_grad, saves=True, n_outputs=3,
               examples=_bn_add_relu_examples,
               doc="relu(batch_norm_train(x) + residual) in one pass: the end of a ResNet block "
                   "in graph mode."))  # fmt: skip
