"""Basic layers: ``Dense``, ``Dropout``, ``Flatten``, ``Identity``.

Example:
    >>> from npukernel import nn, ops
    >>> nn.Dense(4, 3, activation="relu")(ops.ones((2, 4))).shape
    (2, 3)
"""

from __future__ import annotations

import math
from typing import Any

from npukernel import ops
from npukernel.common.initializer import HeUniform, Uniform, initializer
from npukernel.errors import ShapeError, ValueRangeError
from npukernel.nn._check import float_in, positive_int
from npukernel.nn.cell import Cell, param_as
from npukernel.nn.layer.activation import get_activation
from npukernel.tensor import Parameter, Tensor


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class Dense(Cell):
    """Fully connected layer: ``activation(x @ weight.T + bias)``.

    Args:
        in_channels: Size of the last input dim.
        out_channels: Size of the last output dim.
        weight_init: Initializer of ``weight`` (shape ``(out_channels, in_channels)``, as in
            MindSpore). Default ``HeUniform(math.sqrt(5))``, MindSpore 2.x's default.
        bias_init: Initializer of ``bias``. Default ``Uniform(1 / sqrt(in_channels))``.
        has_bias: Whether to add a bias. Default True.
        activation: None, a name (``"relu"``...) or a Cell applied to the output.
        dtype: Parameter dtype. Default float32.

    Raises:
        ValueRangeError: if a channel count is not a positive int.
        ShapeError: (when called) if the input's last dim is not ``in_channels``.

    Example:
        >>> from npukernel import nn
        >>> nn.Dense(3, 4).weight.shape
        (4, 3)
    """

    def __init__(self, in_channels: int, out_channels: int, weight_init: Any = None,
                 bias_init: Any = None, has_bias: bool = True, activation: Any = None,
                 dtype: Any = "float32") -> None:  # fmt: skip
        super().__init__()
        self.in_channels = positive_int("Dense", "in_channels", in_channels)
        self.out_channels = positive_int("Dense", "out_channels", out_channels)
        self.has_bias = bool(has_bias)
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))
        shape = (self.out_channels, self.in_channels)
        self.weight = Parameter(initializer(weight_init, shape, dtype), name="weight")
        self.bias = None
        if self.has_bias:
            if bias_init is None:
                bias_init = Uniform(1 / math.sqrt(self.in_channels))
            self.bias = Parameter(initializer(bias_init, (self.out_channels,), dtype), name="bias")
        self.activation = get_activation(activation)

    def construct(self, x: Tensor) -> Tensor:
        """``x``: ``(..., in_channels)`` -> ``(..., out_channels)``."""
        x = _as_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_channels:
            raise ShapeError(
                f"For 'Dense', the last dim of 'x' must be in_channels={self.in_channels}, but got "
                f"shape {x.shape}."
            )
        b = self.bias
        out = ops.dense(x, param_as(self.weight, x), None if b is None else param_as(b, x))
        return out if self.activation is None else self.activation(out)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        s = f"input_channels={self.in_channels}, output_channels={self.out_channels}, has_bias={self.has_bias}"
        return s if self.activation is None else f"{s}, activation={self.activation!r}"


class Dropout(Cell):
    """Zero each element with probability ``p`` in training, scaling the rest by ``1/(1-p)``.

    Identity when not training (``set_train(False)``, the default for a new Cell).

    Args:
        keep_prob: Deprecated MindSpore 1.x argument (``p = 1 - keep_prob``).
        p: Drop probability in [0, 1). Default 0.5 when neither is given.
        dtype: Kept for MindSpore parity (the input's dtype is used).

    Raises:
        ValueRangeError: if ``p`` (or ``keep_prob``) is out of range.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.Dropout(p=0.5)(ops.ones((2, 2))).asnumpy().tolist()  # not training
        [[1.0, 1.0], [1.0, 1.0]]
    """

    def __init__(self, keep_prob: float | None = None, p: float | None = None,
                 dtype: Any = "float32") -> None:  # fmt: skip
        super().__init__()
        if p is None:
            keep = (
                0.5
                if keep_prob is None
                else float_in("Dropout", "keep_prob", keep_prob, 0.0, 1.0, True)
            )
            if keep == 0:
                raise ValueRangeError("For 'Dropout', 'keep_prob' must be in (0, 1], but got 0.")
            p = 1.0 - keep
        self.p = float_in("Dropout", "p", p, 0.0, 1.0)
        self.keep_prob = 1.0 - self.p

    def construct(self, x: Tensor) -> Tensor:
        """Apply dropout (training) or return ``x``."""
        if not self.training or self.p == 0:
            return x
        return ops.dropout(x, self.p, training=True)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"p={self.p}"


class Flatten(Cell):
    """Merge dims ``start_dim..end_dim`` into one (MindSpore 2.x: keeps the batch dim).

    Args:
        start_dim: First dim to merge. Default 1.
        end_dim: Last dim to merge. Default -1.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.Flatten()(ops.ones((2, 3, 4))).shape
        (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def construct(self, x: Tensor) -> Tensor:
        """Flatten ``x``."""
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Cell):
    """Return the input unchanged (a placeholder layer)."""

    def construct(self, x: Any) -> Any:
        """Return ``x``."""
        return x
