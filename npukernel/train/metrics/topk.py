"""Top-k accuracy: the label is among the k highest scores.

Example:
    >>> import numpy as np
    >>> from npukernel.train import TopKCategoricalAccuracy
    >>> m = TopKCategoricalAccuracy(2)
    >>> m.update(np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), np.array([1, 0]))
    >>> m.eval()
    0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.train.metrics.metric import Metric, labels_of, no_samples, rearrange_inputs


class TopKCategoricalAccuracy(Metric):
    """Fraction of samples whose label is among the ``k`` top-scored classes.

    ``for i: correct += y[i] in argsort(-y_pred[i])[:k]``

    Args:
        k: How many top classes count (a positive int).

    Raises:
        TypeError: if ``k`` is not an int; ValueError if it is below 1.

    Example:
        >>> import numpy as np
        >>> TopKCategoricalAccuracy(1)(np.array([[0.1, 0.9]]), np.array([1]))
        1.0
    """

    def __init__(self, k: int) -> None:
        super().__init__()
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"For 'TopKCategoricalAccuracy', 'k' must be an int, but got {k!r}.")
        if k < 1:
            raise ValueError(f"For 'TopKCategoricalAccuracy', 'k' must be at least 1, but got {k}.")
        self.k = k
        self.clear()

    def clear(self) -> None:
        """Reset the counts."""
        self._correct_num = 0
        self._samples_num = 0

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch of ``y_pred`` (N, C) and ``y`` (N,) or one-hot (N, C).

        Raises:
            ValueError: for other than two inputs or inconsistent shapes.
        """
        if len(inputs) != 2:
            raise ValueError(
                f"For 'TopKCategoricalAccuracy.update', expected 2 inputs, got {len(inputs)}."
            )
        y_pred = self._convert_data(inputs[0])
        y = labels_of(self._convert_data(inputs[1]), y_pred)
        if y_pred.ndim != 2 or y.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"For 'TopKCategoricalAccuracy.update', 'y_pred' must be (N, C) and 'y' (N,), "
                f"but got {y_pred.shape} and {y.shape}."
            )
        top = np.argsort(-y_pred, axis=1, kind="stable")[:, : self.k]
        self._correct_num += int((top == y[:, None]).any(axis=1).sum())
        self._samples_num += y.shape[0]

    def eval(self) -> float:
        """The top-k accuracy in [0, 1].

        Raises:
            RuntimeError: before any ``update``.
        """
        if self._samples_num == 0:
            raise no_samples("TopKCategoricalAccuracy")
        return self._correct_num / self._samples_num


class Top1CategoricalAccuracy(TopKCategoricalAccuracy):
    """Top-1 accuracy (``TopKCategoricalAccuracy(1)``).

    Example:
        >>> import numpy as np
        >>> Top1CategoricalAccuracy()(np.array([[0.1, 0.9]]), np.array([0]))
        0.0
    """

    def __init__(self) -> None:
        super().__init__(1)


class Top5CategoricalAccuracy(TopKCategoricalAccuracy):
    """Top-5 accuracy (``TopKCategoricalAccuracy(5)``).

    Example:
        >>> import numpy as np
        >>> Top5CategoricalAccuracy()(np.arange(10.0)[None], np.array([5]))
        1.0
    """

    def __init__(self) -> None:
        super().__init__(5)
