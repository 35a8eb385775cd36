"""Global settings of the data pipeline: the seed behind every random choice.

Every pass over a pipeline (an *epoch*) draws its randomness from ``(seed, n)``,
where ``n`` counts the epochs started since :func:`set_seed`. So after
``set_seed(s)`` the same script gives the same shuffles and augmentations, while
consecutive epochs of one pipeline still differ from each other.
"""

from __future__ import annotations

import numpy as np

_seed: int | None = None
_counter: int = 0
_eager: np.random.Generator | None = None


def set_seed(seed: int) -> None:
    """Seed the data pipeline: shuffles, splits and random transforms.

    Args:
        seed: a non-negative integer.

    Raises:
        DatasetError: if ``seed`` is not a non-negative integer.

    Example:
        >>> from npukernel.dataset import config
        >>> config.set_seed(42)
        >>> config.get_seed()
        42
    """
    from npukernel.dataset.errors import DatasetError

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DatasetError(f"For 'set_seed', 'seed' must be a non-negative int, but got {seed!r}.")
    global _seed, _counter, _eager
    _seed, _counter, _eager = int(seed), 0, None


def get_seed() -> int | None:
    """The seed given to :func:`set_seed`, or ``None`` when unseeded (fresh entropy).

    Example:
        >>> from npukernel.dataset import config
        >>> config.set_seed(7); config.get_seed()
        7
    """
    return _seed


def next_entropy() -> list[int]:
    """Entropy for one new epoch (or one split): ``[seed, n]``, then ``n += 1``.

    Unseeded, it is fresh OS entropy, so unseeded runs differ.
    """
    global _counter
    if _seed is None:
        return [int(np.random.SeedSequence().entropy)]
    _counter += 1
    return [_seed, _counter - 1]


def eager_generator() -> np.random.Generator:
    """The generator used when a random transform is called directly (outside a pipeline)."""
    global _eager
    if _eager is None:
        entropy = None if _seed is None else [_seed, 2**32 - 1]
        _eager = np.random.default_rng(np.random.SeedSequence(entropy))
    return _eager
