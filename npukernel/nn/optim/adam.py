"""Adam-family optimizers: ``Adam``, ``AdamW`` and ``AdamWeightDecay``.

``Adam`` (MindSpore's Adam kernel; weight decay is an L2 term added to the gradient)::

    beta1_power *= beta1; beta2_power *= beta2
    m += (g - m) * (1 - beta1);  v += (g * g - v) * (1 - beta2)
    lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
    p -= lr_t * m / (sqrt(v) + eps)          # nesterov: (m * beta1 + (1 - beta1) * g) instead of m

``AdamW`` (PyTorch's / ``mindspore.experimental.optim.AdamW``: decoupled decay)::

    p *= 1 - lr * weight_decay
    ... the same moments ...
    p -= lr / (1 - beta1_power) * m / (sqrt(v) / sqrt(1 - beta2_power) + eps)

``AdamWeightDecay`` (``mindspore.nn.AdamWeightDecay``: no bias correction)::

    p -= lr * (m / (sqrt(v) + eps) + weight_decay * p)

Example:
    >>> from npukernel import nn
    >>> opt = nn.Adam(nn.Dense(2, 1).trainable_params())
    >>> sorted(n for n in opt.parameters_dict() if "moment1" in n)
    ['moment1.bias', 'moment1.weight']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npukernel.errors import ValueRangeError
from npukernel.nn._check import float_in
from npukernel.nn.optim.optimizer import Optimizer
from npukernel.tensor import Parameter, Tensor


def _check_betas(op: str, beta1: float, beta2: float, eps: float) -> tuple[float, float, float]:
    b1 = float_in(op, "beta1", beta1, 0.0, 1.0)
    b2 = float_in(op, "beta2", beta2, 0.0, 1.0)
    if not eps > 0:
        raise ValueRangeError(f"For '{op}', 'eps' must be positive, but got {eps}.")
    return b1, b2, float(eps)


def _power(name: str) -> Parameter:
    return Parameter(Tensor(np.ones(1, np.float32)), name, requires_grad=False)


class Adam(Optimizer):
    """Adam (``mindspore.nn.Adam``).

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        learning_rate: Float, list, Tensor or ``LearningRateSchedule``. Default 1e-3.
        beta1: First-moment decay in (0, 1). Default 0.9.
        beta2: Second-moment decay in (0, 1). Default 0.999.
        eps: Added to the denominator. Default 1e-8.
        use_locking: Ignored (kept for MindSpore parity).
        use_nesterov: Nesterov-style first moment. Default False.
        weight_decay: L2 penalty added to the gradient. Default 0.
        loss_scale: Gradient divisor. Default 1.

    State: ``moment1.<name>``, ``moment2.<name>``, ``beta1_power``, ``beta2_power``.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> w = npk.Parameter(npk.Tensor([1.0]), name="w")
        >>> _ = nn.Adam([w], learning_rate=0.1)((npk.Tensor([3.0]),)); round(w.item(), 4)
        0.9
    """

    _op_name = "adam_update"
    _cost = (12, 7)
    _moment_names = ("moment1", "moment2")
    _bias_correction = True

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, use_locking: bool = False,
                 use_nesterov: bool = False, weight_decay: float = 0.0,
                 loss_scale: float = 1.0) -> None:  # fmt: skip
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.beta1, self.beta2, self.eps = _check_betas(self.cls_name, beta1, beta2, eps)
        self.use_locking, self.use_nesterov = bool(use_locking), bool(use_nesterov)
        m1, m2 = self._moment_names
        setattr(self, m1, self.parameters.clone(prefix=m1, init="zeros"))
        setattr(self, m2, self.parameters.clone(prefix=m2, init="zeros"))
        self.__dict__["_m"], self.__dict__["_v"] = getattr(self, m1), getattr(self, m2)
        if self._bias_correction:
            self.beta1_power = _power("beta1_power")
            self.beta2_power = _power("beta2_power")

    def _begin_step(self) -> None:
        if self._bias_correction:
            self.beta1_power._data *= np.float32(self.beta1)
            self.beta2_power._data *= np.float32(self.beta2)

    def _moments(self, i: int, g: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Update and return ``(m, v)`` of parameter ``i`` (``t`` is scratch)."""
        m, v = self._m[i]._data, self._v[i]._data
        np.subtract(g, m, out=t)
        t *= 1.0 - self.beta1
        m += t
        np.multiply(g, g, out=t)
        t -= v
        t *= 1.0 - self.beta2
        v += t
        return m, v

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        t = self._buf(i, 1, p)
        m, v = self._moments(i, g, t)
        b1p, b2p = float(self.beta1_power._data[0]), float(self.beta2_power._data[0])
        lr_t = lr * math.sqrt(1.0 - b2p) / (1.0 - b1p)
        num = m if not self.use_nesterov else m * self.beta1 + (1.0 - self.beta1) * g
        np.sqrt(v, out=t)
        t += self.eps
        np.divide(num, t, out=t)
        t *= lr_t
        p -= t


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's AdamW, ``mindspore.experimental.optim.AdamW``).

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        learning_rate: Default 1e-3.
        beta1: Default 0.9.
        beta2: Default 0.999.
        eps: Default 1e-8.
        weight_decay: Decoupled decay ``p *= 1 - lr * weight_decay``. Default 1e-2.
        loss_scale: Gradient divisor. Default 1.

    State: ``moment1.<name>``, ``moment2.<name>``, ``beta1_power``, ``beta2_power``.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> w = npk.Parameter(npk.Tensor([1.0]), name="w")
        >>> _ = nn.AdamW([w], learning_rate=0.1, weight_decay=0.5)((npk.Tensor([0.0]),)); round(w.item(), 4)
        0.95
    """

    _op_name = "adamw_update"
    _cost = (14, 7)
    _fold_decay = False

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2,
                 loss_scale: float = 1.0) -> None:  # fmt: skip
        super().__init__(params, learning_rate, beta1, beta2, eps, weight_decay=weight_decay,
                         loss_scale=loss_scale)  # fmt: skip

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        wd = self._decay[i]
        if wd:
            p *= 1.0 - lr * wd
        t = self._buf(i, 1, p)
        m, v = self._moments(i, g, t)
        bc1 = 1.0 - float(self.beta1_power._data[0])
        bc2 = 1.0 - float(self.beta2_power._data[0])
        np.sqrt(v, out=t)
        t *= 1.0 / math.sqrt(bc2)
        t += self.eps
        np.divide(m, t, out=t)
        t *= lr / bc1
        p -= t


class AdamWeightDecay(Adam):
    """Adam without bias correction plus decoupled decay (``mindspore.nn.AdamWeightDecay``).

    Args:
        params: Parameters or parameter groups (see ``Optimizer``).
        learning_rate: Default 1e-3.
        beta1: Default 0.9.
        beta2: Default 0.999.
        eps: Default 1e-6 (MindSpore's).
        weight_decay: ``update += weight_decay * p``. Default 0.

    State: ``adam_m.<name>``, ``adam_v.<name>``.
    """

    _op_name = "adam_weight_decay_update"
    _cost = (12, 7)
    _fold_decay = False
    _moment_names = ("adam_m", "adam_v")
    _bias_correction = False

    def __init__(self, params: Any, learning_rate: Any = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-6, weight_decay: float = 0.0) -> None:  # fmt: skip
        super().__init__(params, learning_rate, beta1, beta2, eps, weight_decay=weight_decay)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        t = self._buf(i, 1, p)
        m, v = self._moments(i, g, t)
        np.sqrt(v, out=t)
        t += self.eps
        np.divide(m, t, out=t)
        wd = self._decay[i]
        if wd:
            s = self._buf(i, 2, p)
            np.multiply(p, wd, out=s)
            t += s
        t *= lr
        p -= t
