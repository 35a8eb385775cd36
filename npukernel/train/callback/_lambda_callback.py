"""``LambdaCallback``: a callback made of plain functions.

Example:
    >>> from npukernel.train import LambdaCallback
    >>> cb = LambdaCallback(on_train_step_end=lambda ctx: None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from npukernel.train.callback._callback import _HOOKS, Callback, RunContext

Hook = Callable[[RunContext], Any] | None


class LambdaCallback(Callback):
    """Build a callback from functions, one per hook (MindSpore's ``LambdaCallback``).

    Args:
        on_train_begin ... on_eval_end: Functions ``f(run_context)`` for those hooks.

    Example:
        >>> seen = []
        >>> cb = LambdaCallback(on_train_begin=lambda ctx: seen.append("begin"))
        >>> cb.on_train_begin(None); seen
        ['begin']
    """

    def __init__(
        self, on_train_epoch_begin: Hook = None, on_train_epoch_end: Hook = None,
        on_train_step_begin: Hook = None, on_train_step_end: Hook = None,
        on_train_begin: Hook = None, on_train_end: Hook = None,
        on_eval_epoch_begin: Hook = None, on_eval_epoch_end: Hook = None,
        on_eval_step_begin: Hook = None, on_eval_step_end: Hook = None,
        on_eval_begin: Hook = None, on_eval_end: Hook = None,
    ) -> None:  # fmt: skip
        given = dict(locals())
        for name in _HOOKS:
            fn = given[name]
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"For 'LambdaCallback', '{name}' must be callable, got {fn!r}.")
                setattr(self, name, fn)
            else:
                setattr(self, name, lambda run_context: None)
