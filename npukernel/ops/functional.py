"""The functional operator API, with ``mindspore.ops`` names and signatures.

Each function turns its arguments into Tensors of a common dtype (Python numbers are
"weak": ``x * 2`` keeps ``x``'s dtype), then hands one registered ``OpDef`` to
``dispatch.apply``. Everything a user calls — ``Tensor`` methods, ``+``, ``nn`` layers —
ends here.

Example:
    >>> import npukernel as npk
    >>> from npukernel import ops
    >>> ops.relu(npk.Tensor([-1.0, 2.0])).asnumpy().tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from time import perf_counter
from typing import Any

import numpy as np

from npukernel import autograd, tracing
from npukernel import device as _devmod
from npukernel.device.memory import Storage
from npukernel.dtypes import as_dtype
from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from npukernel.ops.dispatch import apply, kernel_failed
from npukernel.ops.opdef import OPS
from npukernel.tensor import Tensor

_F32 = np.dtype("float32")
_I64 = np.dtype("int64")
_BOOL = np.dtype("bool")
_BLAS_NAMES = {np.dtype("float32"): "float32", np.dtype("float64"): "float64"}


# -- argument handling ---------------------------------------------------------------------


def _as_tensor(x: Any, op: str, arg: str, device: Any = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float, np.number, np.bool_, np.ndarray, list, tuple)):
        return Tensor(x, device=device)
    raise DTypeError(
        f"For '{op}', '{arg}' must be a Tensor or a number, but got {type(x).__name__}."
    )


def _device_of(*args: Any) -> Any:
    """The device of the first Tensor among ``args`` (None when there is none)."""
    for a in args:
        if isinstance(a, Tensor):
            return a._device
        if isinstance(a, (list, tuple)):
            d = _device_of(*a)
            if d is not None:
                return d
    return None


def _shape_tuple(op: str, arg: str, value: Any, allow_none: bool = False) -> Any:
    """An int or a sequence of ints as a tuple (None passes when allowed); else ShapeError."""
    if value is None and allow_none:
        return None
    if isinstance(value, Tensor):
        value = value._data.tolist() if value.ndim <= 1 else value
    if isinstance(value, (bool, np.bool_)):
        raise ShapeError(
            f"For '{op}', '{arg}' must be an int or a tuple of ints, but got {value!r}."
        )
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in value
    ):
        return tuple(int(v) for v in value)
    raise ShapeError(f"For '{op}', '{arg}' must be an int or a tuple of ints, but got {value!r}.")


def _scalar_dtype(value: Any, like: np.dtype) -> np.dtype:
    if isinstance(value, (bool, np.bool_)):
        return like
    if isinstance(value, (int, np.integer)):
        return like if like != _BOOL else _I64
    return like if like.kind == "f" else _F32


def _cast_to(t: Tensor, dtype: np.dtype) -> Tensor:
    return t if t.dtype == dtype else apply(OPS["cast"], t, dtype=dtype)


def _pair(x: Any, y: Any, op: str, device: Any = None) -> tuple[Tensor, Tensor]:
    """Two Tensors of one dtype from any mix of Tensors and Python numbers."""
    xt, yt = isinstance(x, Tensor), isinstance(y, Tensor)
    if xt and yt:
        if x.dtype != y.dtype:
            dt = np.result_type(x.dtype, y.dtype)
            return _cast_to(x, dt), _cast_to(y, dt)
        return x, y
    if xt and isinstance(y, (bool, int, float, np.number, np.bool_)):
        dt = _scalar_dtype(y, x.dtype)
        return _cast_to(x, dt), Tensor._wrap(np.asarray(y, dt), x._device)
    if yt and isinstance(x, (bool, int, float, np.number, np.bool_)):
        dt = _scalar_dtype(x, y.dtype)
        return Tensor._wrap(np.asarray(x, dt), y._device), _cast_to(y, dt)
    dev = x._device if xt else (y._device if yt else device)
    return _pair(_as_tensor(x, op, "input", dev), _as_tensor(y, op, "other", dev), op)


def _arith(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    if x.dtype == _BOOL:
        return _cast_to(x, np.dtype("int32")), _cast_to(y, np.dtype("int32"))
    return x, y


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else _cast_to(x, _F32)


def _numeric(x: Tensor, op: str) -> Tensor:
    if x.dtype == _BOOL:
        raise DTypeError(f"For '{op}', 'input' must be a number tensor, but got dtype bool.")
    return x


# -- elementwise ---------------------------------------------------------------------------


def _unary_float(name: str):
    def f(input: Any) -> Tensor:  # noqa: A002 - mindspore.ops argument name
        return apply(OPS[name], _float(_as_tensor(input, name, "input")))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}``; integer inputs are computed as float32.\n\n" + (
        f"Example:\n    >>> from npukernel import ops, Tensor\n    >>> ops.{name}(Tensor([1.0])).shape\n    (1,)\n"
    )
    return f


def _unary_keep(name: str):
    def f(input: Any) -> Tensor:  # noqa: A002
        return apply(OPS[name], _numeric(_as_tensor(input, name, "input"), name))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}``; keeps the input dtype.\n\n" + (
        f"Example:\n    >>> from npukernel import ops, Tensor\n    >>> ops.{name}(Tensor([1.0])).shape\n    (1,)\n"
    )
    return f


exp = _unary_float("exp")
log = _unary_float("log")
log1p = _unary_float("log1p")
expm1 = _unary_float("expm1")
sqrt = _unary_float("sqrt")
rsqrt = _unary_float("rsqrt")
reciprocal = _unary_float("reciprocal")
sin = _unary_float("sin")
cos = _unary_float("cos")
tanh = _unary_float("tanh")
sigmoid = _unary_float("sigmoid")
gelu = _unary_float("gelu")
softplus = _unary_float("softplus")
neg = _unary_keep("neg")
abs = _unary_keep("abs")  # noqa: A001 - mindspore.ops.abs
square = _unary_keep("square")
relu = _unary_keep("relu")
sign = _unary_keep("sign")
floor = _unary_float("floor")
ceil = _unary_float("ceil")
negative = neg


def logical_not(input: Any) -> Tensor:  # noqa: A002
    """Elementwise ``not``; the result is bool."""
    return apply(OPS["logical_not"], _as_tensor(input, "logical_not", "input"))


def _binary(name: str, kind: str = "arith"):
    def f(input: Any, other: Any) -> Tensor:  # noqa: A002
        if type(input) is Tensor and type(other) is Tensor:  # the common case: no casts
            dt = input._data.dtype
            if dt is other._data.dtype and (
                kind == "compare" or (dt.kind == "f" if kind == "float" else dt is not _BOOL)
            ):
                return apply(OPS[name], input, other)
        x, y = _pair(input, other, name)
        if kind == "arith":
            x, y = _arith(x, y)
        elif kind == "float":
            x, y = _float(x), _float(y)
        return apply(OPS[name], x, y)

    f.__name__ = name
    # the *_grad helpers serve gradient rules and are not exported from npukernel.ops
    if name.endswith("_grad"):
        setup, call = "from npukernel.ops import functional as F", f"F.{name}"
    else:
        setup, call = "from npukernel import ops", f"ops.{name}"
    f.__doc__ = (
        f"Elementwise ``{name}`` with numpy broadcasting.\n\nExample:\n"
        f"    >>> from npukernel import Tensor\n    >>> {setup}\n"
        f"    >>> {call}(Tensor([1.0, 2.0]), 2.0).shape\n    (2,)\n"
    )
    return f


add = _binary("add")
sub = _binary("sub")
mul = _binary("mul")
div = _binary("div", "float")
pow = _binary("pow")  # noqa: A001 - mindspore.ops.pow
maximum = _binary("maximum")
minimum = _binary("minimum")
floor_divide = _binary("floor_divide")
equal = _binary("equal", "compare")
not_equal = _binary("not_equal", "compare")
less = _binary("less", "compare")
less_equal = _binary("less_equal", "compare")
greater = _binary("greater", "compare")
greater_equal = _binary("greater_equal", "compare")
logical_and = _binary("logical_and", "compare")
logical_or = _binary("logical_or", "compare")
subtract, multiply, divide, true_divide = sub, mul, div, div
eq, ne, lt, le, gt, ge = equal, not_equal, less, less_equal, greater, greater_equal
relu_grad = _binary("relu_grad")
sigmoid_grad = _binary("sigmoid_grad")
tanh_grad = _binary("tanh_grad")
gelu_grad = _binary("gelu_grad")
softplus_grad = _binary("softplus_grad")


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` is true, else ``y`` (broadcasting).

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.where(Tensor([True, False]), Tensor([1.0, 2.0]), 0.0).asnumpy().tolist()
        [1.0, 0.0]
    """
    dev = _device_of(condition, x, y)
    c = _as_tensor(condition, "where", "condition", dev)
    if c.dtype != _BOOL:
        c = apply(OPS["cast"], c, dtype=_BOOL)
    a, b = _pair(x, y, "where", dev)
    return apply(OPS["where"], c, a, b)


def clip(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp to ``[min, max]`` (either bound may be None; bounds may be Tensors).

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.clip(Tensor([-2.0, 0.5, 3.0]), -1.0, 1.0).asnumpy().tolist()
        [-1.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueRangeError("For 'clip', 'min' and 'max' cannot both be None.")
    out = _as_tensor(input, "clip", "input", _device_of(input, min, max))
    if min is not None:
        out = maximum(out, min)
    if max is not None:
        out = minimum(out, max)
    return out


clamp = clip


def cast(input: Any, dtype: Any) -> Tensor:  # noqa: A002
    """Convert to ``dtype``.

    Example:
        >>> import npukernel as npk
        >>> npk.ops.cast(npk.Tensor([1.7]), npk.int32).asnumpy().tolist()
        [1]
    """
    return _cast_to(_as_tensor(input, "cast", "input"), as_dtype(dtype))


def to_device(x: Tensor, device: Any) -> Tensor:
    """Copy ``x`` to ``device`` (recorded as a DMA launch on the target)."""
    if x._device is device:
        return x
    out = apply(OPS["to_device"], x, device=device)
    out._device = device
    out._storage = Storage(device, out.nbytes)
    return out


def contiguous(x: Tensor) -> Tensor:
    """A C-contiguous copy."""
    return apply(OPS["contiguous"], x)


# -- reductions ------------------------------------------------------------------------------


def _reduce(name: str, x: Any, axis: Any, keepdims: bool, **extra: Any) -> Tensor:
    return apply(OPS[name], _as_tensor(x, name, "input"), axis=axis, keepdims=keepdims, **extra)


def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001,A002
    """Sum over ``dim`` (an int, a tuple, or None for all).

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.sum(Tensor([[1, 2], [3, 4]]), 0).asnumpy().tolist()
        [4, 6]
    """
    x = _as_tensor(input, "sum", "input")
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype == _BOOL:
        x = _cast_to(x, _I64)
    return _reduce("sum", x, dim, keepdim)


def mean(input: Any, axis: Any = None, keep_dims: bool = False) -> Tensor:  # noqa: A002
    """Arithmetic mean over ``axis``; integer inputs give float32.

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.mean(Tensor([1.0, 2.0, 6.0])).item()
        3.0
    """
    return _reduce("mean", _float(_as_tensor(input, "mean", "input")), axis, keep_dims)


def amax(input: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Maximum over ``axis``."""
    return _reduce("amax", input, axis, keepdims)


def amin(input: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Minimum over ``axis``."""
    return _reduce("amin", input, axis, keepdims)


def max(input: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001,A002
    """Maximum: with ``axis``, ``(values, indices)`` as ``mindspore.ops.max``; else the value."""
    if axis is None:
        return amax(input, None, keepdims)
    return amax(input, axis, keepdims), argmax(input, axis, keepdims)


def min(input: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001,A002
    """Minimum: with ``axis``, ``(values, indices)``; else the value."""
    if axis is None:
        return amin(input, None, keepdims)
    return amin(input, axis, keepdims), argmin(input, axis, keepdims)


def argmax(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """Index of the maximum along ``dim`` (over the flattened input when None), int64.

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.argmax(Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1).asnumpy().tolist()
        [1, 0]
    """
    return _reduce("argmax", input, dim, keepdim)


def argmin(input: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Index of the minimum along ``axis`` (flattened when None), int64."""
    return _reduce("argmin", input, axis, keepdims)


def var(input: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom."""
    return _reduce("var", _float(_as_tensor(input, "var", "input")), axis, keepdims, ddof=ddof)


def std(input: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:  # noqa: A002
    """Standard deviation over ``axis``."""
    return sqrt(var(input, axis, ddof, keepdims))


def logsumexp(input: Any, axis: Any = None, keep_dims: bool = False) -> Tensor:  # noqa: A002
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow."""
    return _reduce("logsumexp", _float(_as_tensor(input, "logsumexp", "input")), axis, keep_dims)


def sum_to_shape(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` over the dims that broadcasting added or stretched, giving ``shape``."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    out = apply(OPS["sum"], g, axis=axes, keepdims=True) if axes else g
    return reshape(out, shape) if out.shape != shape else out


# -- movement --------------------------------------------------------------------------------


def reshape(input: Any, shape: Any) -> Tensor:  # noqa: A002
    """Same elements, new shape (one entry may be -1).

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.reshape(Tensor([1, 2, 3, 4]), (2, -1)).shape
        (2, 2)
    """
    shape = _shape_tuple("reshape", "shape", shape)
    return apply(OPS["reshape"], _as_tensor(input, "reshape", "input"), shape=shape)


def transpose(input: Any, input_perm: Any = None) -> Tensor:  # noqa: A002
    """Permute the axes (reverse them when ``input_perm`` is None)."""
    return apply(OPS["transpose"], _as_tensor(input, "transpose", "input"), perm=input_perm)


def permute(input: Any, axis: Any) -> Tensor:  # noqa: A002
    """Permute the axes (``mindspore.ops.permute``)."""
    return transpose(input, axis)


def flatten(input: Any, start_dim: int = 1, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Merge dims ``start_dim..end_dim`` (MindSpore's default keeps the batch dim)."""
    x = _as_tensor(input, "flatten", "input")
    nd = builtins.max(x.ndim, 1)
    s, e = start_dim, end_dim
    if not (-nd <= s < nd and -nd <= e < nd):
        raise ShapeError(
            f"For 'flatten', 'start_dim' and 'end_dim' must be in [{-nd}, {nd}), but got {s} and {e}."
        )
    s, e = s % nd, e % nd
    if s > e:
        raise ShapeError(f"For 'flatten', 'start_dim' ({s}) must not be after 'end_dim' ({e}).")
    if x.ndim == 0:
        return reshape(x, (1,))
    shape = x.shape[:s] + (-1,) + x.shape[e + 1 :]
    if x.size == 0:
        n = 1
        for d in x.shape[s : e + 1]:
            n *= d
        shape = x.shape[:s] + (n,) + x.shape[e + 1 :]
    return reshape(x, shape)


def broadcast_to(input: Any, shape: Any) -> Tensor:  # noqa: A002
    """Broadcast to ``shape`` (-1 keeps a dim)."""
    shape = _shape_tuple("broadcast_to", "shape", shape)
    return apply(OPS["broadcast_to"], _as_tensor(input, "broadcast_to", "input"), shape=shape)


def expand_dims(input_x: Any, axis: int) -> Tensor:
    """Insert a size-1 dim at ``axis``."""
    return apply(OPS["expand_dims"], _as_tensor(input_x, "expand_dims", "input_x"), axis=axis)


unsqueeze = expand_dims


def squeeze(input: Any, axis: Any = None) -> Tensor:  # noqa: A002
    """Remove size-1 dims (only ``axis`` when given)."""
    axis = _shape_tuple("squeeze", "axis", axis, allow_none=True)
    return apply(OPS["squeeze"], _as_tensor(input, "squeeze", "input"), axis=axis)


def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or len(tensors) == 0:
        raise ShapeError(f"For '{op}', 'tensors' must be a non-empty list or tuple of Tensors.")
    dev = _device_of(tensors)
    ts = [_as_tensor(t, op, "tensors", dev) for t in tensors]
    dt = np.result_type(*[t.dtype for t in ts])
    return [_cast_to(t, dt) for t in ts]


def concat(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``.

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.concat([Tensor([1, 2]), Tensor([3])]).asnumpy().tolist()
        [1, 2, 3]
    """
    return apply(OPS["concat"], *_tensor_list(tensors, "concat"), axis=axis)


cat = concat


def stack(tensors: Any, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new ``axis``."""
    return apply(OPS["stack"], *_tensor_list(tensors, "stack"), axis=axis)


def split(tensor: Any, split_size_or_sections: Any, axis: int = 0) -> tuple[Tensor, ...]:
    """Split into chunks of ``split_size_or_sections`` (int) or of the listed sizes."""
    return apply(OPS["split"], _as_tensor(tensor, "split", "tensor"),
                 sections=split_size_or_sections, axis=axis)  # fmt: skip


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: ints, slices with steps, None, Ellipsis, bool and int index tensors."""
    if isinstance(index, Tensor):
        index = index._data
    elif isinstance(index, tuple):
        index = tuple(i._data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return apply(OPS["getitem"], x, index=index)


def pad(input_x: Any, padding: Any, mode: str = "constant", value: Any = None) -> Tensor:
    """Pad the last dims: ``padding = (left_last, right_last, left_prev, right_prev, ...)``.

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.pad(Tensor([[1.0]]), (1, 1)).asnumpy().tolist()
        [[0.0, 1.0, 0.0]]
    """
    return apply(OPS["pad"], _as_tensor(input_x, "pad", "input_x"), padding=padding,
                 mode=mode, value=0 if value is None else value)  # fmt: skip


def gather(input_params: Any, input_indices: Any, axis: int, batch_dims: int = 0) -> Tensor:
    """Take slices of ``input_params`` along ``axis`` at ``input_indices`` (``np.take``)."""
    if batch_dims != 0:
        raise ValueRangeError(
            f"For 'gather', only batch_dims=0 is supported, but got {batch_dims}."
        )
    dev = _device_of(input_params, input_indices)
    idx = _as_tensor(input_indices, "gather", "input_indices", dev)
    return apply(
        OPS["gather"], _as_tensor(input_params, "gather", "input_params", dev), idx, axis=axis
    )


def one_hot(
    indices: Any, depth: int, on_value: Any = 1.0, off_value: Any = 0.0, axis: int = -1
) -> Tensor:
    """One-hot encode integer ``indices`` into a new ``axis`` of size ``depth`` (float32)."""
    idx = _as_tensor(indices, "one_hot", "indices")
    return apply(OPS["one_hot"], idx, depth=depth, on_value=float(on_value),
                 off_value=float(off_value), axis=axis)  # fmt: skip


# -- linear algebra ----------------------------------------------------------------------


def matmul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Matrix product with numpy semantics (1-D operands, batch broadcasting).

    Example:
        >>> from npukernel import ops, Tensor
        >>> ops.matmul(Tensor([[1.0, 2.0]]), Tensor([[3.0], [4.0]])).asnumpy().tolist()
        [[11.0]]
    """
    if type(input) is Tensor and type(other) is Tensor:  # the common case, kept lean:
        da, db = input._data, other._data  # Python run right after a large GEMM is cold
        if da.ndim == 2 and db.ndim == 2 and da.dtype is db.dtype and da.dtype in _BLAS_NAMES:
            return _matmul_2d(input, other, da, db)
        if da.ndim > 1 and db.ndim > 1 and da.dtype == db.dtype and da.dtype != _BOOL:
            return apply(OPS["matmul"], input, other)  # (n=256: 20-25 us less a call)
    a, b = _pair(input, other, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"For 'matmul', inputs must be at least 1-D, but got shapes {a.shape} and {b.shape}."
        )
    if a.dtype == _BOOL:
        a, b = _cast_to(a, _F32), _cast_to(b, _F32)
    squeeze_a, squeeze_b = a.ndim == 1, b.ndim == 1
    if squeeze_a:
        a = reshape(a, (1, a.shape[0]))
    if squeeze_b:
        b = reshape(b, (b.shape[0], 1))
    out = apply(OPS["matmul"], a, b)
    if squeeze_a or squeeze_b:
        shape = (
            out.shape[:-2]
            + (() if squeeze_a else out.shape[-2:-1])
            + (() if squeeze_b else out.shape[-1:])
        )
        out = reshape(out, shape)
    return out


def _matmul_2d(a: Tensor, b: Tensor, da: np.ndarray, db: np.ndarray) -> Tensor:
    """A 2-D float32/float64 product on an npu, untaped and untraced: ``apply``'s steps inline.

    The OpDef's own kernel, launch record and result, as ``apply(OPS["matmul"], ...)``,
    which takes every other case (autograd, graph tracing, the cpu device, mismatched
    shapes, whose error it raises). After a large GEMM the caches are cold and every Python
    frame costs: at n=256 this path is 13-18 us shorter (ratio to ``np.matmul`` 0.86-0.91
    -> 0.91-0.95, old and new alternating, 28 Nov).
    """
    op = OPS["matmul"]
    dev = a._device
    if (
        dev is not b._device
        or dev.kind != "npu"
        or da.shape[1] != db.shape[0]
        or (autograd._mode.enabled and (a.requires_grad or b.requires_grad))
        or tracing.state.tracer is not None
    ):
        return apply(op, a, b)
    t0 = perf_counter()
    try:
        y = op.npu(da, db)
    except Exception as exc:  # as apply: never a bare library error
        raise kernel_failed(op, dev, [da, db], exc) from exc
    dev.record_launch("matmul", (da.shape, db.shape), _BLAS_NAMES[da.dtype],
                      2 * da.shape[0] * db.size, da.nbytes + db.nbytes + y.nbytes, op.unit,
                      perf_counter() - t0)  # fmt: skip
    return Tensor._wrap(y, dev)


# -- creation ------------------------------------------------------------------------------


def _shape_arg(size: Any, op: str) -> tuple[int, ...]:
    if isinstance(size, (int, np.integer)):
        size = (int(size),)
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise ShapeError(
            f"For '{op}', 'size' must be an int or a tuple of ints, but got {size!r}."
        ) from None
    if any(s < 0 for s in shape):
        raise ShapeError(f"For '{op}', 'size' must not be negative, but got {shape}.")
    return shape


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``."""
    dt = as_dtype(dtype, "full") if dtype is not None else np.asarray(fill_value).dtype
    if dt == np.float64 and dtype is None:
        dt = _F32
    dev = _devmod.get(device)
    return Tensor._wrap(np.full(_shape_arg(size, "full"), fill_value, dt), dev)


def zeros(size: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """A tensor of zeros (float32 by default).

    Example:
        >>> from npukernel import ops
        >>> ops.zeros((2, 3)).shape
        (2, 3)
    """
    return full(size, 0, dtype=dtype or _F32, device=device)


def ones(size: Any, dtype: Any = None, *, device: Any = None) -> Tensor:
    """A tensor of ones (float32 by default)."""
    return full(size, 1, dtype=dtype or _F32, device=device)


def zeros_like(input: Tensor, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Zeros with ``input``'s shape, dtype and device."""
    return full(input.shape, 0, dtype=dtype or input.dtype, device=input.device)


def ones_like(input: Tensor, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """Ones with ``input``'s shape, dtype and device."""
    return full(input.shape, 1, dtype=dtype or input.dtype, device=input.device)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """``fill_value`` with ``input``'s shape, dtype and device."""
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=input.device)


def arange(
    start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None
) -> Tensor:
    """``[start, end)`` in steps of ``step`` (``arange(n)`` counts from 0).

    Example:
        >>> from npukernel import ops
        >>> ops.arange(3).asnumpy().tolist()
        [0, 1, 2]
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueRangeError("For 'arange', 'step' must not be 0.")
    arr = np.arange(start, end, step)
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype, "arange"))
    elif arr.dtype == np.float64:
        arr = arr.astype(_F32)
    return Tensor._wrap(arr, _devmod.get(device))


def eye(n: int, m: int | None = None, dtype: Any = None, *, device: Any = None) -> Tensor:
    """Identity matrix (n × m)."""
    return Tensor._wrap(np.eye(n, m, dtype=as_dtype(dtype) if dtype else _F32), _devmod.get(device))
