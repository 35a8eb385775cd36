"""``Precision``: of the samples predicted as a class, the fraction that are that class.

Example:
    >>> import numpy as np
    >>> from npukernel.train import Precision
    >>> m = Precision()
    >>> m.update(np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), np.array([0, 1, 1]))
    >>> m.eval().tolist()
    [0.5, 1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.train.metrics.metric import (
    EPS,
    EvaluationBase,
    no_samples,
    one_hot_pair,
    rearrange_inputs,
)


class PerClassRate(EvaluationBase):
    """``tp / (tp + x)`` per class; subclasses say what ``tp + x`` counts.

    Precision divides by the predicted positives, recall by the actual positives; the
    bookkeeping is shared here.
    """

    _name = "PerClassRate"

    def __init__(self, eval_type: str = "classification") -> None:
        super().__init__(eval_type)
        self.clear()

    @staticmethod
    def _denominator(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def clear(self) -> None:
        """Reset the counts."""
        self._class_num = 0
        self._true_positives: Any = 0
        self._positives: Any = 0

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch of ``y_pred`` and ``y``.

        Raises:
            ValueError: for other than two inputs, bad shapes or a changing class count.
        """
        name = self._name
        if len(inputs) != 2:
            raise ValueError(f"For '{name}.update', expected 2 inputs, got {len(inputs)}.")
        pred, true = one_hot_pair(
            self._convert_data(inputs[0]), self._convert_data(inputs[1]), self._type, name
        )
        if self._class_num and pred.shape[1] != self._class_num:
            raise ValueError(
                f"For '{name}.update', the class count changed from {self._class_num} to "
                f"{pred.shape[1]}."
            )
        self._class_num = pred.shape[1]
        self._true_positives = self._true_positives + (pred * true).sum(axis=0)
        self._positives = self._positives + self._denominator(pred, true)

    def eval(self, average: bool = False) -> np.ndarray | float:
        """Per-class rate, or the mean over classes with ``average=True``.

        Raises:
            RuntimeError: before any ``update``.
        """
        if self._class_num == 0:
            raise no_samples(self._name)
        result = self._true_positives / (self._positives + EPS)
        return float(result.mean()) if average else result


class Precision(PerClassRate):
    """Per-class precision ``tp / (tp + fp)`` (MindSpore's ``mindspore.train.Precision``).

    Args:
        eval_type: ``"classification"`` or ``"multilabel"`` (see :class:`Accuracy`).

    Example:
        >>> import numpy as np
        >>> Precision()(np.array([[0.9, 0.1]]), np.array([0])).tolist()
        [1.0, 0.0]
    """

    _name = "Precision"

    @staticmethod
    def _denominator(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
        return pred.sum(axis=0)
