"""``jit``: compile a function (or a Cell) once per input signature, replay it after.

The first call with a new signature traces the function while running it eagerly (so it
returns that run's result and applies its side effects, an optimizer step say), then
compiles the graph. Later calls with the same signature run the compiled program: no
operator dispatch, no validation, no tape, fused elementwise kernels. The signature is
the shapes, dtypes and devices of the Tensor arguments, the other arguments' values, the
gradient mode and the cells' train/eval phase.

Example:
    >>> import npukernel as npk
    >>> @npk.jit
    ... def f(x):
    ...     return npk.ops.relu(x) * 2.0
    >>> f(npk.Tensor([1.0, -1.0])).asnumpy().tolist()
    [2.0, 0.0]
    >>> f(npk.Tensor([3.0, -1.0])).asnumpy().tolist()   # replayed, not traced
    [6.0, 0.0]
    >>> f.compiles
    1
"""

from __future__ import annotations

import functools
import operator
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from npukernel import autograd, tracing
from npukernel.errors import GraphError
from npukernel.graph.compiler import Compiled, compile_fn
from npukernel.graph.ir import CONST, PARAM
from npukernel.graph.tracer import _Leaf, flatten, unflatten
from npukernel.tensor import Tensor

_state = {"phase": 0, "last_compile_s": 0.0}
_FALLBACK = object()


def bump_phase() -> None:
    """Invalidate compiled signatures (a cell switched between train and eval)."""
    _state["phase"] += 1


def last_compile_seconds() -> float:
    """Seconds the most recent compile took (tracing run included)."""
    return _state["last_compile_s"]


def _key(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        d = obj._data
        return ("T", d.shape, d.dtype.str, obj._device.name)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__, *(_key(o) for o in obj))
    if isinstance(obj, dict):
        return ("dict", *((k, _key(v)) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))))
    if isinstance(obj, np.ndarray):
        raise GraphError(
            "For 'jit', pass arrays as npukernel.Tensor (a numpy array argument would be "
            "frozen into the graph as a constant)."
        )
    try:
        hash(obj)
    except TypeError:
        return ("id", id(obj))
    return obj


class JitFunction:
    """A compiled-on-demand function; see :func:`jit`.

    Attributes:
        compiles: How many signatures have been compiled.
        compile_seconds: Compile time of each.
    """

    def __init__(self, fn: Callable, fallback: bool = False, fusion: bool = True,
                 name: str | None = None) -> None:  # fmt: skip
        self.fn = fn
        self.fallback = fallback
        self.fusion = fusion
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)
        self._cache: dict[Any, Any] = {}
        self.compile_seconds: list[float] = []
        functools.update_wrapper(self, fn, updated=())

    @property
    def compiles(self) -> int:
        """Number of signatures compiled so far."""
        return len(self.compile_seconds)

    def compiled(self, *args: Any, **kwargs: Any) -> Compiled | None:
        """The compiled entry for these arguments' signature (None if not compiled)."""
        entry = self._cache.get(self._signature(args, kwargs))
        return entry if isinstance(entry, Compiled) else None

    def _signature(self, args: tuple, kwargs: dict) -> Any:
        return (_key(args), _key(kwargs), autograd._mode.enabled, _state["phase"])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run: replay the compiled graph of this signature, compiling it first if new."""
        if tracing.state.tracer is not None:  # inside another jit: trace through
            return self.fn(*args, **kwargs)
        fast = _fast_key(args, kwargs)
        if fast is not None:  # the common case (Tensors only), without the generic walk
            entry = self._cache.get(fast)
            if isinstance(entry, Compiled) and _params_unchanged(entry):
                return _outputs(entry, entry.program.run([a._data for a in args]))
        key = self._signature(args, kwargs)
        entry = self._cache.get(key)
        if entry is None:
            return self._compile(key, args, kwargs)
        if entry is _FALLBACK:
            return self.fn(*args, **kwargs)
        if not _params_unchanged(entry):
            del self._cache[key]
            return self._compile(key, args, kwargs)
        leaves: list[Tensor] = []
        flatten((args, kwargs), leaves)
        outs = entry.program.run([t._data for t in leaves])
        return _outputs(entry, outs)

    def _compile(self, key: Any, args: tuple, kwargs: dict) -> Any:
        fast = _fast_key(args, kwargs)  # computed before the run: tracing may change phase
        result = self._compile_entry(key, args, kwargs)
        if fast is not None and isinstance(self._cache.get(key), Compiled):
            self._cache[fast] = self._cache[key]  # file it for the quick path too
        return result

    def _compile_entry(self, key: Any, args: tuple, kwargs: dict) -> Any:
        try:
            entry = compile_fn(self.fn, args, kwargs, self.name, self.fusion)
        except GraphError as exc:
            if not self.fallback:
                raise
            warnings.warn(f"{exc} Falling back to PYNATIVE for this signature.", stacklevel=3)
            self._cache[key] = _FALLBACK
            return self.fn(*args, **kwargs)
        self._cache[key] = entry
        self.compile_seconds.append(entry.seconds)
        _state["last_compile_s"] = entry.seconds
        dev = entry.program.device
        if dev is not None:  # the profiler shows compile time apart from step time
            dev.record_launch(f"compile:{self.name}", (), "float32", 0, 0, "scalar", entry.seconds)
        params = entry.program.graph.params
        entry.param_meta = [(v.param, v.shape, np.dtype(v.dtype)) for v in params]
        entry.param_arrays = [v.param._data for v in params]
        outs = entry.program.graph.outputs
        entry.one_tensor = (
            len(outs) == 1
            and outs[0].kind not in (PARAM, CONST)
            and dev is not None
            and isinstance(entry.program.graph.out_tree, _Leaf)
        )
        result = entry.result
        entry.result = None  # do not keep the first run's tensors alive
        return result


def _fast_key(args: tuple, kwargs: dict) -> Any:
    """The signature of an all-Tensor positional call (None for any other call).

    Keyed by the dtype and device objects themselves (``dtype.str`` and ``device.name``
    built or looked up strings on every call); it only has to agree with itself.
    """
    if kwargs:
        return None
    parts = []
    for a in args:
        if type(a) is not Tensor:
            return None
        d = a._data
        parts.append((d.shape, d.dtype, a._device))
    return (tuple(parts), autograd._mode.enabled, _state["phase"])


def _params_unchanged(entry: Compiled) -> bool:
    """Whether every parameter still has its traced shape and dtype.

    The quick test is identity: optimizers update the arrays in place, so the same array
    objects mean nothing changed (one C-level pass, ~1 us for ResNet-20's 65 parameters,
    where reading shapes and dtypes took ~20 us). A replaced array is checked in full.
    """
    arrays = [p._data for p, _, _ in entry.param_meta]
    if all(map(operator.is_, arrays, entry.param_arrays)):
        return True
    for d, (_, shape, dtype) in zip(arrays, entry.param_meta):
        if d.shape != shape or d.dtype != dtype:
            return False
    entry.param_arrays = arrays
    return True


def _outputs(entry: Compiled, arrays: tuple) -> Any:
    g = entry.program.graph
    dev = entry.program.device
    if entry.one_tensor:  # the common case: the result is one computed Tensor
        return Tensor._wrap(arrays[0], dev)
    leaves = []
    for v, arr in zip(g.outputs, arrays):
        if v.kind == PARAM:
            leaves.append(v.param)
        else:
            data = arr.copy() if v.kind == CONST else arr
            leaves.append(Tensor._wrap(data, dev if dev is not None else _default_device()))
    return unflatten(g.out_tree, leaves)


def _default_device() -> Any:
    from npukernel import device

    return device.default()


def jit(fn: Callable | None = None, *, fallback: bool = False, fusion: bool = True,
        name: str | None = None) -> Any:  # fmt: skip
    """Compile ``fn`` into a graph per input signature (``mindspore.jit``).

    Args:
        fn: A function of Tensors (or a Cell). Used bare (``@jit``) or with options.
        fallback: On a construct the tracer cannot handle, warn and run eagerly instead of
            raising ``GraphError``.
        fusion: Fuse elementwise chains (turn off to compare).
        name: Name shown in the IR, debug output and profiler (default: the function's).

    Returns:
        A :class:`JitFunction`.

    Raises:
        GraphError: (on call) for data-dependent Python control flow or value reads, with
            the file and line, unless ``fallback``.

    Example:
        >>> import npukernel as npk
        >>> step = npk.jit(lambda x: (x * x).sum())
        >>> step(npk.Tensor([1.0, 2.0])).item()
        5.0
    """
    if fn is None:
        return lambda f: JitFunction(f, fallback, fusion, name)
    return JitFunction(fn, fallback, fusion, name)


def compiled(target: Any, *args: Any, **kwargs: Any) -> Compiled | None:
    """The compiled entry a JitFunction or a GRAPH_MODE Cell has for these arguments.

    Args:
        target: A :class:`JitFunction` or a Cell that has been called in GRAPH_MODE.
        *args: Arguments of the signature to look up (as they would be passed).
        **kwargs: Keyword arguments of the signature.

    Returns:
        The :class:`~npukernel.graph.compiler.Compiled` (its ``stats``, ``program.graph``,
        ``program.source``), or None if that signature has not been compiled.

    Example:
        >>> import npukernel as npk
        >>> f = npk.jit(lambda x: x * 2.0)
        >>> _ = f(npk.Tensor([1.0]))
        >>> compiled(f, npk.Tensor([5.0])).stats["kernels"]
        1
    """
    if not isinstance(target, JitFunction):
        target = getattr(target, "__dict__", {}).get("_compiled")
        if target is None:
            return None
    return target.compiled(*args, **kwargs)
