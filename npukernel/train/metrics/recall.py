"""``Recall``: of the samples of a class, the fraction predicted as that class.

Example:
    >>> import numpy as np
    >>> from npukernel.train import Recall
    >>> m = Recall()
    >>> m.update(np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), np.array([0, 1, 1]))
    >>> m.eval().tolist()
    [1.0, 0.5]
"""

from __future__ import annotations

import numpy as np

from npukernel.train.metrics.precision import PerClassRate


class Recall(PerClassRate):
    """Per-class recall ``tp / (tp + fn)`` (MindSpore's ``mindspore.train.Recall``).

    Args:
        eval_type: ``"classification"`` or ``"multilabel"`` (see :class:`Accuracy`).

    Example:
        >>> import numpy as np
        >>> Recall()(np.array([[0.9, 0.1]]), np.array([0])).tolist()
        [1.0, 0.0]
    """

    _name = "Recall"

    @staticmethod
    def _denominator(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
        return true.sum(axis=0)
