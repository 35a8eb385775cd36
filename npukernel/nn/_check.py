"""Argument checks for cells, with MindSpore-style messages naming the cell and the value."""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import DTypeError, ValueRangeError


def positive_int(op: str, arg: str, value: Any) -> int:
    """``value`` as an int > 0, or a ValueRangeError/DTypeError naming ``op`` and ``arg``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DTypeError(f"For '{op}', '{arg}' must be an int, but got {type(value).__name__}.")
    if value <= 0:
        raise ValueRangeError(f"For '{op}', '{arg}' must be a positive int, but got {value}.")
    return int(value)


def non_negative_float(op: str, arg: str, value: Any) -> float:
    """``value`` as a float >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DTypeError(f"For '{op}', '{arg}' must be a float, but got {type(value).__name__}.")
    if not value >= 0:
        raise ValueRangeError(f"For '{op}', '{arg}' must be non-negative, but got {value}.")
    return float(value)


def float_in(op: str, arg: str, value: Any, lo: float, hi: float, closed_hi: bool = False) -> float:
    """``value`` as a float in ``[lo, hi)`` (or ``[lo, hi]``)."""
    v = non_negative_float(op, arg, value) if lo >= 0 else float(value)
    if not (lo <= v < hi or (closed_hi and v == hi)):
        bracket = "]" if closed_hi else ")"
        raise ValueRangeError(
            f"For '{op}', '{arg}' must be in [{lo}, {hi}{bracket}, but got {value}."
        )
    return v


def one_of(op: str, arg: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices`` (strings compared lower-case)."""
    v = value.lower() if isinstance(value, str) else value
    if v not in choices:
        raise ValueRangeError(
            f"For '{op}', '{arg}' must be one of {list(choices)}, but got {value!r}."
        )
    return v


def int_pair(op: str, arg: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (each >= ``minimum``) as a pair."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        out = (int(value[0]), int(value[1]))
    else:
        raise DTypeError(
            f"For '{op}', '{arg}' must be an int or a tuple of two ints, but got {value!r}."
        )
    if min(out) < minimum:
        raise ValueRangeError(f"For '{op}', '{arg}' must be at least {minimum}, but got {value!r}.")
    return out
