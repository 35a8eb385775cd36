"""Data types: MindSpore's names for numpy dtypes.

npukernel dtypes *are* numpy dtypes, so ``t.dtype == npukernel.float32`` and
``t.asnumpy().dtype == npukernel.float32`` both hold.

Example:
    >>> import npukernel as npk
    >>> npk.Tensor([1, 2]).astype(npk.float16).dtype == npk.float16
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import DTypeError

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

# MindSpore aliases.
half = float16
single = float32
double = float64

ALL = (float16, float32, float64, int8, uint8, int16, int32, int64, bool_)
FLOATS = (float16, float32, float64)
INTS = (int8, uint8, int16, int32, int64)
_BY_NAME = {str(d): d for d in ALL} | {"bool_": bool_, "half": float16, "float": float32}
_BY_NAME |= {"Float16": float16, "Float32": float32, "Float64": float64, "Int8": int8}
_BY_NAME |= {"Int32": int32, "Int64": int64, "Bool": bool_, "UInt8": uint8, "Int16": int16}


def as_dtype(value: Any, op: str = "cast", arg: str = "dtype") -> np.dtype:
    """Turn a dtype-like value (name, numpy dtype, numpy type) into a supported dtype.

    Args:
        value: ``"float32"``, ``npukernel.float32``, ``np.float32`` ...
        op: operator name used in the error message.
        arg: argument name used in the error message.

    Returns:
        The numpy dtype.

    Raises:
        DTypeError: for anything that is not one of the supported dtypes.

    Example:
        >>> as_dtype("float32")
        dtype('float32')
    """
    if isinstance(value, str):
        d = _BY_NAME.get(value)
        if d is not None:
            return d
    else:
        try:
            d = np.dtype(value)
        except TypeError:
            d = None
        if d is not None and d in ALL:
            return d
    names = ", ".join(str(d) for d in ALL)
    raise DTypeError(f"For '{op}', '{arg}' must be one of [{names}], but got {value!r}.")


def is_float(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is a floating-point dtype."""
    return dtype.kind == "f"


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a kernel computes in: float16 is computed in float32, like CPU backends do."""
    return float32 if dtype == float16 else dtype
