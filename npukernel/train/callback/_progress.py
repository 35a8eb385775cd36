"""``ProgressBar``: a terminal progress bar with ETA, loss and throughput (tqdm).

``Model.train`` adds one by default when standard output is a terminal and no
``LossMonitor`` is printing lines; in a notebook the training-monitor widget plays
this part.

Example:
    >>> from npukernel.train import ProgressBar
    >>> bar = ProgressBar()
"""

from __future__ import annotations

from typing import Any

from npukernel.train.callback._callback import Callback, RunContext


class ProgressBar(Callback):
    """One tqdm bar per epoch: steps done, ETA, loss, learning rate, samples/s.

    Args:
        refresh_every: Update the bar's numbers every this many steps.
        **tqdm_kwargs: Passed to ``tqdm.tqdm`` (``file``, ``ncols``, ``disable``...).

    Example:
        >>> ProgressBar(refresh_every=5).refresh_every
        5
    """

    def __init__(self, refresh_every: int = 1, **tqdm_kwargs: Any) -> None:
        self.refresh_every = max(int(refresh_every), 1)
        self.tqdm_kwargs = tqdm_kwargs
        self._bar: Any = None
        self._post: dict[str, str] = {}

    def on_train_epoch_begin(self, run_context: RunContext) -> None:
        """Open the epoch's bar."""
        from tqdm import tqdm

        cb = run_context.original_args()
        self.close()
        self._post = {}
        kwargs = {"unit": "step", "dynamic_ncols": True, "leave": True} | self.tqdm_kwargs
        self._bar = tqdm(total=cb.get("batch_num"),
                         desc=f"Epoch {cb.cur_epoch_num}/{cb.get('epoch_num')}", **kwargs)  # fmt: skip
        done = cb.get("cur_step_in_epoch") or 0
        if done:
            self._bar.update(done)

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Advance the bar."""
        if self._bar is None:
            return
        cb = run_context.original_args()
        self._bar.update(1)
        if cb.cur_step_num % self.refresh_every == 0:
            self._post["loss"] = f"{cb.get('loss', float('nan')):.4f}"
            if cb.get("learning_rate") is not None:
                self._post["lr"] = f"{cb.learning_rate:.3g}"
            if cb.get("throughput"):
                self._post["img/s"] = f"{cb.throughput:.0f}"
            self._bar.set_postfix(self._post, refresh=False)

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Show the validation results and close the bar."""
        cb = run_context.original_args()
        if self._bar is not None and cb.get("eval_results"):
            for k, v in cb.eval_results.items():
                if isinstance(v, float):
                    self._post[k] = f"{v:.4f}"
            self._bar.set_postfix(self._post)
        self.close()

    def on_train_end(self, run_context: RunContext) -> None:
        """Close any open bar (training stopped mid-epoch)."""
        self.close()

    def __exit__(self, *err: object) -> None:
        self.close()  # training raised: do not leave a half-drawn bar

    def close(self) -> None:
        """Close the current bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
