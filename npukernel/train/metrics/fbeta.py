"""``Fbeta`` and ``F1``: the weighted harmonic mean of precision and recall, per class.

Example:
    >>> import numpy as np
    >>> from npukernel.train import F1
    >>> m = F1()
    >>> m.update(np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), np.array([0, 1, 1]))
    >>> np.round(m.eval(), 4).tolist()
    [0.6667, 0.6667]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.train.metrics.metric import EPS, Metric, no_samples, one_hot_pair, rearrange_inputs


class Fbeta(Metric):
    """Per-class F-beta score (MindSpore's ``mindspore.train.Fbeta``).

    ``fbeta = (1 + beta²) · precision · recall / (beta² · precision + recall)``

    Args:
        beta: Weight of recall relative to precision (> 0).

    Raises:
        ValueError: if ``beta`` is not positive.

    Example:
        >>> import numpy as np
        >>> Fbeta(1.0)(np.array([[0.9, 0.1]]), np.array([0])).tolist()
        [1.0, 0.0]
    """

    def __init__(self, beta: float) -> None:
        super().__init__()
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(f"For 'Fbeta', 'beta' must be a positive number, but got {beta!r}.")
        self.beta = float(beta)
        self.clear()

    def clear(self) -> None:
        """Reset the counts."""
        self._class_num = 0
        self._true_positives: Any = 0
        self._positives: Any = 0
        self._actual_positives: Any = 0

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch of ``y_pred`` (N, C) and ``y`` (N,) or one-hot (N, C).

        Raises:
            ValueError: for other than two inputs, bad shapes or a changing class count.
        """
        if len(inputs) != 2:
            raise ValueError(f"For 'Fbeta.update', expected 2 inputs, got {len(inputs)}.")
        pred, true = one_hot_pair(
            self._convert_data(inputs[0]), self._convert_data(inputs[1]), "classification", "Fbeta"
        )
        if self._class_num and pred.shape[1] != self._class_num:
            raise ValueError(
                f"For 'Fbeta.update', the class count changed from {self._class_num} to "
                f"{pred.shape[1]}."
            )
        self._class_num = pred.shape[1]
        self._true_positives = self._true_positives + (pred * true).sum(axis=0)
        self._positives = self._positives + pred.sum(axis=0)
        self._actual_positives = self._actual_positives + true.sum(axis=0)

    def eval(self, average: bool = False) -> np.ndarray | float:
        """Per-class F-beta, or their mean with ``average=True``.

        Raises:
            RuntimeError: before any ``update``.
        """
        if self._class_num == 0:
            raise no_samples("Fbeta")
        b2 = self.beta**2
        precision = self._true_positives / (self._positives + EPS)
        recall = self._true_positives / (self._actual_positives + EPS)
        result = (1 + b2) * precision * recall / (b2 * precision + recall + EPS)
        return float(result.mean()) if average else result


class F1(Fbeta):
    """Per-class F1 score (``Fbeta(1.0)``; MindSpore's ``mindspore.train.F1``).

    Example:
        >>> import numpy as np
        >>> F1()(np.array([[0.2, 0.8]]), np.array([1])).tolist()
        [0.0, 1.0]
    """

    def __init__(self) -> None:
        super().__init__(1.0)
