"""``Loss``: the mean of the per-batch losses seen during an evaluation.

Example:
    >>> from npukernel.train import Loss
    >>> m = Loss()
    >>> m.update(0.5); m.update(1.5)
    >>> m.eval()
    1.0
"""

from __future__ import annotations

from typing import Any

from npukernel.train.metrics.metric import Metric, no_samples, rearrange_inputs


class Loss(Metric):
    """Average of the loss over batches (MindSpore's ``mindspore.train.Loss``).

    ``update(loss)`` takes a scalar (or a 1-D loss, which is averaged first); ``eval``
    returns ``sum(batch_losses) / number_of_batches``.

    Example:
        >>> import numpy as np
        >>> Loss()(np.array([1.0, 3.0]))
        2.0
    """

    def __init__(self) -> None:
        super().__init__()
        self.clear()

    def clear(self) -> None:
        """Reset the sums."""
        self._sum_loss = 0.0
        self._total_num = 0

    @rearrange_inputs
    def update(self, *inputs: Any) -> None:
        """Accumulate one batch's loss.

        Raises:
            ValueError: for other than one input or a loss of rank above 1.
        """
        if len(inputs) != 1:
            raise ValueError(f"For 'Loss.update', expected 1 input (loss), got {len(inputs)}.")
        loss = self._convert_data(inputs[0])
        if loss.ndim == 0:
            loss = loss.reshape(1)
        if loss.ndim != 1:
            raise ValueError(
                f"For 'Loss.update', the loss must be a scalar or 1-D, but got shape {loss.shape}."
            )
        self._sum_loss += float(loss.mean(-1))
        self._total_num += 1

    def eval(self) -> float:
        """The mean loss.

        Raises:
            RuntimeError: before any ``update``.
        """
        if self._total_num == 0:
            raise no_samples("Loss")
        return self._sum_loss / self._total_num
