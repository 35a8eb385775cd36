"""``Momentum``: heavy-ball momentum, MindSpore's ApplyMomentum rule.

Per parameter ``p`` with gradient ``g`` (after ``g / loss_scale + weight_decay * p``)::

    accum = momentum * accum + g
    p -= lr * (g + momentum * accum) if use_nesterov else lr * accum

Example:
    >>> from npukernel import nn
    >>> opt = nn.Momentum(nn.Dense(2, 1).trainable_params(), learning_rate=0.1, momentum=0.9)
    >>> list(opt.parameters_dict())[-2:]
    ['moments.weight', 'moments.bias']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.kernels import lazy
from npukernel.nn._check import non_negative_float
from npukernel.nn.optim.optimizer import Optimizer

_optim = lazy("npukernel.kernels.optim")


class Momentum(Optimizer):
    """Momentum SGD (``mindspore.nn.Momentum``).

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        learning_rate: Float, list, Tensor or ``LearningRateSchedule``.
        momentum: Momentum factor (>= 0).
        weight_decay: L2 penalty. Default 0.
        loss_scale: Gradient divisor. Default 1.
        use_nesterov: Nesterov momentum. Default False.

    State: ``moments.<name>`` per parameter.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> w = npk.Parameter(npk.Tensor([1.0]), name="w")
        >>> opt = nn.Momentum([w], learning_rate=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     _ = opt((npk.Tensor([1.0]),))
        >>> round(w.item(), 4)  # accum 1 then 1.9: 1 - 0.1 * 1 - 0.1 * 1.9
        0.71
    """

    _op_name = "momentum_update"
    _cost = (4, 5)

    def __init__(self, params: Any, learning_rate: Any, momentum: float, weight_decay: float = 0.0,
                 loss_scale: float = 1.0, use_nesterov: bool = False) -> None:  # fmt: skip
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = non_negative_float("Momentum", "momentum", momentum)
        self.use_nesterov = bool(use_nesterov)
        self.moments = self.parameters.clone(prefix="moments", init="zeros")
        if self.use_nesterov:
            self._cost = (6, 5)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        acc = self.moments[i]._data
        if p.dtype.kind == "f" and p.itemsize >= 4 and p.flags.c_contiguous and g.dtype == p.dtype:
            _optim.momentum(p.reshape(-1), np.ascontiguousarray(g).reshape(-1), acc.reshape(-1),
                            lr, self.momentum, self.use_nesterov)  # fmt: skip
            return
        t, m = self._buf(i, 1, p), self.momentum
        acc *= m
        acc += g
        if self.use_nesterov:
            np.multiply(acc, m, out=t)
            t += g
            t *= lr
        else:
            np.multiply(acc, lr, out=t)
        p -= t
