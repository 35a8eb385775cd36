"""The global seed: one call makes initialisation, dropout and data order reproducible.

Example:
    >>> import npukernel as npk
    >>> npk.set_seed(1); a = npk.ops.randn((2,)).asnumpy()
    >>> npk.set_seed(1); b = npk.ops.randn((2,)).asnumpy()
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import numpy as np

from npukernel import tracing as _tracing

_state = {"seed": 0, "rng": np.random.default_rng(0)}


def set_seed(seed: int) -> None:
    """Seed npukernel's generators (and the dataset pipeline's), like ``mindspore.set_seed``.

    Raises:
        ValueRangeError: for a negative or non-int seed.
    """
    from npukernel.errors import ValueRangeError

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueRangeError(
            f"For 'set_seed', 'seed' must be a non-negative int, but got {seed!r}."
        )
    _state["seed"] = int(seed)
    _state["rng"] = np.random.default_rng(int(seed))
    try:
        from npukernel.dataset import config

        config.set_seed(int(seed))
    except ImportError:  # pragma: no cover - dataset is part of the package
        pass


def get_seed() -> int:
    """The seed last given to :func:`set_seed`."""
    return _state["seed"]


def generator() -> np.random.Generator:
    """The global numpy Generator (initialisers and random ops draw from it)."""
    return _state["rng"]


def next_seed() -> int:
    """A fresh 63-bit seed from the global generator (for per-launch seeded kernels)."""
    seed = int(_state["rng"].integers(0, 2**63 - 1))
    if _tracing.state.tracer is not None:
        _tracing.fresh_seed(seed)
    return seed
