"""Per-step learning-rate lists (``mindspore.nn.dynamic_lr``).

Each function returns a Python list with one rate per training step, computed with
MindSpore's formulas; pass it as an optimizer's ``learning_rate``. Epochs are
``floor(step / step_per_epoch)``. MindSpore's *step* schedule (PyTorch's ``StepLR`` /
``MultiStepLR``) is ``piecewise_constant_lr``: constant rates between milestones.

Example:
    >>> from npukernel import nn
    >>> nn.piecewise_constant_lr([2, 5], [0.1, 0.01])
    [0.1, 0.1, 0.01, 0.01, 0.01]
"""

from __future__ import annotations

import math
from typing import Any

from npukernel.errors import DTypeError, ValueRangeError
from npukernel.nn._check import non_negative_float, positive_int


def _positive_float(op: str, arg: str, value: Any) -> float:
    v = non_negative_float(op, arg, value)
    if v == 0:
        raise ValueRangeError(f"For '{op}', '{arg}' must be positive, but got {value}.")
    return v


def _check_steps(op: str, total_step: int, step_per_epoch: int, epochs: int, name: str) -> None:
    positive_int(op, "total_step", total_step)
    positive_int(op, "step_per_epoch", step_per_epoch)
    positive_int(op, name, epochs)


def piecewise_constant_lr(milestone: list[int], learning_rates: list[float]) -> list[float]:
    """``learning_rates[i]`` for the steps before ``milestone[i]`` (and after ``milestone[i-1]``).

    Args:
        milestone: Strictly increasing positive step counts; the last is the total.
        learning_rates: One rate per milestone.

    Returns:
        ``milestone[-1]`` rates.

    Raises:
        ValueRangeError: if the lists differ in length or ``milestone`` is not increasing.

    Example:
        >>> from npukernel import nn
        >>> nn.piecewise_constant_lr([1, 3], [1.0, 0.5])
        [1.0, 0.5, 0.5]
    """
    if not isinstance(milestone, (list, tuple)) or not isinstance(learning_rates, (list, tuple)):
        raise DTypeError(
            "For 'piecewise_constant_lr', 'milestone' and 'learning_rates' must be lists."
        )
    if len(milestone) != len(learning_rates):
        raise ValueRangeError(
            f"For 'piecewise_constant_lr', 'milestone' and 'learning_rates' must have the same "
            f"length, but got {len(milestone)} and {len(learning_rates)}."
        )
    lr: list[float] = []
    last = 0
    for item, rate in zip(milestone, learning_rates):
        positive_int("piecewise_constant_lr", "milestone", item)
        if item <= last:
            raise ValueRangeError(
                f"For 'piecewise_constant_lr', 'milestone' must be strictly increasing, but got {milestone}."
            )
        lr += [float(rate)] * (item - last)
        last = item
    return lr


def _decay(op: str, learning_rate: float, decay_rate: float, total_step: int, step_per_epoch: int,
           decay_epoch: int, is_stair: bool, fn: Any) -> list[float]:  # fmt: skip
    _positive_float(op, "learning_rate", learning_rate)
    _positive_float(op, "decay_rate", decay_rate)
    _check_steps(op, total_step, step_per_epoch, decay_epoch, "decay_epoch")
    out = []
    for i in range(total_step):
        p = math.floor(i / step_per_epoch) / decay_epoch
        out.append(fn(math.floor(p) if is_stair else p))
    return out


def exponential_decay_lr(learning_rate: float, decay_rate: float, total_step: int,
                         step_per_epoch: int, decay_epoch: int, is_stair: bool = False) -> list[float]:  # fmt: skip
    """``learning_rate * decay_rate ** (epoch / decay_epoch)`` per step (floored when ``is_stair``).

    Example:
        >>> from npukernel import nn
        >>> [round(v, 4) for v in nn.exponential_decay_lr(0.1, 0.5, 4, 1, 2)]
        [0.1, 0.0707, 0.05, 0.0354]
    """
    return _decay("exponential_decay_lr", learning_rate, decay_rate, total_step, step_per_epoch,
                  decay_epoch, is_stair, lambda p: learning_rate * decay_rate**p)  # fmt: skip


def natural_exp_decay_lr(learning_rate: float, decay_rate: float, total_step: int,
                         step_per_epoch: int, decay_epoch: int, is_stair: bool = False) -> list[float]:  # fmt: skip
    """``learning_rate * e ** (-decay_rate * epoch)`` per step.

    MindSpore's formula: the epoch is not divided by ``decay_epoch``; with ``is_stair`` it is
    rounded down to a multiple of it.

    Example:
        >>> from npukernel import nn
        >>> [round(v, 4) for v in nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True)]
        [0.1, 0.1, 0.1, 0.1, 0.0165, 0.0165]
    """
    return _decay("natural_exp_decay_lr", learning_rate, decay_rate, total_step, step_per_epoch,
                  decay_epoch, is_stair, lambda p: learning_rate * math.e ** (-decay_rate * p * decay_epoch))  # fmt: skip


def inverse_decay_lr(learning_rate: float, decay_rate: float, total_step: int,
                     step_per_epoch: int, decay_epoch: int, is_stair: bool = False) -> list[float]:  # fmt: skip
    """``learning_rate / (1 + decay_rate * epoch / decay_epoch)`` per step."""
    return _decay("inverse_decay_lr", learning_rate, decay_rate, total_step, step_per_epoch,
                  decay_epoch, is_stair, lambda p: learning_rate / (1 + decay_rate * p))  # fmt: skip


def cosine_decay_lr(min_lr: float, max_lr: float, total_step: int, step_per_epoch: int,
                    decay_epoch: int) -> list[float]:  # fmt: skip
    """``min_lr + 0.5 (max_lr - min_lr)(1 + cos(pi * min(epoch, decay_epoch) / decay_epoch))``.

    Example:
        >>> from npukernel import nn
        >>> [round(v, 3) for v in nn.cosine_decay_lr(0.0, 0.1, 3, 1, 2)]
        [0.1, 0.05, 0.0]
    """
    non_negative_float("cosine_decay_lr", "min_lr", min_lr)
    _positive_float("cosine_decay_lr", "max_lr", max_lr)
    if min_lr >= max_lr:
        raise ValueRangeError(
            f"For 'cosine_decay_lr', 'max_lr' must be greater than 'min_lr', but got {max_lr} and {min_lr}."
        )
    _check_steps("cosine_decay_lr", total_step, step_per_epoch, decay_epoch, "decay_epoch")
    delta = 0.5 * (max_lr - min_lr)
    out = []
    for i in range(total_step):
        epoch = min(math.floor(i / step_per_epoch), decay_epoch)
        out.append(min_lr + delta * (1 + math.cos(math.pi * epoch / decay_epoch)))
    return out


def polynomial_decay_lr(learning_rate: float, end_learning_rate: float, total_step: int,
                        step_per_epoch: int, decay_epoch: int, power: float,
                        update_decay_epoch: bool = False) -> list[float]:  # fmt: skip
    """``(lr - end)(1 - epoch / decay_epoch) ** power + end`` per step, epochs capped at ``decay_epoch``.

    With ``update_decay_epoch``, ``decay_epoch`` is stretched to the next multiple past the
    current epoch instead of capping it.
    """
    _positive_float("polynomial_decay_lr", "learning_rate", learning_rate)
    non_negative_float("polynomial_decay_lr", "end_learning_rate", end_learning_rate)
    _positive_float("polynomial_decay_lr", "power", power)
    _check_steps("polynomial_decay_lr", total_step, step_per_epoch, decay_epoch, "decay_epoch")
    delta = learning_rate - end_learning_rate
    out = []
    for i in range(total_step):
        epoch = math.floor(i / step_per_epoch)
        if update_decay_epoch:
            decay, tmp = decay_epoch * max(math.ceil(epoch / decay_epoch), 1), epoch
        else:
            decay, tmp = decay_epoch, min(decay_epoch, epoch)
        out.append(delta * (1 - tmp / decay) ** power + end_learning_rate)
    return out


def warmup_lr(learning_rate: float, total_step: int, step_per_epoch: int,
              warmup_epoch: int) -> list[float]:  # fmt: skip
    """``learning_rate * min(epoch, warmup_epoch) / warmup_epoch`` per step (starts at 0).

    Example:
        >>> from npukernel import nn
        >>> nn.warmup_lr(0.1, 4, 1, 2)
        [0.0, 0.05, 0.1, 0.1]
    """
    _positive_float("warmup_lr", "learning_rate", learning_rate)
    _check_steps("warmup_lr", total_step, step_per_epoch, warmup_epoch, "warmup_epoch")
    return [
        learning_rate * min(warmup_epoch, math.floor(i / step_per_epoch)) / warmup_epoch
        for i in range(total_step)
    ]
