"""Activation cells: ``ReLU``, ``GELU``, ``Sigmoid``, ``Tanh``, ``Softmax``, ``LogSoftmax``...

Each wraps one operator of ``npukernel.ops``; ``get_activation("relu")`` builds one by
name (what ``Dense(activation="relu")`` uses).

Example:
    >>> import npukernel as npk
    >>> from npukernel import nn
    >>> nn.ReLU()(npk.Tensor([-1.0, 2.0])).asnumpy().tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from typing import Any

from npukernel import ops
from npukernel.errors import DTypeError, ValueRangeError
from npukernel.nn.cell import Cell
from npukernel.tensor import Tensor


class ReLU(Cell):
    """``max(x, 0)`` elementwise."""

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.relu(x)


class ReLU6(Cell):
    """``min(max(x, 0), 6)`` elementwise."""

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.clip(x, 0.0, 6.0)


class LeakyReLU(Cell):
    """``x`` for ``x >= 0``, ``alpha * x`` otherwise.

    Args:
        alpha: Slope for negative inputs. Default 0.2 (MindSpore's default).
    """

    def __init__(self, alpha: float = 0.2) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.maximum(x, x * self.alpha) if self.alpha <= 1 else ops.minimum(x, x * self.alpha)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"alpha={self.alpha}"


class GELU(Cell):
    """Gaussian error linear unit, tanh approximation.

    Args:
        approximate: Must be True: the engine implements the tanh form that MindSpore uses by
            default (the exact erf form is not available yet).

    Raises:
        ValueRangeError: if ``approximate`` is False.
    """

    def __init__(self, approximate: bool = True) -> None:
        super().__init__()
        if not approximate:
            raise ValueRangeError(
                "For 'GELU', only approximate=True (the tanh form) is supported, but got False."
            )
        self.approximate = True

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.gelu(x)


class Sigmoid(Cell):
    """``1 / (1 + exp(-x))`` elementwise."""

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.sigmoid(x)


class Tanh(Cell):
    """``tanh(x)`` elementwise."""

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.tanh(x)


class Softplus(Cell):
    """``log(1 + exp(x))`` elementwise (overflow-safe)."""

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.softplus(x)


class Softmax(Cell):
    """Softmax along ``axis``.

    Args:
        axis: The axis. Default -1.
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.softmax(x, self.axis)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """Log-softmax along ``axis`` (default -1)."""

    def construct(self, x: Tensor) -> Tensor:
        """Apply the activation."""
        return ops.log_softmax(x, self.axis)


_ACTIVATIONS: dict[str, type[Cell]] = {
    "relu": ReLU, "relu6": ReLU6, "leakyrelu": LeakyReLU, "gelu": GELU, "sigmoid": Sigmoid,
    "tanh": Tanh, "softplus": Softplus, "softmax": Softmax, "logsoftmax": LogSoftmax,
}  # fmt: skip


def get_activation(name: Any) -> Cell | None:
    """An activation Cell by name (``"relu"``, ``"gelu"``, ...); a Cell or None is returned as is.

    Raises:
        ValueRangeError: for an unknown name.
        DTypeError: for anything that is not a str, a Cell or None.

    Example:
        >>> from npukernel import nn
        >>> nn.get_activation("relu")
        ReLU<>
    """
    if name is None or isinstance(name, Cell):
        return name
    if not isinstance(name, str):
        raise DTypeError(
            f"For 'get_activation', 'name' must be a str, a Cell or None, but got {type(name).__name__}."
        )
    cls = _ACTIVATIONS.get(name.lower())
    if cls is None:
        raise ValueRangeError(
            f"For 'get_activation', 'name' must be one of {sorted(_ACTIVATIONS)}, but got {name!r}."
        )
    return cls()
