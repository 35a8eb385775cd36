"""``LossMonitor``: print the loss every few steps, and stop on a NaN or infinite loss.

Example:
    >>> from npukernel.train import LossMonitor
    >>> monitor = LossMonitor(per_print_times=100)
"""

from __future__ import annotations

import math

from npukernel.train.callback._callback import Callback, RunContext


class LossMonitor(Callback):
    """Print ``epoch: E step: S, loss is L`` every ``per_print_times`` steps (MindSpore's).

    Args:
        per_print_times: Print every this many steps; 0 prints only the epoch summary.

    Raises:
        ValueError: if ``per_print_times`` is negative; and during training, if the loss
            becomes NaN or infinite.

    Example:
        >>> from npukernel.train import Model, LossMonitor
        >>> # model.train(1, ds, callbacks=[LossMonitor(10)])
        >>> LossMonitor(10).per_print_times
        10
    """

    def __init__(self, per_print_times: int = 1) -> None:
        if isinstance(per_print_times, bool) or not isinstance(per_print_times, int):
            raise TypeError(
                f"For 'LossMonitor', 'per_print_times' must be an int, but got {per_print_times!r}."
            )
        if per_print_times < 0:
            raise ValueError(
                f"For 'LossMonitor', 'per_print_times' must be >= 0, but got {per_print_times}."
            )
        self.per_print_times = per_print_times
        self._last_print_step = 0

    def on_train_begin(self, run_context: RunContext) -> None:
        """Reset the print counter."""
        self._last_print_step = run_context.original_args().cur_step_num

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Check the loss and print it every ``per_print_times`` steps."""
        cb = run_context.original_args()
        loss = cb.loss
        step = cb.cur_step_in_epoch
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            raise ValueError(
                f"epoch: {cb.cur_epoch_num} step: {step}. Invalid loss {loss}, terminating training."
            )
        if self.per_print_times and cb.cur_step_num - self._last_print_step >= self.per_print_times:
            self._last_print_step = cb.cur_step_num
            print(f"epoch: {cb.cur_epoch_num} step: {step}, loss is {loss}", flush=True)

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Print the validation results of ``fit``, if any."""
        cb = run_context.original_args()
        results = cb.get("eval_results")
        if results:
            print(f"Eval result: epoch {cb.cur_epoch_num}, metrics: {results}", flush=True)
