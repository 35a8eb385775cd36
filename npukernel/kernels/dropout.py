"""Inverted dropout: zero each element with probability ``p``, scale the rest by ``1/(1-p)``.

The keep-mask comes from ``np.random.Generator(PCG64(seed))``: the same ``seed`` and shape
give the same mask on every machine and numpy version that keeps PCG64's stream (numpy
guarantees it), independent of numba's threading. The scaling is a parallel numba loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["dropout_backward", "dropout_forward"]


@njit(cache=True, parallel=True)
def _masked_scale(x, mask, scale, y):
    """``y[k] = x[k] * scale if mask[k] else 0`` over flat arrays."""
    for k in prange(x.shape[0]):
        y[k] = x[k] * scale if mask[k] else 0.0


def _scale(p: float) -> float:
    return 1.0 / (1.0 - p) if p < 1.0 else 0.0


def dropout_forward(x: np.ndarray, p: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout.

    The loop::

        u = Generator(PCG64(seed)).random(x.shape)   # uniform [0, 1)
        mask = u >= p
        y = where(mask, x / (1 - p), 0)

    Args:
        x: input of any shape, float32 or float64.
        p: drop probability in ``[0, 1]`` (``p == 1`` drops everything).
        seed: non-negative integer; equal seeds give equal masks.

    Returns:
        ``(y, mask)``: ``y`` shaped like ``x``; ``mask`` a bool array, True where kept.
    """
    x = np.ascontiguousarray(x)
    rng = np.random.Generator(np.random.PCG64(seed))
    mask = rng.random(x.shape, dtype=np.float32) >= np.float32(p)
    y = np.empty_like(x)
    _masked_scale(x.reshape(-1), mask.reshape(-1), _scale(p), y.reshape(-1))
    return y, mask


def dropout_backward(dy: np.ndarray, mask: np.ndarray, p: float) -> np.ndarray:
    """Gradient of :func:`dropout_forward`: ``dx = where(mask, dy / (1 - p), 0)``.

    Args:
        dy: gradient of the output.
        mask: the forward's ``mask``.
        p: the forward's drop probability.

    Returns:
        ``dx`` shaped like ``dy``.
    """
    dy = np.ascontiguousarray(dy)
    dx = np.empty_like(dy)
    m = np.ascontiguousarray(mask, dtype=np.bool_)
    _masked_scale(dy.reshape(-1), m.reshape(-1), _scale(p), dx.reshape(-1))
    return dx
