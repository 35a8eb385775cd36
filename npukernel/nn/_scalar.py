"""0-d Tensors and Parameters.

Works around ``Tensor(0.1).shape == (1,)`` in the engine (``tensor._to_array`` ends with
``np.ascontiguousarray``, which turns 0-d arrays into 1-d ones); MindSpore gives ``()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel import device as _devmod
from npukernel.tensor import Parameter, Tensor


def scalar_tensor(value: Any, dtype: Any = np.float32) -> Tensor:
    """A 0-d Tensor on the default device."""
    return Tensor._wrap(np.array(value, dtype), _devmod.default())


def scalar_parameter(value: Any, name: str, dtype: Any = np.float32) -> Parameter:
    """A 0-d Parameter without ``requires_grad`` (learning rates)."""
    p = Parameter(Tensor(np.array([value], dtype)), name, requires_grad=False)
    p._data = p._data.reshape(())
    return p
