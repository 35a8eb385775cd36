"""Validation for the neural-network operators, run before any kernel.

Every message names the operator, the argument and the value, in MindSpore's style.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import DTypeError, ShapeError, ValueRangeError


def pair(op: str, arg: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value), int(value))
    else:
        try:
            out = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            out = ()
        if len(out) != 2 or any(isinstance(v, (float, bool)) for v in value):
            raise ValueRangeError(
                f"For '{op}', '{arg}' must be an int or a pair of ints, but got {value!r}."
            )
    if min(out) < minimum:
        raise ValueRangeError(f"For '{op}', '{arg}' must be at least {minimum}, but got {value!r}.")
    return out  # type: ignore[return-value]


def float_input(
    op: str, arg: str, x: np.ndarray, ndim: int | None = None, layout: str = ""
) -> None:
    """Raise unless ``x`` is a float array (of rank ``ndim``)."""
    if ndim is not None and x.ndim != ndim:
        shape_txt = f" {layout}" if layout else ""
        raise ShapeError(
            f"For '{op}', '{arg}' must be {ndim}-D{shape_txt}, but got shape {x.shape}."
        )
    if x.dtype.kind != "f":
        raise DTypeError(f"For '{op}', '{arg}' must be a float tensor, but got dtype {x.dtype}.")


def check_conv2d(
    x: np.ndarray, w: np.ndarray, stride: Any, padding: Any, dilation: Any, groups: Any
) -> dict:
    """Validate a conv2d call; return normalised attributes."""
    float_input("conv2d", "x", x, 4, "(N, C, H, W)")
    float_input("conv2d", "weight", w, 4, "(C_out, C_in / groups, KH, KW)")
    if w.dtype != x.dtype:
        raise DTypeError(
            f"For 'conv2d', 'weight' must have the dtype of 'x' ({x.dtype}), but got {w.dtype}."
        )
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueRangeError(f"For 'conv2d', 'groups' must be a positive int, but got {groups!r}.")
    c, oc = x.shape[1], w.shape[0]
    if c != w.shape[1] * groups:
        raise ShapeError(
            f"For 'conv2d', 'x' has {c} channels but 'weight' {w.shape} expects "
            f"{w.shape[1]} x groups({groups}) = {w.shape[1] * groups}."
        )
    if oc % groups:
        raise ShapeError(f"For 'conv2d', the {oc} output channels must divide by groups={groups}.")
    s = pair("conv2d", "stride", stride)
    d = pair("conv2d", "dilation", dilation)
    p = tuple(int(v) for v in padding)
    if len(p) != 4 or min(p) < 0:
        raise ValueRangeError(
            f"For 'conv2d', 'padding' must be 4 non-negative ints, but got {padding!r}."
        )
    eff_h = d[0] * (w.shape[2] - 1) + 1
    eff_w = d[1] * (w.shape[3] - 1) + 1
    if x.shape[2] + p[0] + p[1] < eff_h or x.shape[3] + p[2] + p[3] < eff_w:
        raise ShapeError(
            f"For 'conv2d', the padded input {x.shape[2] + p[0] + p[1]}x{x.shape[3] + p[2] + p[3]} is "
            f"smaller than the dilated kernel {eff_h}x{eff_w}."
        )
    if x.shape[0] == 0 or oc == 0:
        raise ShapeError(f"For 'conv2d', 'x' {x.shape} and 'weight' {w.shape} must not be empty.")
    return {"stride": s, "padding": p, "dilation": d, "groups": int(groups)}


def check_pool2d(op: str, x: np.ndarray, kernel: Any, stride: Any, padding: Any) -> dict:
    """Validate a 2-D pooling call; return normalised attributes."""
    float_input(op, "x", x, 4, "(N, C, H, W)")
    k = pair(op, "kernel_size", kernel)
    s = pair(op, "stride", stride)
    p = pair(op, "padding", padding, minimum=0)
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueRangeError(
            f"For '{op}', 'padding' {p} must be at most half of 'kernel_size' {k}."
        )
    if x.shape[2] + 2 * p[0] < k[0] or x.shape[3] + 2 * p[1] < k[1]:
        raise ShapeError(
            f"For '{op}', the input {x.shape} is smaller than the kernel {k} (padding {p})."
        )
    if x.size == 0:
        raise ShapeError(f"For '{op}', 'x' must not be empty, but got shape {x.shape}.")
    return {"kernel": k, "stride": s, "padding": p}
