"""Softmax, log-softmax, fused softmax cross-entropy and dropout.

Cross-entropy is one fused, numerically stable launch (``log_softmax`` + pick) whose
backward is ``probs - labels``; the references compute the same in float64 numpy.
"""

from __future__ import annotations

import numpy as np

from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from npukernel.kernels import deferred, lazy
from npukernel.ops.dispatch import apply
from npukernel.ops.nn_check import float_input
from npukernel.ops.opdef import LOSS, RANDOM, SOFTMAX, OpDef, register

dk = lazy("npukernel.kernels.dropout")
sk = lazy("npukernel.kernels.softmax")


def _axis_check(op):
    def check(x, axis=-1):
        float_input(op, "x", x)
        nd = max(x.ndim, 1)
        if not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
            raise ShapeError(
                f"For '{op}', 'axis' must be an int in [{-nd}, {nd}), but got {axis!r}."
            )
        return {"axis": int(axis) % nd if x.ndim else 0}

    return check


def _softmax_ref(x, axis):
    if x.size == 0:
        return x.copy()
    if x.ndim == 0:
        return np.ones_like(x)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def _log_softmax_ref(x, axis):
    if x.size == 0:
        return x.copy()
    if x.ndim == 0:
        return np.zeros_like(x)
    x64 = x.astype(np.float64)
    s = x64 - x64.max(axis=axis, keepdims=True)
    return (s - np.log(np.exp(s).sum(axis=axis, keepdims=True))).astype(x.dtype)


def _nd(fn, zero_d):
    def kernel(x, axis):
        if x.ndim == 0:
            return zero_d(x)
        if x.size == 0:
            return x.copy()
        return fn(x, axis)

    return kernel


def _softmax_back_ref(dy, y, axis):
    return (y * (dy - (dy * y).sum(axis=axis, keepdims=True))).astype(dy.dtype)


def _log_softmax_back_ref(dy, y, axis):
    return (dy - np.exp(y) * dy.sum(axis=axis, keepdims=True)).astype(dy.dtype)


def _back_nd(fn):
    def kernel(dy, y, axis):
        if dy.ndim == 0 or dy.size == 0:
            return np.zeros_like(dy)
        return fn(dy, y, axis)

    return kernel


SOFTMAX_BACKWARD = register(OpDef("softmax_backward", SOFTMAX, _back_nd(deferred(sk, "softmax_backward")), _softmax_back_ref,
                                  doc="Gradient of softmax."))  # fmt: skip
LOG_SOFTMAX_BACKWARD = register(OpDef("log_softmax_backward", SOFTMAX, _back_nd(deferred(sk, "log_softmax_backward")),
                                      _log_softmax_back_ref, doc="Gradient of log_softmax."))  # fmt: skip


def _examples(rng):
    x = rng.standard_normal((3, 5))
    return [
        ([x], {"axis": -1}),
        ([x], {"axis": 0}),
        ([rng.standard_normal((2, 3, 4)).transpose(2, 0, 1)], {"axis": 1}),
    ]


register(OpDef("softmax", SOFTMAX, _nd(deferred(sk, "softmax_forward"), np.ones_like), _softmax_ref, check=_axis_check("softmax"),
               grad=lambda n, dy: (apply(SOFTMAX_BACKWARD, dy, n.output(), axis=n.attrs["axis"]),),
               examples=_examples, bad=lambda: [([np.ones((2, 3))], {"axis": 2}, ShapeError),
                                                ([np.ones((2, 3), np.int32)], {"axis": 1}, DTypeError)],
               doc="Softmax along an axis."))  # fmt: skip
register(OpDef("log_softmax", SOFTMAX, _nd(deferred(sk, "log_softmax_forward"), np.zeros_like), _log_softmax_ref,
               check=_axis_check("log_softmax"),
               grad=lambda n, dy: (apply(LOG_SOFTMAX_BACKWARD, dy, n.output(), axis=n.attrs["axis"]),),
               examples=_examples, bad=lambda: [([np.ones((2, 3))], {"axis": -3}, ShapeError)],
               doc="Log-softmax along an axis."))  # fmt: skip


# -- cross-entropy -------------------------------------------------------------------------------


def _ce_check(logits, labels, sparse):
    float_input("softmax_cross_entropy", "logits", logits, 2, "(N, C)")
    n, c = logits.shape
    if sparse:
        if labels.dtype.kind not in "iu":
            raise DTypeError(
                f"For 'softmax_cross_entropy', sparse 'labels' must be int class indices, but got dtype {labels.dtype}."
            )
        if labels.shape != (n,):
            raise ShapeError(
                f"For 'softmax_cross_entropy', 'labels' must have shape ({n},), but got {labels.shape}."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise ValueRangeError(
                f"For 'softmax_cross_entropy', 'labels' must be in [0, {c}), but got values in "
                f"[{labels.min()}, {labels.max()}]."
            )
    else:
        if labels.shape != logits.shape:
            raise ShapeError(
                f"For 'softmax_cross_entropy', dense 'labels' must have the logits' shape {logits.shape}, "
                f"but got {labels.shape}."
            )
        if labels.dtype != logits.dtype:
            raise DTypeError(
                f"For 'softmax_cross_entropy', 'labels' must be {logits.dtype}, but got {labels.dtype}."
            )
    if c == 0:
        raise ShapeError("For 'softmax_cross_entropy', 'logits' must have at least one class.")
    return {"sparse": bool(sparse)}


def _ce_cpu(logits, labels, sparse):
    logp = _log_softmax_ref(logits.astype(np.float64), 1)
    if sparse:
        loss = -logp[np.arange(len(labels)), labels]
    else:
        loss = -(labels * logp).sum(axis=1)
    return loss.astype(logits.dtype), np.exp(logp).astype(logits.dtype)


def _ce_npu(logits, labels, sparse):
    if logits.shape[0] == 0:
        return np.zeros(0, logits.dtype), np.zeros_like(logits)
    return sk.softmax_cross_entropy_forward(logits, labels, sparse)


def _ce_back_cpu(dloss, labels, probs, sparse):
    target = np.zeros_like(probs)
    if sparse:
        target[np.arange(len(labels)), labels] = 1
    else:
        target = labels
    return ((probs - target) * dloss[:, None]).astype(probs.dtype)


def _ce_back_npu(dloss, labels, probs, sparse):
    if probs.shape[0] == 0:
        return np.zeros_like(probs)
    return sk.softmax_cross_entropy_backward(dloss, probs, labels, sparse)


CE_BACKWARD = register(OpDef("softmax_cross_entropy_backward", LOSS, _ce_back_npu, _ce_back_cpu,
                             doc="Gradient of softmax_cross_entropy (probs - labels)."))  # fmt: skip


def _ce_grad(n, dloss):
    return apply(
        CE_BACKWARD, dloss, n.inputs[1].detach(), probs=n.saved, sparse=n.attrs["sparse"]
    ), None


def _ce_examples(rng):
    dense = rng.random((4, 3))
    return [
        ([rng.standard_normal((4, 3)) * 3, np.array([0, 2, 1, 2])], {"sparse": True}),
        ([rng.standard_normal((4, 3)), dense / dense.sum(1, keepdims=True)], {"sparse": False}),
    ]


register(OpDef("softmax_cross_entropy", LOSS, _ce_npu, _ce_cpu, check=_ce_check, grad=_ce_grad, saves=True,
               diff_inputs=(0,), examples=_ce_examples,
               bad=lambda: [([np.ones((2, 3)), np.array([0, 3])], {"sparse": True}, ValueRangeError),
                            ([np.ones((2, 3)), np.array([0.0, 1.0])], {"sparse": True}, DTypeError),
                            ([np.ones(3), np.array([0])], {"sparse": True}, ShapeError)],
               doc="Fused softmax cross-entropy per sample (sparse or dense labels)."))  # fmt: skip


# -- dropout ----------------------------------------------------------------------------------


def _dropout_check(x, p, seed):
    float_input("dropout", "x", x)
    if (
        not isinstance(p, (int, float, np.floating, np.integer))
        or isinstance(p, bool)
        or not 0 <= p < 1
    ):
        raise ValueRangeError(f"For 'dropout', 'p' must be in [0, 1), but got {p!r}.")
    return {"p": float(p), "seed": int(seed)}


def _dropout_kernel(x, p, seed):
    y, mask = dk.dropout_forward(x, p, seed)
    return y, mask


def _dropout_back(dy, mask, p):
    return dk.dropout_backward(dy, mask, p)


DROPOUT_BACKWARD = register(OpDef("dropout_backward", RANDOM, _dropout_back, _dropout_back,
                                  doc="Gradient of dropout."))  # fmt: skip

register(OpDef("dropout", RANDOM, _dropout_kernel, _dropout_kernel, check=_dropout_check, saves=True,
               grad=lambda n, dy: (apply(DROPOUT_BACKWARD, dy, mask=n.saved, p=n.attrs["p"]),),
               examples=lambda r: [([r.standard_normal((4, 5))], {"p": 0.3, "seed": 7})],
               bad=lambda: [([np.ones(3)], {"p": 1.0, "seed": 0}, ValueRangeError)],
               doc="Inverted dropout with a seeded mask."))  # fmt: skip
