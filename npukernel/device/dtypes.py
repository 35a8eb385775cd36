"""Dtype names as the device layer sees them: canonical strings and item sizes.

The chip profiles and the cost model key their tables by dtype *name*, so every
spelling a caller may use (``"fp16"``, ``"half"``, ``np.float16``, ``np.dtype("float16")``)
is mapped to one canonical numpy-style name here. ``bfloat16`` has no numpy dtype but is
a Cube dtype, so it is known by name.

Example:
    >>> canonical("fp16"), itemsize("bf16")
    ('float16', 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import DTypeError

#: Item size in bytes of every dtype the device layer knows, by canonical name.
ITEMSIZE: dict[str, int] = {
    "bool": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "float16": 2,
    "bfloat16": 2,
    "float32": 4,
    "float64": 8,
    "complex64": 8,
    "complex128": 16,
}

_ALIASES: dict[str, str] = {name: name for name in ITEMSIZE}
_ALIASES.update(
    {
        "fp16": "float16",
        "half": "float16",
        "bf16": "bfloat16",
        "fp32": "float32",
        "float": "float32",
        "single": "float32",
        "fp64": "float64",
        "double": "float64",
        "int": "int64",
        "bool_": "bool",
    }
)


def canonical(dtype: Any) -> str:
    """Return the canonical name of ``dtype`` (a string, numpy dtype or scalar type).

    Args:
        dtype: ``"fp16"``, ``"float16"``, ``np.float16``, ``np.dtype("f2")``, ...

    Returns:
        The numpy-style name, e.g. ``"float16"``; ``"bfloat16"`` for bf16.

    Raises:
        DTypeError: if the dtype is not one the device layer knows.

    Example:
        >>> canonical(np.float32)
        'float32'
    """
    if isinstance(dtype, str):
        name = _ALIASES.get(dtype.lower())
        if name is not None:
            return name
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name in ITEMSIZE:
        return name
    raise DTypeError(
        f"For 'device.dtypes', 'dtype' must be one of {sorted(ITEMSIZE)}, but got {dtype!r}."
    )


def itemsize(dtype: Any) -> int:
    """Return the size in bytes of one element of ``dtype``.

    Example:
        >>> itemsize("int8")
        1
    """
    return ITEMSIZE[canonical(dtype)]
