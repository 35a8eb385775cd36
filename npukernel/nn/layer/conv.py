"""``Conv2d``: 2-D convolution over NCHW input with MindSpore's pad modes.

``pad_mode="same"`` (the default) gives ``ceil(H / stride)`` outputs, padding the bottom
and right by one more than the top and left when the total is odd (TensorFlow's rule);
``"valid"`` pads nothing; ``"pad"`` pads ``padding`` explicitly.

Example:
    >>> from npukernel import nn, ops
    >>> nn.Conv2d(1, 6, 5, pad_mode="pad", padding=2)(ops.ones((1, 1, 28, 28))).shape
    (1, 6, 28, 28)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npukernel import ops
from npukernel.common.initializer import HeUniform, Uniform, initializer
from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from npukernel.nn._check import int_pair, one_of, positive_int
from npukernel.nn.cell import Cell, param_as
from npukernel.tensor import Parameter, Tensor


def _padding(op: str, pad_mode: str, padding: Any) -> int | tuple[int, ...]:
    """Validate ``padding`` against ``pad_mode``; return an int or a 4-tuple (t, b, l, r)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        pads: tuple[int, ...] = (int(padding),) * 4
    elif (
        isinstance(padding, (tuple, list))
        and len(padding) in (2, 4)
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in padding)
    ):
        p = tuple(int(v) for v in padding)
        pads = (p[0], p[0], p[1], p[1]) if len(p) == 2 else p
    else:
        raise DTypeError(
            f"For '{op}', 'padding' must be an int or a tuple of 2 or 4 ints, but got {padding!r}."
        )
    if min(pads) < 0:
        raise ValueRangeError(f"For '{op}', 'padding' must be non-negative, but got {padding!r}.")
    if pad_mode != "pad" and max(pads) != 0:
        raise ValueRangeError(
            f"For '{op}', 'padding' must be 0 when 'pad_mode' is not 'pad', but got "
            f"padding={padding!r} with pad_mode='{pad_mode}'."
        )
    return pads[0] if len(set(pads)) == 1 else pads


class Conv2d(Cell):
    """2-D convolution: ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``.

    Args:
        in_channels: Input channels ``C_in``.
        out_channels: Output channels ``C_out``.
        kernel_size: An int or ``(kh, kw)``.
        stride: An int or ``(sh, sw)``. Default 1.
        pad_mode: ``"same"`` (default, as MindSpore), ``"valid"`` or ``"pad"``.
        padding: With ``"pad"``: an int, ``(ph, pw)`` or ``(top, bottom, left, right)``.
        dilation: An int or ``(dh, dw)``. Default 1.
        group: Channel groups; ``group == in_channels`` is depthwise. Default 1.
        has_bias: Whether to add a bias. Default False, as MindSpore (PyTorch: True).
        weight_init: Initializer of ``weight`` ``(C_out, C_in / group, kh, kw)``. Default
            ``HeUniform(math.sqrt(5))``.
        bias_init: Initializer of ``bias``. Default ``Uniform(1 / sqrt(fan_in))``.
        data_format: Only ``"NCHW"``.
        dtype: Parameter dtype. Default float32.

    Raises:
        ValueRangeError: for non-positive sizes, channels not divisible by ``group``, an
            unknown ``pad_mode``, or ``padding`` with a mode other than ``"pad"``.
        ShapeError: (when called) if the input is not ``(N, in_channels, H, W)``.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.Conv2d(3, 8, 3, stride=2)(ops.ones((1, 3, 7, 7))).shape
        (1, 8, 4, 4)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 pad_mode: str = "same", padding: Any = 0, dilation: Any = 1, group: int = 1,
                 has_bias: bool = False, weight_init: Any = None, bias_init: Any = None,
                 data_format: str = "NCHW", dtype: Any = "float32") -> None:  # fmt: skip
        super().__init__()
        self.in_channels = positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = int_pair("Conv2d", "kernel_size", kernel_size)
        self.stride = int_pair("Conv2d", "stride", stride)
        self.dilation = int_pair("Conv2d", "dilation", dilation)
        self.group = positive_int("Conv2d", "group", group)
        self.pad_mode = one_of("Conv2d", "pad_mode", pad_mode, ("same", "valid", "pad"))
        self.padding = _padding("Conv2d", self.pad_mode, padding)
        self.format = one_of("Conv2d", "data_format", data_format, ("nchw",)).upper()
        if self.in_channels % self.group or self.out_channels % self.group:
            raise ValueRangeError(
                f"For 'Conv2d', 'in_channels' ({self.in_channels}) and 'out_channels' "
                f"({self.out_channels}) must be divisible by 'group' ({self.group})."
            )
        self.has_bias = bool(has_bias)
        shape = (self.out_channels, self.in_channels // self.group, *self.kernel_size)
        self.weight_init, self.bias_init = weight_init, bias_init
        init = HeUniform(math.sqrt(5)) if weight_init is None else weight_init
        self.weight = Parameter(initializer(init, shape, dtype), name="weight")
        self.bias = None
        if self.has_bias:
            if bias_init is None:
                bias_init = Uniform(1 / math.sqrt(math.prod(shape[1:])))
            self.bias = Parameter(initializer(bias_init, (self.out_channels,), dtype), name="bias")

    def construct(self, x: Tensor) -> Tensor:
        """Convolve ``x`` ``(N, in_channels, H, W)``."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"For 'Conv2d', 'x' must be 4-D (N, C, H, W) with C={self.in_channels}, but got "
                f"shape {x.shape}."
            )
        b = self.bias
        return ops.conv2d(
            x, param_as(self.weight, x), None if b is None else param_as(b, x), self.stride,
            self.pad_mode, self.padding, self.dilation, self.group,
        )  # fmt: skip

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return (
            f"input_channels={self.in_channels}, output_channels={self.out_channels}, "
            f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
            f"padding={self.padding}, dilation={self.dilation}, group={self.group}, "
            f"has_bias={self.has_bias}, weight_init={self.weight_init}, bias_init={self.bias_init}, "
            f"format={self.format}"
        )
