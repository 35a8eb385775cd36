"""``Accuracy``: the fraction of samples whose predicted class is the label.

Example:
    >>> import numpy as np
    >>> from npukernel.train import Accuracy
    >>> m = Accuracy()
    >>> m.update(np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]), np.array([1, 0, 0]))
    >>> round(m.eval(), 4)
    0.6667
"""

from __future__ import annotations

from typing import Any

from npukernel.train.metrics.metric import EvaluationBase, labels_of, no_samples, rearrange_inputs


class Accuracy(EvaluationBase):
    """Classification accuracy (MindSpore's ``mindspore.train.Accuracy``).

    For each sample (``for i: correct += argmax(y_pred[i]) == y[i]``)::

        accuracy = correct / total

    Args:
        eval_type: ``"classification"``: ``y_pred`` is (N, C) scores and ``y`` is (N,)
            labels or (N, C) one-hot; ``"multilabel"``: ``y_pred`` and ``y`` are (N, C)
            0/1 matrices (scores are thresholded at 0.5) and a sample counts as correct
            only when every class matches.

    Example:
        >>> import numpy as np
        >>> Accuracy()(np.array([[0.3, 0.7]]), np.array([1]))
        1.0
    """

    def __init__(self, eval_type: str = "classification") -> None:
        super().__init__(eval_type)
        self.clear()

    def clear(self) -> None:
        """Reset the counts."""
        self._correct_num = 0
        self._total_num = 0

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch.

        Args:
            *inputs: ``y_pred`` and ``y``.

        Raises:
            ValueError: for other than two inputs or inconsistent shapes.
        """
        if len(inputs) != 2:
            raise ValueError(
                f"For 'Accuracy.update', expected 2 inputs (y_pred, y), got {len(inputs)}."
            )
        y_pred = self._convert_data(inputs[0])
        y = self._convert_data(inputs[1])
        self._check_shape(y_pred, y, "Accuracy")
        if self._type == "classification":
            correct = y_pred.argmax(axis=1) == labels_of(y, y_pred)
        else:
            correct = ((y_pred > 0.5) == (y > 0.5)).reshape(len(y), -1).all(axis=1)
        self._correct_num += int(correct.sum())
        self._total_num += int(correct.size)

    def eval(self) -> float:
        """The accuracy in [0, 1].

        Raises:
            RuntimeError: before any ``update``.
        """
        if self._total_num == 0:
            raise no_samples("Accuracy")
        return self._correct_num / self._total_num
