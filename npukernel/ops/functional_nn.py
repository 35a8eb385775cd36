"""Neural-network operators with ``mindspore.ops`` names.

Convolution, pooling, norms, softmax, losses, dropout, dense and random tensors.

Example:
    >>> import npukernel as npk
    >>> from npukernel import ops
    >>> x = ops.ones((1, 1, 4, 4))
    >>> ops.max_pool2d(x, 2).shape
    (1, 1, 2, 2)
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from npukernel import random as _random
from npukernel import tracing
from npukernel.dtypes import as_dtype
from npukernel.errors import ShapeError, ValueRangeError
from npukernel.ops import functional as F
from npukernel.ops.dispatch import apply
from npukernel.ops.functional import _as_tensor
from npukernel.ops.nn_check import pair
from npukernel.ops.opdef import OPS
from npukernel.tensor import Tensor


def conv_padding(
    pad_mode: str, padding: Any, in_hw: tuple[int, int], kernel: tuple[int, int],
    stride: tuple[int, int], dilation: tuple[int, int], op: str = "conv2d",
) -> tuple[int, int, int, int]:  # fmt: skip
    """(top, bottom, left, right) padding for MindSpore's ``pad_mode`` "same"/"valid"/"pad"."""
    if pad_mode == "valid":
        return (0, 0, 0, 0)
    if pad_mode == "same":
        out = []
        for size, k, s, d in zip(in_hw, kernel, stride, dilation):
            total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
            out += [total // 2, total - total // 2]
        return tuple(out)  # type: ignore[return-value]
    if pad_mode == "pad":
        if isinstance(padding, (int, np.integer)):
            return (int(padding),) * 4  # type: ignore[return-value]
        p = tuple(int(v) for v in padding)
        if len(p) == 2:
            return (p[0], p[0], p[1], p[1])
        if len(p) == 4:
            return p  # type: ignore[return-value]
        raise ValueRangeError(
            f"For '{op}', 'padding' must be an int or 2 or 4 ints, but got {padding!r}."
        )
    raise ValueRangeError(
        f"For '{op}', 'pad_mode' must be 'same', 'valid' or 'pad', but got {pad_mode!r}."
    )


def conv2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, pad_mode: str = "valid",  # noqa: A002
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """2-D convolution over NCHW input (``mindspore.ops.conv2d``).

    Args:
        input: ``(N, C, H, W)``.
        weight: ``(C_out, C / groups, KH, KW)``.
        bias: ``(C_out,)`` or None.
        stride: int or (sh, sw).
        pad_mode: "valid" (no padding), "same" (output = ceil(in / stride)) or "pad".
        padding: with "pad": an int, (ph, pw) or (top, bottom, left, right).
        dilation: int or (dh, dw).
        groups: channel groups (``groups == C`` is depthwise).

    Returns:
        ``(N, C_out, OH, OW)``.

    Example:
        >>> from npukernel import ops
        >>> ops.conv2d(ops.ones((1, 1, 5, 5)), ops.ones((2, 1, 3, 3)), pad_mode="same").shape
        (1, 2, 5, 5)
    """
    dev = F._device_of(input, weight)
    x = _as_tensor(input, "conv2d", "input", dev)
    w = _as_tensor(weight, "conv2d", "weight", dev)
    if x.ndim == 4 and w.ndim == 4:
        s = pair("conv2d", "stride", stride)
        d = pair("conv2d", "dilation", dilation)
        pads = conv_padding(pad_mode, padding, x.shape[2:], w.shape[2:], s, d)
    else:
        s, d, pads = stride, dilation, (0, 0, 0, 0)
    out = apply(OPS["conv2d"], x, w, stride=s, padding=pads, dilation=d, groups=groups)
    if bias is not None:
        b = _as_tensor(bias, "conv2d", "bias")
        if b.shape != (w.shape[0],):
            raise ShapeError(
                f"For 'conv2d', 'bias' must have shape ({w.shape[0]},), but got {b.shape}."
            )
        out = out + F.reshape(b, (1, -1, 1, 1))
    return out


def _pool_args(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any) -> dict:
    k = pair(op, "kernel_size", kernel_size)
    s = k if stride is None else pair(op, "stride", stride)
    return {"kernel": k, "stride": s, "padding": padding}


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:  # noqa: A002
    """2-D max pooling; ``stride`` defaults to ``kernel_size``.

    Example:
        >>> from npukernel import ops
        >>> ops.max_pool2d(ops.ones((1, 3, 8, 8)), 2).shape
        (1, 3, 4, 4)
    """
    x = _as_tensor(input, "max_pool2d", "input")
    return apply(OPS["max_pool2d"], x, **_pool_args("max_pool2d", x, kernel_size, stride, padding))


def avg_pool2d(
    input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
    count_include_pad: bool = True,
) -> Tensor:  # fmt: skip
    """2-D average pooling; ``stride`` defaults to ``kernel_size``."""
    x = _as_tensor(input, "avg_pool2d", "input")
    args = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    return apply(OPS["avg_pool2d"], x, count_include_pad=bool(count_include_pad), **args)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """Average pool to ``output_size``; 1 (global pooling) or sizes that divide the input."""
    x = _as_tensor(input, "adaptive_avg_pool2d", "input")
    oh, ow = pair("adaptive_avg_pool2d", "output_size", output_size)
    if x.ndim != 4:
        raise ShapeError(
            f"For 'adaptive_avg_pool2d', 'input' must be 4-D (N, C, H, W), but got shape {x.shape}."
        )
    if (oh, ow) == (1, 1):
        return F.mean(x, (2, 3), True)
    h, w = x.shape[2:]
    if h % oh or w % ow:
        raise ShapeError(
            f"For 'adaptive_avg_pool2d', the input size {h}x{w} must be a multiple of output_size {oh}x{ow}."
        )
    return avg_pool2d(x, (h // oh, w // ow))


def batch_norm(
    input_x: Any, running_mean: Tensor, running_var: Tensor, weight: Tensor, bias: Tensor,  # fmt: skip
    training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """Batch normalisation (``mindspore.ops.batch_norm``).

    In training, normalises with the batch statistics and updates the running ones in place:
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance).
    """
    x = _as_tensor(input_x, "batch_norm", "input_x")
    if not training:
        return apply(OPS["batch_norm_eval"], x, running_mean, running_var, weight, bias, eps=eps)
    y, mean, var = apply(OPS["batch_norm_train"], x, weight, bias, eps=eps)
    tracing.host_call("running_stats_update", partial(_running_update, momentum),
                      (mean, var), (running_mean, running_var))  # fmt: skip
    return y


def _running_update(momentum: float, mean: np.ndarray, var: np.ndarray, rm: np.ndarray,
                    rv: np.ndarray) -> None:  # fmt: skip
    """``running = (1 - momentum) * running + momentum * batch``, in place."""
    rm *= 1 - momentum
    rm += momentum * mean
    rv *= 1 - momentum
    rv += momentum * var


def layer_norm(
    input_x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` dims."""
    x = _as_tensor(input_x, "layer_norm", "input_x")
    shape = F._shape_tuple("layer_norm", "normalized_shape", normalized_shape)
    if len(shape) > x.ndim or tuple(x.shape[x.ndim - len(shape) :]) != shape:
        raise ShapeError(
            f"For 'layer_norm', 'normalized_shape' {shape} must match the trailing dims of 'input_x' {x.shape}."
        )
    g = weight if weight is not None else F.ones(shape, x.dtype, device=x.device)
    b = bias if bias is not None else F.zeros(shape, x.dtype, device=x.device)
    return apply(OPS["layer_norm"], x, g, b, begin_norm_axis=x.ndim - len(shape), eps=eps)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis``."""
    return apply(OPS["softmax"], F._float(_as_tensor(x, "softmax", "x")), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log-softmax along ``axis``."""
    return apply(OPS["log_softmax"], F._float(_as_tensor(x, "log_softmax", "x")), axis=axis)


def _reduce_loss(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return F.mean(loss)
    if reduction == "sum":
        return F.sum(loss)
    if reduction == "none":
        return loss
    raise ValueRangeError(
        f"For '{op}', 'reduction' must be 'mean', 'sum' or 'none', but got {reduction!r}."
    )


def cross_entropy(
    input: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:  # noqa: A002
    """Softmax cross-entropy from logits ``(N, C)``; ``target`` holds class indices (int) or probabilities.

    Example:
        >>> import npukernel as npk
        >>> logits = npk.Tensor([[10.0, 0.0], [0.0, 10.0]])
        >>> round(npk.ops.cross_entropy(logits, npk.Tensor([0, 1])).item(), 4)
        0.0
    """
    dev = F._device_of(input, target)
    logits = _as_tensor(input, "cross_entropy", "input", dev)
    labels = _as_tensor(target, "cross_entropy", "target", dev)
    sparse = labels.dtype.kind in "iu"
    if label_smoothing:
        if not 0 <= label_smoothing < 1:
            raise ValueRangeError(
                f"For 'cross_entropy', 'label_smoothing' must be in [0, 1), but got {label_smoothing}."
            )
        c = logits.shape[-1]
        dense = F.one_hot(labels, c) if sparse else labels
        labels = F.cast(dense, logits.dtype) * (1 - label_smoothing) + label_smoothing / c
        sparse = False
    loss = apply(OPS["softmax_cross_entropy"], logits, labels, sparse=sparse)
    return _reduce_loss(loss, reduction, "cross_entropy")


def dropout(input: Any, p: float = 0.5, training: bool = True, seed: int | None = None) -> Tensor:  # noqa: A002
    """Zero elements with probability ``p`` and scale the rest by ``1 / (1 - p)``; identity when not training."""
    x = _as_tensor(input, "dropout", "input")
    if not training or p == 0:
        return x
    s = _random.next_seed() if seed is None else seed
    return apply(OPS["dropout"], x, p=p, seed=s)


def dense(input: Any, weight: Any, bias: Any = None) -> Tensor:  # noqa: A002
    """``input @ weight.T + bias`` (``mindspore.ops.dense``).

    One launch, and one for its gradient (``dense_backward``), when ``input``, ``weight``
    and ``bias`` are Tensors of one float dtype; other mixes go through ``matmul`` and
    ``add`` with their promotions.

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.dense(Tensor([[1.0, 2.0]]), Tensor([[3.0, 4.0]]), Tensor([0.5])).asnumpy().tolist()
        [[11.5]]
    """
    weight = _as_tensor(weight, "dense", "weight")
    args = (input, weight) if bias is None else (input, weight, bias)
    if all(isinstance(a, Tensor) for a in args):
        dt = input.dtype
        if dt.kind == "f" and all(a.dtype == dt for a in args) and input.ndim >= 1:
            return apply(OPS["dense"], *args)
    out = F.matmul(input, F.transpose(weight))
    return out if bias is None else out + bias


def _random_tensor(draw: Any, size: Any, dtype: Any, device: Any, op: str) -> Tensor:
    from npukernel import device as _devmod

    shape = F._shape_arg(size, op)
    dt = as_dtype(dtype, op) if dtype is not None else np.dtype("float32")
    return Tensor._wrap(np.asarray(draw(shape)).astype(dt), _devmod.get(device))


def randn(size: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """Standard normal samples from the global (seeded) generator."""
    return _random_tensor(_random.generator().standard_normal, size, dtype, device, "randn")


def rand(size: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """Uniform [0, 1) samples from the global (seeded) generator."""
    return _random_tensor(_random.generator().random, size, dtype, device, "rand")


def randint(low: int, high: int, size: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """Integers in ``[low, high)`` from the global generator (int64 by default)."""
    if high <= low:
        raise ValueRangeError(f"For 'randint', 'high' must exceed 'low', but got {low} and {high}.")
    return _random_tensor(
        lambda s: _random.generator().integers(low, high, s),
        size,
        dtype or "int64",
        device,
        "randint",
    )
