"""Ctrl-C during training: finish (or roll back) the current step, never tear it.

While ``Model.train`` runs, SIGINT (Ctrl-C, or a Jupyter kernel interrupt) is turned
into a *request*: if it arrives during a train step, the step completes and training
stops after it; anywhere else (data loading, callbacks) it raises at once, which is
safe. A second interrupt during the same step aborts it, and the parameters and
optimizer state are restored from a copy taken before the step (:class:`StepSnapshot`).

Example:
    >>> with InterruptGuard() as guard:
    ...     guard.requested
    False
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from npukernel.train._state import save_train_state
from npukernel.train.callback import CallbackList, CallbackParams, ModelCheckpoint
from npukernel.train.callback._callback import logger


class InterruptGuard:
    """Context manager that defers SIGINT while ``in_step`` is set (main thread only).

    ``critical`` (set while the interrupted run saves its checkpoint) ignores further
    interrupts altogether.
    """

    def __init__(self) -> None:
        self.requested = False
        self.in_step = False
        self.critical = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except ValueError:  # pragma: no cover - e.g. an embedded interpreter
                self._installed = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.critical:
            logger.warning("Interrupted again: still saving the checkpoint, please wait.")
            return
        if self.in_step and not self.requested:
            self.requested = True
            logger.warning(
                "Interrupted: training stops after the current step "
                "(interrupt again to abort the step and roll it back)."
            )
            return
        raise KeyboardInterrupt


class StepSnapshot:
    """A copy of parameters taken before each step, to roll an aborted step back.

    Args:
        params: The Parameters the step may change (network and optimizer state).
    """

    def __init__(self, params: Iterable[Any]) -> None:
        self.params = list(params)
        self.buffers = [np.empty_like(p.asnumpy()) for p in self.params]

    def take(self) -> None:
        """Copy every parameter into the snapshot buffers."""
        for i, (p, buf) in enumerate(zip(self.params, self.buffers)):
            data = p.asnumpy()
            if buf.shape != data.shape or buf.dtype != data.dtype:
                buf = self.buffers[i] = np.empty_like(data)
            np.copyto(buf, data)

    def restore(self) -> None:
        """Put the snapshot back into the parameters."""
        for p, buf in zip(self.params, self.buffers):
            p.assign_value(buf)


def save_on_interrupt(cb: CallbackParams, cbs: CallbackList, default_path: Any) -> str | None:
    """Checkpoint an interrupted run and say where; return the path (None if none written).

    The first ``ModelCheckpoint`` among the callbacks writes it (so ``latest.json`` and
    ``resume_from=directory`` see it); otherwise it goes to ``default_path`` (``Model``'s
    ``interrupt_checkpoint``, ``interrupted.ckpt`` by default; None disables it).
    """
    where = f"epoch {cb.cur_epoch_num}, step {cb.cur_step_in_epoch} (global step {cb.cur_step_num})"
    ckpts = cbs.find(ModelCheckpoint)
    path = None
    if cb.cur_step_num > 0:
        if ckpts:
            path = ckpts[0].save(cb)
        elif default_path:
            path = save_train_state(os.fspath(default_path), cb)
    if path:
        cb.last_checkpoint = os.path.abspath(path)
        logger.warning("Training interrupted at %s; checkpoint saved to %s.", where,
                       cb.last_checkpoint)  # fmt: skip
        return cb.last_checkpoint
    logger.warning("Training interrupted at %s; no checkpoint written.", where)
    return None
