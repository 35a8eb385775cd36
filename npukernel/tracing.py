"""The hook through which graph mode watches eager execution.

Graph mode (``npukernel.graph``) sits above the operators, yet it has to see every
operator call, every host-side update (an optimizer step, BatchNorm's running
statistics) and every place where Python reads a tensor's value. The lower layers call
the functions below; they cost one attribute check while nothing is being traced.

Example:
    >>> from npukernel import tracing
    >>> tracing.active() is None
    True
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class _State(threading.local):
    tracer: Any = None


state = _State()


def active() -> Any:
    """The tracer recording right now, or None."""
    return state.tracer


def host_call(name: str, fn: Callable[..., Any], inputs: tuple, mutates: tuple = ()) -> Any:
    """Run ``fn(*arrays)`` (host code on tensors' arrays); a tracer records it as one node.

    Use it for work that is not an operator but must be replayed by a compiled graph:
    in-place updates of Parameters, say. ``inputs`` are Tensors read, ``mutates`` Tensors
    written in place; ``fn`` receives the arrays of ``inputs`` then ``mutates``.

    Example:
        >>> import npukernel as npk
        >>> w = npk.Parameter(npk.Tensor([1.0]), name="w")
        >>> host_call("scale", lambda a: a.__imul__(2.0), (), (w,)) is not None
        True
        >>> w.item()
        2.0
    """
    arrays = [t._data for t in inputs] + [t._data for t in mutates]
    result = fn(*arrays)
    tracer = state.tracer
    if tracer is not None:
        tracer.record_host(name, fn, inputs, mutates)
    return result


def read(tensor: Any, how: str) -> None:
    """Called before Python reads a tensor's value (``bool(t)``, ``t.item()``...)."""
    tracer = state.tracer
    if tracer is not None:
        tracer.on_read(tensor, how)


def write(tensor: Any, how: str) -> None:
    """Called before Python changes a tensor's array in place (``t[i] = v``)."""
    tracer = state.tracer
    if tracer is not None:
        tracer.on_write(tensor, how)


def fresh_seed(seed: int) -> None:
    """Called with each seed drawn from the global generator for a random kernel."""
    tracer = state.tracer
    if tracer is not None:
        tracer.on_seed(seed)
