"""``ConfusionMatrix``: counts of (true class, predicted class) pairs.

Example:
    >>> import numpy as np
    >>> from npukernel.train import ConfusionMatrix
    >>> m = ConfusionMatrix(num_classes=2)
    >>> m.update(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1]))
    >>> m.eval().tolist()
    [[1.0, 1.0], [0.0, 2.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.train.metrics.metric import Metric, no_samples, rearrange_inputs

_NORMALIZE = ("no_norm", "target", "prediction", "all")


class ConfusionMatrix(Metric):
    """Confusion matrix: row = true class, column = predicted class.

    Args:
        num_classes: Number of classes.
        normalize: ``"no_norm"`` (counts), ``"target"`` (each row sums to 1),
            ``"prediction"`` (each column sums to 1) or ``"all"`` (everything sums to 1).
        threshold: When ``y_pred`` has the shape of ``y`` it is a score, and
            ``y_pred > threshold`` is class 1; when it has one more (class) axis, the
            arg-max over that axis is the predicted class.

    Raises:
        ValueError: for a bad ``num_classes`` or ``normalize``.

    Example:
        >>> import numpy as np
        >>> ConfusionMatrix(2, normalize="target")(np.array([[0.9, 0.1], [0.2, 0.8]]),
        ...                                         np.array([0, 0])).tolist()
        [[0.5, 0.5], [0.0, 0.0]]
    """

    def __init__(
        self, num_classes: int, normalize: str = "no_norm", threshold: float = 0.5
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"For 'ConfusionMatrix', 'num_classes' must be a positive int, but got {num_classes!r}."
            )
        if normalize not in _NORMALIZE:
            raise ValueError(
                f"For 'ConfusionMatrix', 'normalize' must be one of {_NORMALIZE}, but got {normalize!r}."
            )
        self.num_classes = num_classes
        self.normalize = normalize
        self.threshold = float(threshold)
        self.clear()

    def clear(self) -> None:
        """Reset the counts."""
        self.confusion_matrix = np.zeros((self.num_classes, self.num_classes))
        self._is_update = False

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch of ``y_pred`` and ``y``.

        Raises:
            ValueError: for other than two inputs, bad shapes or labels out of range.
        """
        if len(inputs) != 2:
            raise ValueError(f"For 'ConfusionMatrix.update', expected 2 inputs, got {len(inputs)}.")
        y_pred = self._convert_data(inputs[0])
        y = self._convert_data(inputs[1]).reshape(-1).astype(np.int64)
        if y_pred.ndim == 2 and y_pred.shape[0] == y.size and y_pred.shape[1] > 1:
            pred = y_pred.argmax(axis=1)
        elif y_pred.size == y.size:
            pred = (y_pred.reshape(-1) > self.threshold).astype(np.int64)
        else:
            raise ValueError(
                f"For 'ConfusionMatrix.update', 'y_pred' must have the shape of 'y' or one more "
                f"class axis, but got {y_pred.shape} and {y.shape}."
            )
        k = self.num_classes
        if y.size and (min(y.min(), pred.min()) < 0 or max(y.max(), pred.max()) >= k):
            raise ValueError(f"For 'ConfusionMatrix.update', classes must lie in [0, {k}).")
        self.confusion_matrix += np.bincount(k * y + pred, minlength=k * k).reshape(k, k)
        self._is_update = True

    def eval(self) -> np.ndarray:
        """The (num_classes, num_classes) matrix, normalised as asked.

        Raises:
            RuntimeError: before any ``update``.
        """
        if not self._is_update:
            raise no_samples("ConfusionMatrix")
        m = self.confusion_matrix.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.normalize == "target":
                m = m / m.sum(axis=1, keepdims=True)
            elif self.normalize == "prediction":
                m = m / m.sum(axis=0, keepdims=True)
            elif self.normalize == "all":
                m = m / m.sum()
        return np.nan_to_num(m)
