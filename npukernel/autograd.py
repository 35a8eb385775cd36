"""Reverse-mode autodiff: a tape of ``Node`` objects and one reverse sweep.

An operator output gets a ``Node`` only when gradients are enabled and some input
requires a gradient. ``backward`` sorts the nodes reachable from the outputs
topologically and calls each OpDef's gradient rule once, summing the gradients that
reach a tensor along several paths (shared subgraphs) before passing them on. Gradient
rules are written with ordinary operators, so they are dispatched, profiled and costed
like the forward pass.

Example:
    >>> import npukernel as npk
    >>> x = npk.Tensor([1.0, 2.0, 3.0])
    >>> npk.grad(lambda x: (x * x).sum())(x)
    Tensor(shape=[3], dtype=float32, value=[2. 4. 6.])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from npukernel.errors import DTypeError, NpuError, ShapeError

if TYPE_CHECKING:
    from npukernel.ops.opdef import OpDef
    from npukernel.tensor import Tensor


class _GradMode(threading.local):
    enabled = True
    differentiating = (
        0  # > 0 while value_and_grad runs its function (graph mode must not compile it alone)
    )


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether operators currently record a tape."""
    return _mode.enabled


class no_grad:  # noqa: N801 - lower-case like torch.no_grad / mindspore's _no_grad
    """Context manager (and decorator) that stops operators from recording a tape.

    Example:
        >>> import npukernel as npk
        >>> w = npk.Parameter(npk.Tensor([1.0]), name="w")
        >>> with npk.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = False

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        """Use as a decorator: run ``fn`` without recording a tape."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
        return wrapper


class enable_grad(no_grad):  # noqa: N801
    """Context manager that turns tape recording back on inside ``no_grad``."""

    def __enter__(self) -> None:
        self._prev = _mode.enabled
        _mode.enabled = True


class Node:
    """One recorded operator call: what the gradient rule needs to run later.

    Attributes:
        op: The OpDef.
        inputs: Input tensors (kept alive until the tape is freed).
        out_data: Output arrays; ``ctx.output(i)`` wraps them as tensors.
        attrs: Normalised attributes.
        saved: Whatever the kernel saved for backward (``OpDef.saves``).
    """

    __slots__ = ("op", "inputs", "out_data", "out_storage", "attrs", "saved", "device")

    def __init__(self, op: OpDef, inputs: tuple, out_data: tuple, out_storage: tuple,
                 attrs: dict, saved: Any, device: Any) -> None:  # fmt: skip
        self.op = op
        self.inputs = inputs
        self.out_data = out_data
        self.out_storage = out_storage
        self.attrs = attrs
        self.saved = saved
        self.device = device

    def output(self, i: int = 0) -> Tensor:
        """Output ``i`` as a Tensor without a tape (for gradient rules that reuse it)."""
        from npukernel.tensor import Tensor

        return Tensor._wrap(self.out_data[i], self.device, self.out_storage[i])

    def input(self, i: int) -> Tensor:
        """Input ``i`` detached from the tape."""
        return self.inputs[i].detach()

    def __repr__(self) -> str:
        return f"<Node {self.op.name}>"


def _toposort(roots: Sequence[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, each after every node that consumes it."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.inputs))]
        while stack:
            node, it = stack[-1]
            for t in it:
                child = t._node
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _accumulate(table: dict, key: Any, g: Tensor) -> None:
    prev = table.get(key)
    table[key] = g if prev is None else prev + g


def backward(
    outputs: Sequence[Tensor], sens: Sequence[Tensor | None] | None = None,
    inputs: Sequence[Tensor] | None = None,
) -> list[Tensor | None]:  # fmt: skip
    """Gradients of ``outputs`` (weighted by ``sens``) with respect to ``inputs``.

    Args:
        outputs: Tensors to differentiate.
        sens: Upstream gradients, one per output (None = ones, as MindSpore's sens=1).
        inputs: Leaf or intermediate tensors whose gradients are wanted; when None,
            gradients are accumulated into ``.grad`` of every leaf that requires one.

    Returns:
        One gradient per input (None where an input is not reached), or ``[]`` when
        ``inputs`` is None.

    Raises:
        ShapeError: if a ``sens`` tensor's shape differs from its output's.
    """
    from npukernel.tensor import Tensor

    sens = list(sens) if sens is not None else [None] * len(outputs)
    node_grads: dict[tuple[int, int], Tensor] = {}
    leaf_grads: dict[int, Tensor] = {}
    leaves: dict[int, Tensor] = {}
    wanted = {id(t): t for t in inputs} if inputs is not None else None
    roots = []
    with no_grad():
        for out, s in zip(outputs, sens):
            if not isinstance(out, Tensor):
                raise DTypeError(
                    f"For 'grad', outputs must be Tensors, but got {type(out).__name__}."
                )
            if s is None:
                s = Tensor._wrap(np.ones(out.shape, out.dtype), out.device)
            elif tuple(s.shape) != tuple(out.shape):
                raise ShapeError(
                    f"For 'grad', 'sens' must have the output's shape {out.shape}, but got {s.shape}."
                )
            if wanted is not None and id(out) in wanted:
                _accumulate(leaf_grads, id(out), s)
            if out._node is not None:
                _accumulate(node_grads, (id(out._node), out._index), s)
                roots.append(out._node)
            elif out.requires_grad:
                _accumulate(leaf_grads, id(out), s)
                leaves[id(out)] = out
        for node in _toposort(roots):
            n_out = len(node.out_data)
            douts = [node_grads.pop((id(node), i), None) for i in range(n_out)]
            if all(d is None for d in douts):
                continue
            if node.op.grad is None:
                raise NpuError(f"For '{node.op.name}', the operator has no gradient rule.")
            # outputs nobody used get None: a rule skips their terms instead of adding zeros
            # (BatchNorm's mean/var outputs, read only by the running-statistics update)
            in_grads = node.op.grad(node, *douts)
            for t, g in zip(node.inputs, in_grads):
                if g is None or not t.requires_grad:
                    continue
                if t._node is not None:
                    _accumulate(node_grads, (id(t._node), t._index), g)
                    if wanted is not None and id(t) in wanted:
                        _accumulate(leaf_grads, id(t), g)
                else:
                    _accumulate(leaf_grads, id(t), g)
                    leaves[id(t)] = t
    if inputs is not None:
        return [leaf_grads.get(id(t)) for t in inputs]
    for key, t in leaves.items():
        g = leaf_grads[key]
        t.grad = g if t.grad is None else t.grad + g
    return []


def _positions(grad_position: int | tuple[int, ...] | None, nargs: int) -> tuple[int, ...]:
    if grad_position is None:
        return ()
    pos = (grad_position,) if isinstance(grad_position, int) else tuple(grad_position)
    for p in pos:
        if not isinstance(p, int) or not -nargs <= p < nargs:
            raise ShapeError(
                f"For 'grad', 'grad_position' must index the {nargs} positional inputs, but got {grad_position}."
            )
    return tuple(p % nargs for p in pos)


def value_and_grad(
    fn: Callable, grad_position: int | tuple[int, ...] | None = 0, weights: Any = None,
    has_aux: bool = False,
) -> Callable:  # fmt: skip
    """Return a function computing ``fn``'s value and its gradients (MindSpore's API).

    Args:
        fn: Function of Tensors returning a Tensor (or a tuple; with ``has_aux`` only the
            first element is differentiated and the rest are returned as auxiliary data).
        grad_position: Index or tuple of indices of the positional inputs to
            differentiate; None for weights only.
        weights: A Parameter or a sequence of Parameters (``net.trainable_params()``).
        has_aux: Whether ``fn`` returns ``(loss, *aux)``.

    Returns:
        ``f(*args) -> (value, grads)``: grads is the gradient of one position, a tuple for
        several positions, a tuple over weights, or ``(position_grads, weight_grads)``.
        Inputs the value does not depend on get zero gradients.

    Example:
        >>> import npukernel as npk
        >>> f = npk.value_and_grad(lambda x, y: (x * y).sum(), grad_position=(0, 1))
        >>> v, (gx, gy) = f(npk.Tensor([1.0, 2.0]), npk.Tensor([3.0, 4.0]))
        >>> gx.asnumpy().tolist(), gy.asnumpy().tolist()
        ([3.0, 4.0], [1.0, 2.0])
    """
    from npukernel.tensor import Tensor

    if weights is None:
        wlist: list[Tensor] = []
    elif isinstance(weights, Tensor):
        wlist = [weights]
    else:
        wlist = list(weights)
    if grad_position is None and weights is None:
        raise NpuError("For 'grad', 'grad_position' and 'weights' cannot both be None.")

    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        positions = _positions(grad_position, len(args))
        args = list(args)
        for p in positions:
            a = args[p]
            if not isinstance(a, Tensor):
                raise DTypeError(
                    f"For 'grad', input {p} must be a Tensor to be differentiated, but got {type(a).__name__}."
                )
            args[p] = a.detach().requires_grad_(True)
        _mode.differentiating += 1
        try:
            with enable_grad():
                out = fn(*args, **kwargs)
        finally:
            _mode.differentiating -= 1
        if isinstance(out, tuple):
            targets = [out[0]] if has_aux else list(out)
        else:
            targets = [out]
        wrt = [args[p] for p in positions] + wlist
        grads = backward(targets, None, wrt)
        grads = [
            g if g is not None else Tensor._wrap(np.zeros(t.shape, t.dtype), t.device)
            for g, t in zip(grads, wrt)
        ]
        pos_grads = grads[: len(positions)]
        w_grads = tuple(grads[len(positions) :])
        if isinstance(grad_position, int):
            pos_out: Any = pos_grads[0]
        else:
            pos_out = tuple(pos_grads)
        if weights is None:
            result: Any = pos_out
        elif grad_position is None:
            result = w_grads
        else:
            result = (pos_out, w_grads)
        return out, result

    return wrapper


def grad(
    fn: Callable, grad_position: int | tuple[int, ...] | None = 0, weights: Any = None,
    has_aux: bool = False,
) -> Callable:  # fmt: skip
    """Return a function computing the gradients of ``fn`` (MindSpore's ``mindspore.grad``).

    Same arguments as :func:`value_and_grad`; with ``has_aux`` the result is
    ``(grads, aux)`` as in MindSpore.

    Example:
        >>> import npukernel as npk
        >>> npk.grad(lambda x: (x ** 3).sum())(npk.Tensor([2.0])).asnumpy().tolist()
        [12.0]
    """
    vg = value_and_grad(fn, grad_position, weights, has_aux)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out, g = vg(*args, **kwargs)
        if has_aux:
            return g, tuple(out[1:])
        return g

    return wrapper
