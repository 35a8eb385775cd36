"""Learning-rate schedules as Cells: ``schedule(global_step) -> lr`` (``mindspore.nn``).

Give one to an optimizer as ``learning_rate``; it is evaluated once per step at the
optimizer's ``global_step``. The formulas are MindSpore's (``p = step / decay_steps``):

=====================  ==========================================================
``ExponentialDecayLR``  ``lr * decay_rate ** p`` (``floor(p)`` when ``is_stair``)
``NaturalExpDecayLR``   ``lr * exp(-decay_rate * p)``
``InverseDecayLR``      ``lr / (1 + decay_rate * p)``
``CosineDecayLR``       ``min + 0.5 (max - min)(1 + cos(pi * min(step, decay_steps) / decay_steps))``
``PolynomialDecayLR``   ``(lr - end)(1 - min(step, decay_steps) / decay_steps) ** power + end``
``WarmUpLR``            ``lr * min(step, warmup_steps) / warmup_steps``
=====================  ==========================================================

Where we differ: the value is computed in Python floats and returned as a float32
scalar Tensor (MindSpore builds it from operators so it can be compiled into the graph).

Example:
    >>> from npukernel import nn
    >>> sched = nn.CosineDecayLR(min_lr=0.0, max_lr=0.1, decay_steps=10)
    >>> round(sched(5).item(), 4)
    0.05
"""

from __future__ import annotations

import math
from typing import Any

from npukernel.errors import DTypeError, ValueRangeError
from npukernel.nn._check import non_negative_float, positive_int
from npukernel.nn._scalar import scalar_tensor
from npukernel.nn.cell import Cell
from npukernel.tensor import Tensor


def _step(global_step: Any) -> float:
    if isinstance(global_step, Tensor):
        return float(global_step.asnumpy().reshape(-1)[0])
    return float(global_step)


def _positive_float(op: str, arg: str, value: Any) -> float:
    v = non_negative_float(op, arg, value)
    if v == 0:
        raise ValueRangeError(f"For '{op}', '{arg}' must be positive, but got {value}.")
    return v


class LearningRateSchedule(Cell):
    """Base class: subclasses implement ``lr(step: float) -> float``.

    Example:
        >>> from npukernel import nn
        >>> class Halve(nn.LearningRateSchedule):
        ...     def lr(self, step):
        ...         return 0.1 * 0.5 ** step
        >>> Halve()(2).item()
        0.02500000037252903
    """

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        raise NotImplementedError(
            f"For '{self.cls_name}', 'lr' (or 'construct') must be overridden."
        )

    def construct(self, global_step: Any) -> Tensor:
        """The learning rate at ``global_step`` (an int or a Tensor) as a float32 scalar Tensor."""
        return scalar_tensor(self.lr(_step(global_step)))


class _DecayLR(LearningRateSchedule):
    def __init__(self, learning_rate: float, decay_rate: float, decay_steps: int,
                 is_stair: bool = False) -> None:  # fmt: skip
        super().__init__()
        name = self.cls_name
        self.learning_rate = _positive_float(name, "learning_rate", learning_rate)
        self.decay_rate = _positive_float(name, "decay_rate", decay_rate)
        self.decay_steps = positive_int(name, "decay_steps", decay_steps)
        if not isinstance(is_stair, bool):
            raise DTypeError(f"For '{name}', 'is_stair' must be a bool, but got {is_stair!r}.")
        self.is_stair = is_stair

    def _p(self, step: float) -> float:
        p = step / self.decay_steps
        return math.floor(p) if self.is_stair else p


class ExponentialDecayLR(_DecayLR):
    """``learning_rate * decay_rate ** p``, ``p = step / decay_steps`` (floored when ``is_stair``).

    Args:
        learning_rate: Initial rate (> 0).
        decay_rate: Decay factor (> 0).
        decay_steps: Steps per decay (> 0).
        is_stair: Decay in steps rather than continuously. Default False.
    """

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        return self.learning_rate * self.decay_rate ** self._p(step)


class NaturalExpDecayLR(_DecayLR):
    """``learning_rate * exp(-decay_rate * p)``; arguments as ``ExponentialDecayLR``."""

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        return self.learning_rate * math.exp(-self.decay_rate * self._p(step))


class InverseDecayLR(_DecayLR):
    """``learning_rate / (1 + decay_rate * p)``; arguments as ``ExponentialDecayLR``."""

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        return self.learning_rate / (1 + self.decay_rate * self._p(step))


class CosineDecayLR(LearningRateSchedule):
    """Cosine decay from ``max_lr`` to ``min_lr`` over ``decay_steps``, then flat.

    Args:
        min_lr: Final rate (>= 0).
        max_lr: Initial rate (> min_lr).
        decay_steps: Steps of the decay (> 0).
    """

    def __init__(self, min_lr: float, max_lr: float, decay_steps: int) -> None:
        super().__init__()
        self.min_lr = non_negative_float("CosineDecayLR", "min_lr", min_lr)
        self.max_lr = _positive_float("CosineDecayLR", "max_lr", max_lr)
        if self.min_lr >= self.max_lr:
            raise ValueRangeError(
                f"For 'CosineDecayLR', 'max_lr' must be greater than 'min_lr', but got {max_lr} and {min_lr}."
            )
        self.decay_steps = positive_int("CosineDecayLR", "decay_steps", decay_steps)

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        p = min(step, self.decay_steps) / self.decay_steps
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1.0 + math.cos(math.pi * p))


class PolynomialDecayLR(LearningRateSchedule):
    """Polynomial decay from ``learning_rate`` to ``end_learning_rate``.

    Args:
        learning_rate: Initial rate (> 0).
        end_learning_rate: Final rate (>= 0).
        decay_steps: Steps of the decay (> 0).
        power: Exponent (> 0).
        update_decay_steps: Restart with ``decay_steps`` stretched to the next multiple
            past ``step`` instead of staying at ``end_learning_rate``. Default False.
    """

    def __init__(self, learning_rate: float, end_learning_rate: float, decay_steps: int,
                 power: float, update_decay_steps: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.learning_rate = _positive_float("PolynomialDecayLR", "learning_rate", learning_rate)
        self.end_learning_rate = non_negative_float(
            "PolynomialDecayLR", "end_learning_rate", end_learning_rate
        )
        self.decay_steps = positive_int("PolynomialDecayLR", "decay_steps", decay_steps)
        self.power = _positive_float("PolynomialDecayLR", "power", power)
        self.update_decay_steps = bool(update_decay_steps)

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        decay = float(self.decay_steps)
        if self.update_decay_steps:
            decay *= max(math.ceil(step / decay), 1)
        else:
            step = min(step, decay)
        diff = self.learning_rate - self.end_learning_rate
        return diff * (1.0 - step / decay) ** self.power + self.end_learning_rate


class WarmUpLR(LearningRateSchedule):
    """Linear warm-up: ``learning_rate * min(step, warmup_steps) / warmup_steps``.

    Args:
        learning_rate: Target rate (> 0).
        warmup_steps: Steps of the warm-up (> 0).
    """

    def __init__(self, learning_rate: float, warmup_steps: int) -> None:
        super().__init__()
        self.learning_rate = _positive_float("WarmUpLR", "learning_rate", learning_rate)
        self.warmup_steps = positive_int("WarmUpLR", "warmup_steps", warmup_steps)

    def lr(self, step: float) -> float:
        """The learning rate at ``step``."""
        return self.learning_rate * min(step, self.warmup_steps) / self.warmup_steps
