"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d`` (NCHW).

``pad_mode`` follows MindSpore: ``"valid"`` (no padding, the default), ``"same"``
(``ceil(H / stride)`` outputs; the extra row/column of an odd total padding goes to the
bottom/right; padded cells never win a max and are left out of an average) and ``"pad"``
(explicit symmetric ``padding``).

Example:
    >>> from npukernel import nn, ops
    >>> nn.MaxPool2d(kernel_size=2, stride=2)(ops.ones((1, 6, 28, 28))).shape
    (1, 6, 14, 14)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npukernel import ops
from npukernel.errors import ShapeError, ValueRangeError
from npukernel.nn._check import int_pair, one_of
from npukernel.nn.cell import Cell
from npukernel.tensor import Tensor


def same_pads(in_hw: tuple[int, int], kernel: tuple[int, int],
              stride: tuple[int, int]) -> tuple[int, int, int, int]:  # fmt: skip
    """``(top, bottom, left, right)`` so that a pooled output has ``ceil(size / stride)`` cells."""
    out = []
    for n, k, s in zip(in_hw, kernel, stride):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        out += [total // 2, total - total // 2]
    return tuple(out)  # type: ignore[return-value]


class _Pool2d(Cell):
    """Shared argument handling for the 2-D pools."""

    def __init__(self, kernel_size: Any, stride: Any, pad_mode: str, padding: Any,
                 data_format: str) -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.kernel_size = int_pair(name, "kernel_size", kernel_size)
        self.stride = int_pair(name, "stride", stride)
        self.pad_mode = one_of(name, "pad_mode", pad_mode, ("valid", "same", "pad"))
        self.padding = int_pair(name, "padding", padding, minimum=0)
        self.format = one_of(name, "data_format", data_format, ("nchw",)).upper()
        if self.pad_mode != "pad" and max(self.padding):
            raise ValueRangeError(
                f"For '{name}', 'padding' must be 0 when 'pad_mode' is not 'pad', but got "
                f"padding={padding!r} with pad_mode='{self.pad_mode}'."
            )
        if self.padding[0] * 2 > self.kernel_size[0] or self.padding[1] * 2 > self.kernel_size[1]:
            raise ValueRangeError(
                f"For '{name}', 'padding' {self.padding} must be at most half of 'kernel_size' "
                f"{self.kernel_size}."
            )

    def _check(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim != 4:
            raise ShapeError(
                f"For '{self.cls_name}', 'x' must be 4-D (N, C, H, W), but got shape {x.shape}."
            )
        return x

    def _same(self, x: Tensor) -> tuple[int, int, int, int] | None:
        """The 'same' pads, or None when none are needed."""
        pads = same_pads(x.shape[2:], self.kernel_size, self.stride)
        return pads if max(pads) else None

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
            f"padding={self.padding}"
        )


def _symmetric(pads: tuple[int, int, int, int], kernel: tuple[int, int]) -> tuple[int, int] | None:
    t, b, left, r = pads
    if t == b and left == r and 2 * t <= kernel[0] and 2 * left <= kernel[1]:
        return (t, left)
    return None


class MaxPool2d(_Pool2d):
    """2-D max pooling.

    Args:
        kernel_size: Window, an int or ``(kh, kw)``. Default 1.
        stride: Step, an int or ``(sh, sw)``. Default 1 (MindSpore's default, not kernel_size).
        pad_mode: ``"valid"`` (default), ``"same"`` or ``"pad"``.
        padding: With ``"pad"``: an int or ``(ph, pw)``, at most half the kernel.
        data_format: Only ``"NCHW"``.

    Raises:
        ValueRangeError: for bad sizes or padding with a mode other than ``"pad"``.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.MaxPool2d(3, 2, pad_mode="same")(ops.ones((1, 1, 5, 5))).shape
        (1, 1, 3, 3)
    """

    def __init__(self, kernel_size: Any = 1, stride: Any = 1, pad_mode: str = "valid",
                 padding: Any = 0, data_format: str = "NCHW") -> None:  # fmt: skip
        super().__init__(kernel_size, stride, pad_mode, padding, data_format)

    def construct(self, x: Tensor) -> Tensor:
        """Pool ``x`` ``(N, C, H, W)``."""
        x = self._check(x)
        k, s = self.kernel_size, self.stride
        if self.pad_mode == "pad":
            return ops.max_pool2d(x, k, s, self.padding)
        pads = self._same(x) if self.pad_mode == "same" else None
        if pads is None:
            return ops.max_pool2d(x, k, s, 0)
        sym = _symmetric(pads, k)
        if sym is not None:
            return ops.max_pool2d(x, k, s, sym)
        t, b, left, r = pads
        return ops.max_pool2d(ops.pad(x, (left, r, t, b), value=float("-inf")), k, s, 0)


class AvgPool2d(_Pool2d):
    """2-D average pooling.

    Args:
        kernel_size: Window, an int or ``(kh, kw)``. Default 1.
        stride: Step. Default 1.
        pad_mode: ``"valid"`` (default), ``"same"`` (padding left out of the average) or
            ``"pad"``.
        padding: With ``"pad"``: an int or ``(ph, pw)``.
        count_include_pad: With ``"pad"``: whether padded zeros count in the divisor. Default True.
        data_format: Only ``"NCHW"``.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.AvgPool2d(2, 2)(ops.ones((1, 1, 4, 4))).shape
        (1, 1, 2, 2)
    """

    def __init__(self, kernel_size: Any = 1, stride: Any = 1, pad_mode: str = "valid",
                 padding: Any = 0, count_include_pad: bool = True,
                 data_format: str = "NCHW") -> None:  # fmt: skip
        super().__init__(kernel_size, stride, pad_mode, padding, data_format)
        self.count_include_pad = bool(count_include_pad)

    def construct(self, x: Tensor) -> Tensor:
        """Pool ``x`` ``(N, C, H, W)``."""
        x = self._check(x)
        k, s = self.kernel_size, self.stride
        if self.pad_mode == "pad":
            return ops.avg_pool2d(x, k, s, self.padding, self.count_include_pad)
        pads = self._same(x) if self.pad_mode == "same" else None
        if pads is None:
            return ops.avg_pool2d(x, k, s, 0)
        sym = _symmetric(pads, k)
        if sym is not None:
            return ops.avg_pool2d(x, k, s, sym, count_include_pad=False)
        # Asymmetric: average the zero-padded input, then rescale by window / valid cells.
        t, b, left, r = pads
        h, w = x.shape[2:]
        mask = np.pad(np.ones((h, w)), ((t, b), (left, r)))
        win = np.lib.stride_tricks.sliding_window_view(mask, k)[:: s[0], :: s[1]]
        scale = (k[0] * k[1]) / win.sum(axis=(-2, -1))
        out = ops.avg_pool2d(ops.pad(x, (left, r, t, b)), k, s, 0)
        return out * Tensor(scale.astype(x.dtype)[None, None], device=x.device)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"{super().extend_repr()}, count_include_pad={self.count_include_pad}"


class AdaptiveAvgPool2d(Cell):
    """Average-pool to a fixed ``output_size`` (1 = global average pooling).

    Args:
        output_size: An int or ``(oh, ow)``; the input size must be a multiple of it.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.AdaptiveAvgPool2d(1)(ops.ones((2, 8, 7, 7))).shape
        (2, 8, 1, 1)
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = int_pair("AdaptiveAvgPool2d", "output_size", output_size)

    def construct(self, x: Tensor) -> Tensor:
        """Pool ``x`` ``(N, C, H, W)`` to ``(N, C, oh, ow)``."""
        return ops.adaptive_avg_pool2d(x, self.output_size)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"output_size={self.output_size}"
