"""``TimeMonitor``: print epoch time, step time and throughput.

Example:
    >>> from npukernel.train import TimeMonitor
    >>> monitor = TimeMonitor()
"""

from __future__ import annotations

import time

from npukernel.train.callback._callback import Callback, RunContext


class TimeMonitor(Callback):
    """Print ``epoch time: ... ms, per step time: ... ms, throughput: ... samples/s``.

    Times cover the whole epoch, data loading and callbacks included; the per-step
    network time alone is on ``cb_params.step_time``.

    Args:
        data_size: Steps per epoch used when the dataset cannot tell (MindSpore's
            meaning); ``batch_num`` from the run takes precedence.

    Raises:
        ValueError: if ``data_size`` is not a positive int.

    Example:
        >>> TimeMonitor(data_size=100).data_size
        100
    """

    def __init__(self, data_size: int | None = None) -> None:
        if data_size is not None and (
            isinstance(data_size, bool) or not isinstance(data_size, int) or data_size < 1
        ):
            raise ValueError(
                f"For 'TimeMonitor', 'data_size' must be a positive int, but got {data_size!r}."
            )
        self.data_size = data_size
        self.epoch_time = 0.0
        self._start = 0.0
        self._samples = 0
        self._steps = 0

    def on_train_epoch_begin(self, run_context: RunContext) -> None:
        """Start the epoch clock."""
        self._start = time.perf_counter()
        self._samples = 0
        self._steps = 0

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Count samples."""
        cb = run_context.original_args()
        self._samples += cb.get("batch_size") or 0
        self._steps += 1

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Print the epoch's timing."""
        cb = run_context.original_args()
        elapsed = time.perf_counter() - self._start
        self.epoch_time = elapsed
        steps = self._steps or cb.get("batch_num") or self.data_size or 1
        line = (
            f"epoch time: {elapsed * 1e3:5.3f} ms, per step time: {elapsed * 1e3 / steps:5.3f} ms"
        )
        if self._samples and elapsed > 0:
            line += f", throughput: {self._samples / elapsed:.1f} samples/s"
        print(line, flush=True)
