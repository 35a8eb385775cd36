"""``LearningRateScheduler``: change the optimizer's learning rate after each step.

Example:
    >>> from npukernel.train import LearningRateScheduler
    >>> decay = LearningRateScheduler(lambda lr, step: lr * 0.9 if step % 100 == 0 else lr)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from npukernel.train.callback._callback import Callback, RunContext


class LearningRateScheduler(Callback):
    """Set ``lr = learning_rate_function(lr, cur_step_num)`` after every step (MindSpore's).

    The optimizer must have a fixed (scalar) learning rate Parameter,
    ``optimizer.learning_rate``; it is changed in place, so the change is saved in
    checkpoints with the rest of the optimizer state.

    Args:
        learning_rate_function: ``f(lr: float, step: int) -> float``.

    Raises:
        TypeError: if the function is not callable.

    Example:
        >>> halve = LearningRateScheduler(lambda lr, step: lr / 2 if step == 10 else lr)
    """

    def __init__(self, learning_rate_function: Callable[[float, int], float]) -> None:
        if not callable(learning_rate_function):
            raise TypeError(
                "For 'LearningRateScheduler', 'learning_rate_function' must be callable, "
                f"but got {learning_rate_function!r}."
            )
        self.learning_rate_function = learning_rate_function

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Apply the function to the current learning rate.

        Raises:
            ValueError: if the optimizer has no scalar ``learning_rate`` Parameter.
        """
        cb = run_context.original_args()
        param = getattr(cb.get("optimizer"), "learning_rate", None)
        if param is None or not hasattr(param, "assign_value") or param.size != 1:
            raise ValueError(
                "For 'LearningRateScheduler', the optimizer needs a fixed scalar learning rate "
                "(a float, not a schedule), stored as the Parameter 'optimizer.learning_rate'."
            )
        lr = float(np.asarray(param.asnumpy()).reshape(-1)[0])
        new_lr = float(self.learning_rate_function(lr, cb.cur_step_num))
        if not math.isclose(lr, new_lr, rel_tol=1e-10):
            param.assign_value(np.full(param.shape, new_lr, dtype=param.dtype))
