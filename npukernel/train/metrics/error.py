"""Regression errors: ``MAE`` and ``MSE``.

Example:
    >>> import numpy as np
    >>> from npukernel.train import MAE
    >>> m = MAE()
    >>> m.update(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
    >>> m.eval()
    0.75
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.train.metrics.metric import Metric, no_samples, rearrange_inputs


class _ErrorMetric(Metric):
    _name = ""

    def __init__(self) -> None:
        super().__init__()
        self.clear()

    def clear(self) -> None:
        """Reset the sums."""
        self._error_sum = 0.0
        self._samples_num = 0

    def _error(self, diff: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch of ``y_pred`` and ``y`` (same number of elements).

        Raises:
            ValueError: for other than two inputs or different sizes.
        """
        if len(inputs) != 2:
            raise ValueError(f"For '{self._name}.update', expected 2 inputs, got {len(inputs)}.")
        y_pred = self._convert_data(inputs[0]).astype(np.float64)
        y = self._convert_data(inputs[1]).astype(np.float64)
        if y.size != y_pred.size:
            raise ValueError(
                f"For '{self._name}.update', 'y_pred' and 'y' must have the same number of "
                f"elements, but got shapes {y_pred.shape} and {y.shape}."
            )
        self._error_sum += float(self._error(y.reshape(y_pred.shape) - y_pred).sum())
        self._samples_num += y.shape[0] if y.ndim else 1

    def eval(self) -> float:
        """The summed error divided by the number of samples (rows).

        Raises:
            RuntimeError: before any ``update``.
        """
        if self._samples_num == 0:
            raise no_samples(self._name)
        return self._error_sum / self._samples_num


class MAE(_ErrorMetric):
    """Mean absolute error (MindSpore's ``mindspore.train.MAE``).

    ``sum(|y - y_pred|) / N`` over all elements of N samples (rows).

    Example:
        >>> import numpy as np
        >>> MAE()(np.array([0.0, 2.0]), np.array([1.0, 1.0]))
        1.0
    """

    _name = "MAE"

    def _error(self, diff: np.ndarray) -> np.ndarray:
        return np.abs(diff)


class MSE(_ErrorMetric):
    """Mean squared error (MindSpore's ``mindspore.train.MSE``).

    ``sum((y - y_pred)²) / N`` over all elements of N samples (rows).

    Example:
        >>> import numpy as np
        >>> MSE()(np.array([0.0, 3.0]), np.array([1.0, 1.0]))
        2.5
    """

    _name = "MSE"

    def _error(self, diff: np.ndarray) -> np.ndarray:
        return diff**2
