"""``Callback``, ``RunContext`` and the list that calls them (MindSpore's callback API).

``Model.train`` calls, in order::

    on_train_begin
      on_train_epoch_begin
        on_train_step_begin, on_train_step_end      (once per batch)
      [on_eval_begin ... on_eval_end]                (``fit`` with a validation set)
      on_train_epoch_end
    on_train_end

Each hook receives a :class:`RunContext`; ``run_context.original_args()`` is the
``cb_params`` namespace that holds everything known about the run (see
:class:`CallbackParams`). The pre-2.0 names (``begin``, ``epoch_begin``, ``step_begin``,
``step_end``, ``epoch_end``, ``end``) still work: the default ``on_*`` hooks call them.

Example:
    >>> from npukernel.train import Callback
    >>> class PrintLoss(Callback):
    ...     def on_train_step_end(self, run_context):
    ...         cb = run_context.original_args()
    ...         print(cb.cur_step_num, cb.loss)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger("npukernel.train")


class CallbackParams(dict):
    """The run's state, readable as attributes (MindSpore's ``_InternalCallbackParam``).

    Keys set by ``Model`` during training:

    ============================ ===============================================
    ``train_network``            the cell called once per step
    ``network``                  the user's network
    ``optimizer``, ``loss_fn``   as given to ``Model``
    ``train_dataset``            the dataset being trained on
    ``epoch_num``, ``batch_num`` epochs to run, steps per epoch (None if unknown)
    ``cur_epoch_num``            current epoch, from 1
    ``cur_step_num``             global step, from 1
    ``cur_step_in_epoch``        step within the epoch, from 1
    ``net_outputs``              what ``train_network`` returned for this step
    ``loss``                     the step's loss as a float
    ``learning_rate``            the optimizer's learning rate for this step
    ``batch_size``               samples in this step's batch
    ``step_time``, ``throughput`` seconds for the step, samples per second
    ``epoch_time``               seconds for the epoch (at epoch end)
    ``eval_results``             metrics of the last validation (``fit``)
    ``mode``                     ``"train"`` or ``"eval"``
    ``interrupted``              True once Ctrl-C stopped the run
    ``last_checkpoint``          path of the newest checkpoint written, if any
    ============================ ===============================================

    Example:
        >>> p = CallbackParams(cur_epoch_num=1)
        >>> p.cur_epoch_num, p["cur_epoch_num"]
        (1, 1)
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"cb_params has no attribute '{name}'") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class RunContext:
    """What a callback hook receives: the run's parameters and a way to stop it.

    Args:
        original_args: The :class:`CallbackParams` of the run.

    Example:
        >>> ctx = RunContext(CallbackParams(cur_step_num=3))
        >>> ctx.original_args().cur_step_num
        3
        >>> ctx.request_stop(); ctx.get_stop_requested()
        True
    """

    def __init__(self, original_args: dict) -> None:
        if not isinstance(original_args, dict):
            raise TypeError(
                f"For 'RunContext', 'original_args' must be a dict, but got {type(original_args).__name__}."
            )
        self._original_args = original_args
        self._stop_requested = False

    def original_args(self) -> CallbackParams:
        """The run's ``cb_params``."""
        return self._original_args  # type: ignore[return-value]

    def request_stop(self) -> None:
        """Ask the loop to stop after the current step (or epoch, or evaluation)."""
        self._stop_requested = True

    def get_stop_requested(self) -> bool:
        """Whether :meth:`request_stop` was called."""
        return self._stop_requested


class Callback:
    """Base class of training callbacks; override the hooks you need.

    Example:
        >>> class CountSteps(Callback):
        ...     def __init__(self):
        ...         self.steps = 0
        ...     def on_train_step_end(self, run_context):
        ...         self.steps += 1
    """

    def __enter__(self) -> Callback:
        return self

    def __exit__(self, *err: object) -> None:
        return None

    # pre-2.0 names, still called by the default hooks below
    def begin(self, run_context: RunContext) -> None:
        """Called once before the network runs (train or eval)."""

    def epoch_begin(self, run_context: RunContext) -> None:
        """Called at the start of each epoch."""

    def epoch_end(self, run_context: RunContext) -> None:
        """Called at the end of each epoch."""

    def step_begin(self, run_context: RunContext) -> None:
        """Called before each step."""

    def step_end(self, run_context: RunContext) -> None:
        """Called after each step."""

    def end(self, run_context: RunContext) -> None:
        """Called once after the last step."""

    # MindSpore 2.x hooks
    def on_train_begin(self, run_context: RunContext) -> None:
        """Before the first training step."""
        self.begin(run_context)

    def on_train_epoch_begin(self, run_context: RunContext) -> None:
        """At the start of each training epoch."""
        self.epoch_begin(run_context)

    def on_train_step_begin(self, run_context: RunContext) -> None:
        """Before each training step."""
        self.step_begin(run_context)

    def on_train_step_end(self, run_context: RunContext) -> None:
        """After each training step (``cb_params.loss``, ``step_time``... are set)."""
        self.step_end(run_context)

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """At the end of each training epoch (after validation in ``fit``)."""
        self.epoch_end(run_context)

    def on_train_end(self, run_context: RunContext) -> None:
        """After training, also when it was stopped or interrupted."""
        self.end(run_context)

    def on_eval_begin(self, run_context: RunContext) -> None:
        """Before the first evaluation step."""
        self.begin(run_context)

    def on_eval_epoch_begin(self, run_context: RunContext) -> None:
        """At the start of the evaluation pass."""
        self.epoch_begin(run_context)

    def on_eval_step_begin(self, run_context: RunContext) -> None:
        """Before each evaluation step."""
        self.step_begin(run_context)

    def on_eval_step_end(self, run_context: RunContext) -> None:
        """After each evaluation step."""
        self.step_end(run_context)

    def on_eval_epoch_end(self, run_context: RunContext) -> None:
        """At the end of the evaluation pass."""
        self.epoch_end(run_context)

    def on_eval_end(self, run_context: RunContext) -> None:
        """After evaluation (``cb_params.metrics`` holds the results)."""
        self.end(run_context)


_HOOKS = (
    "on_train_begin", "on_train_epoch_begin", "on_train_step_begin", "on_train_step_end",
    "on_train_epoch_end", "on_train_end", "on_eval_begin", "on_eval_epoch_begin",
    "on_eval_step_begin", "on_eval_step_end", "on_eval_epoch_end", "on_eval_end",
)  # fmt: skip


class CallbackList(Callback):
    """Several callbacks called in order, as one.

    Args:
        callbacks: Callbacks (or None).

    Raises:
        TypeError: for an item that is not a Callback.

    Example:
        >>> cbs = CallbackList([Callback(), Callback()])
        >>> len(cbs.callbacks)
        2
    """

    def __init__(self, callbacks: Iterable[Callback] | Callback | None = None) -> None:
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks: list[Callback] = []
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"For 'Model', each callback must be a Callback, but got {type(cb).__name__}."
                )
            self.callbacks.append(cb)

    def __enter__(self) -> CallbackList:
        for cb in self.callbacks:
            cb.__enter__()
        return self

    def __exit__(self, *err: object) -> None:
        for cb in self.callbacks:
            cb.__exit__(*err)

    def find(self, kind: type) -> list[Any]:
        """The callbacks that are instances of ``kind``."""
        return [cb for cb in self.callbacks if isinstance(cb, kind)]


def _make_hook(name: str) -> Any:
    def hook(self: CallbackList, run_context: RunContext) -> None:
        for cb in self.callbacks:
            getattr(cb, name)(run_context)

    hook.__name__ = name
    hook.__doc__ = f"Call ``{name}`` of every callback, in order."
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, _make_hook(_name))
