"""``EarlyStopping``: stop training when a monitored value stops improving.

Example:
    >>> from npukernel.train import EarlyStopping
    >>> stop = EarlyStopping(monitor="eval_loss", patience=2, restore_best_weights=True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from npukernel.train.callback._callback import Callback, RunContext, logger

_HIGHER_IS_BETTER = ("acc", "precision", "recall", "f1", "fbeta", "top", "auc", "dice")


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (MindSpore's).

    The value is read at the end of each training epoch: ``"loss"`` is the epoch's
    mean training loss; any other name is looked up in ``cb_params.eval_results``
    (``fit`` fills it with the metrics and ``"eval_loss"``). Epochs without that value
    are skipped with a warning.

    Args:
        monitor: The quantity to watch.
        min_delta: Changes smaller than this do not count as improvement.
        patience: Epochs without improvement before stopping (0: stop at the first).
        verbose: Log when stopping.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names, else min).
        baseline: Stop if the value does not beat this within ``patience`` epochs.
        restore_best_weights: At the stop, put back the network's parameters from the
            best epoch.

    Raises:
        ValueError: for a bad ``mode`` or negative ``patience``/``min_delta``.

    Example:
        >>> EarlyStopping(monitor="accuracy").mode
        'max'
    """

    def __init__(self, monitor: str = "eval_loss", min_delta: float = 0, patience: int = 0,
                 verbose: bool = False, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False) -> None:  # fmt: skip
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                f"For 'EarlyStopping', 'mode' must be 'auto', 'min' or 'max', got {mode!r}."
            )
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(
                f"For 'EarlyStopping', 'patience' must be an int >= 0, got {patience!r}."
            )
        if min_delta < 0:
            raise ValueError(f"For 'EarlyStopping', 'min_delta' must be >= 0, got {min_delta!r}.")
        if mode == "auto":
            lowered = monitor.lower()
            mode = "max" if any(k in lowered for k in _HIGHER_IS_BETTER) else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = float(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float = math.inf if mode == "min" else -math.inf
        self.best_weights: dict[str, np.ndarray] | None = None

    def _improved(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, run_context: RunContext) -> None:
        """Reset the state."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)
        self.best_weights = None

    def _value(self, cb: Any) -> float | None:
        if self.monitor == "loss":
            value = cb.get("epoch_loss", cb.get("loss"))
        else:
            value = (cb.get("eval_results") or {}).get(self.monitor)
        if value is None:
            return None
        arr = np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value, dtype=float)
        return float(arr.mean())

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Compare the monitored value with the best so far; stop when out of patience."""
        cb = run_context.original_args()
        value = self._value(cb)
        if value is None:
            logger.warning(
                "EarlyStopping: '%s' is not available at epoch %s (available: loss, %s); skipped.",
                self.monitor, cb.cur_epoch_num, sorted(cb.get("eval_results") or {}),
            )  # fmt: skip
            return
        if self._improved(value, self.best):
            self.best = value
            self.wait = 0
            if self.restore_best_weights:
                net = cb.get("network")
                self.best_weights = {n: p.asnumpy().copy() for n, p in net.parameters_and_names()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = cb.cur_epoch_num
            run_context.request_stop()
            if self.restore_best_weights and self.best_weights is not None:
                for name, param in cb.get("network").parameters_and_names():
                    param.assign_value(self.best_weights[name])
            if self.verbose:
                logger.warning("EarlyStopping: epoch %s: stopping, best %s = %s.",
                               self.stopped_epoch, self.monitor, self.best)  # fmt: skip

    def on_train_end(self, run_context: RunContext) -> None:
        """Log the stop epoch when verbose."""
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch}: early stopping.", flush=True)
