"""``SGD``: stochastic gradient descent with optional momentum, dampening and Nesterov.

The rule of MindSpore's SGD kernel, per parameter ``p`` with gradient ``g``::

    g = g / loss_scale + weight_decay * p
    if momentum > 0:
        accum = g on the first step (stat == 1), else momentum * accum + (1 - dampening) * g
        g = g + momentum * accum if nesterov else accum
    p -= lr * g

Example:
    >>> from npukernel import nn
    >>> opt = nn.SGD(nn.Dense(2, 1).trainable_params(), learning_rate=0.1, momentum=0.9)
    >>> [p.name for p in opt.accum]
    ['accum.weight', 'accum.bias']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import ValueRangeError
from npukernel.nn._check import non_negative_float
from npukernel.nn.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent (``mindspore.nn.SGD``).

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        learning_rate: Float, list, Tensor or ``LearningRateSchedule``. Default 0.1.
        momentum: Momentum factor (>= 0). Default 0.
        dampening: Dampening of the momentum (>= 0). Default 0.
        weight_decay: L2 penalty. Default 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0). Default False.
        loss_scale: Gradient divisor. Default 1.

    State (with momentum > 0): ``accum.<name>`` and ``stat.<name>`` (a one-element flag that
    is 1 until the first step; MindSpore keeps it parameter-shaped).

    Raises:
        ValueRangeError: for negative values or an invalid Nesterov setting.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> w = npk.Parameter(npk.Tensor([1.0]), name="w")
        >>> _ = nn.SGD([w], learning_rate=0.5)((npk.Tensor([1.0]),)); w.asnumpy().tolist()
        [0.5]
    """

    _op_name = "sgd_update"

    def __init__(self, params: Any, learning_rate: Any = 0.1, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 loss_scale: float = 1.0) -> None:  # fmt: skip
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = non_negative_float("SGD", "momentum", momentum)
        self.dampening = non_negative_float("SGD", "dampening", dampening)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueRangeError(
                "For 'SGD', nesterov=True needs momentum > 0 and dampening = 0, but got "
                f"momentum={momentum} and dampening={dampening}."
            )
        if self.momentum > 0:
            self.accum = self.parameters.clone(prefix="accum", init="zeros")
            self.stat = self.parameters.clone(prefix="stat", init="ones")
            for s in self.stat:  # one flag per parameter, not one per element
                s.set_data(np.ones(1, s.dtype))
            self._cost = (6, 5)
        else:
            self._cost = (2, 3)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        t = self._buf(i, 1, p)
        if self.momentum > 0:
            acc, stat, m = self.accum[i]._data, self.stat[i]._data, self.momentum
            if stat[0] > 0:
                np.copyto(acc, g)
                stat[0] = 0
            else:
                acc *= m
                if self.dampening:
                    np.multiply(g, 1.0 - self.dampening, out=t)
                    acc += t
                else:
                    acc += g
            if self.nesterov:
                np.multiply(acc, m, out=t)
                t += g
                t *= lr
            else:
                np.multiply(acc, lr, out=t)
        else:
            np.multiply(g, lr, out=t)
        p -= t
