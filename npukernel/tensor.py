"""``Tensor`` and ``Parameter``: an array on a device, plus what autodiff needs.

Storage, compute and autograd are separate: a Tensor holds a numpy array (flat storage
with shape and strides; views share it), a ``Storage`` token that accounts its bytes
against the device's HBM, and — only when a gradient is needed — the tape ``Node`` that
made it. Every operator, method and Python operator goes through ``npukernel.ops``.

Example:
    >>> import npukernel as npk
    >>> x = npk.Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> (x @ x.T).asnumpy().tolist()
    [[5.0, 11.0], [11.0, 25.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel import device as _devmod
from npukernel import tracing as _tracing
from npukernel.device.memory import Storage
from npukernel.dtypes import ALL, as_dtype
from npukernel.errors import DTypeError, NpuError


def _to_array(data: Any, dtype: np.dtype | None) -> np.ndarray:
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise DTypeError(
                f"For 'Tensor', 'input_data' must be a number, a (nested) list or a numpy "
                f"array, but got {type(data).__name__}: {exc}"
            ) from None
        if dtype is None and arr.dtype == np.float64:
            arr = arr.astype(np.float32)  # Python floats become float32, as in MindSpore
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype not in ALL:
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        else:
            raise DTypeError(
                f"For 'Tensor', 'input_data' has dtype {arr.dtype}, which npukernel does not "
                f"support; use one of {[str(d) for d in ALL]}."
            )
    # np.ascontiguousarray turns 0-d arrays into 1-d ones; keep scalars scalar
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


class Tensor:
    """An n-dimensional array on a (virtual) device.

    Args:
        input_data: Number, nested list, numpy array or Tensor. A Tensor is copied; a
            C-contiguous numpy array of a supported dtype is used without a copy (like
            ``torch.from_numpy``), so copy it first if you will change it afterwards.
        dtype: Target dtype (``npukernel.float32``...); inferred when None.
        shape: With ``init``, the shape of a lazily initialised tensor.
        init: An initializer (name or object from ``npukernel.common.initializer``) used
            with ``shape`` instead of ``input_data``.
        device: ``"npu:0"``, ``"cpu"``...; the context's default when None.
        requires_grad: Whether operators should record a tape for this tensor.

    Example:
        >>> import npukernel as npk
        >>> t = npk.Tensor([1, 2, 3], npk.float32)
        >>> t.shape, t.dtype
        ((3,), dtype('float32'))
    """

    __slots__ = ("_data", "_device", "_storage", "requires_grad", "_node", "_index", "grad",
                 "__weakref__")  # fmt: skip
    __array_priority__ = 1000  # numpy defers ``ndarray + Tensor`` to Tensor.__radd__

    def __init__(
        self, input_data: Any = None, dtype: Any = None, shape: Any = None, init: Any = None,
        *, device: Any = None, requires_grad: bool = False,
    ) -> None:  # fmt: skip
        dt = as_dtype(dtype, "Tensor") if dtype is not None else None
        if input_data is None:
            if shape is None:
                raise NpuError("For 'Tensor', give 'input_data', or 'shape' with 'init'.")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            if init is None:
                arr = np.zeros(shape, dt or np.float32)
            else:
                from npukernel.common.initializer import initializer

                arr = initializer(init, shape, dt or np.float32)._data
        else:
            arr = _to_array(input_data, dt)
            if isinstance(input_data, Tensor) and arr is input_data._data:
                arr = arr.copy()
        dev = _devmod.get(device) if device is not None else _devmod.default()
        self._data = arr
        self._device = dev
        self._storage = Storage(dev, arr.nbytes)
        self.requires_grad = requires_grad
        self._node = None
        self._index = 0
        self.grad = None

    @classmethod
    def _wrap(cls, arr: np.ndarray, device: Any, storage: Storage | None = None) -> Tensor:
        """Fast constructor for operator outputs: no copy, no validation."""
        t = object.__new__(Tensor)
        t._data = arr
        t._device = device
        t._storage = storage if storage is not None else Storage(device, arr.nbytes)
        t.requires_grad = False
        t._node = None
        t._index = 0
        t.grad = None
        return t

    # -- properties ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, as a tuple of ints."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        """The dtype (a numpy dtype such as ``npukernel.float32``)."""
        return self._data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self._data.size

    @property
    def nbytes(self) -> int:
        """Bytes of the elements."""
        return self._data.nbytes

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def strides(self) -> tuple[int, ...]:
        """Element strides (MindSpore reports elements, numpy bytes)."""
        return tuple(s // self._data.itemsize for s in self._data.strides)

    @property
    def device(self) -> Any:
        """The Device this tensor lives on."""
        return self._device

    @property
    def T(self) -> Tensor:  # noqa: N802 - numpy's name
        """Transpose (all axes reversed)."""
        return F.transpose(self)

    @property
    def is_leaf(self) -> bool:
        """Whether no recorded operator produced this tensor."""
        return self._node is None

    # -- conversion ---------------------------------------------------------------------
    def asnumpy(self) -> np.ndarray:
        """The data as a numpy array (shares memory; copy it before changing it)."""
        if _tracing.state.tracer is not None:
            _tracing.read(self, "asnumpy()")
        return self._data

    numpy = asnumpy

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if _tracing.state.tracer is not None:
            _tracing.read(self, "numpy.asarray()")
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self) -> Any:
        """The single element as a Python number.

        Raises:
            ShapeError: if the tensor has more than one element.
        """
        if self._data.size != 1:
            from npukernel.errors import ShapeError

            raise ShapeError(
                f"For 'item', the tensor must have exactly one element, but got shape {self.shape}."
            )
        if _tracing.state.tracer is not None:
            _tracing.read(self, "item()")
        return self._data.reshape(-1)[0].item()

    def tolist(self) -> Any:
        """Nested Python lists."""
        if _tracing.state.tracer is not None:
            _tracing.read(self, "tolist()")
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if _tracing.state.tracer is not None:
            _tracing.read(self, "bool()")
        return bool(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self._data.shape[0]

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=" ", threshold=64, edgeitems=3)
        dev = "" if self._device.name == _devmod.default().name else f", device={self._device.name}"
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor(shape={list(self.shape)}, dtype={self.dtype}{dev}{grad}, value={body})"

    __hash__ = object.__hash__

    # -- device and autograd ------------------------------------------------------------
    def to(self, device: Any) -> Tensor:
        """A copy on ``device`` (this tensor when already there); recorded as a DMA copy."""
        return F.to_device(self, _devmod.get(device))

    def detach(self) -> Tensor:
        """The same data without a tape."""
        return Tensor._wrap(self._data, self._device, self._storage)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient: Tensor | None = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it."""
        from npukernel.autograd import backward

        backward([self], [gradient])

    def copy(self) -> Tensor:
        """A deep copy (no tape)."""
        return Tensor._wrap(self._data.copy(), self._device)

    def assign_value(self, value: Any) -> Tensor:
        """Replace the data in place (same shape; dtype converted) — for optimizers.

        Raises:
            ShapeError: if the shape differs.
        """
        if _tracing.state.tracer is not None:
            _tracing.write(self, "assign_value()")
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        if arr.shape != self._data.shape:
            from npukernel.errors import ShapeError

            raise ShapeError(
                f"For 'assign_value', the value must have shape {self.shape}, but got {arr.shape}."
            )
        self._data[...] = arr
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        if _tracing.state.tracer is not None:
            _tracing.write(self, "item assignment (t[...] = v)")
        if self.requires_grad and self._node is not None:
            raise NpuError(
                "For '__setitem__', a tensor recorded on the autodiff tape cannot be changed in "
                "place; compute a new tensor (e.g. with ops.where) instead."
            )
        v = value._data if isinstance(value, Tensor) else value
        try:
            self._data[index] = v
        except (IndexError, ValueError, TypeError) as exc:
            from npukernel.errors import ShapeError

            raise ShapeError(f"For '__setitem__', cannot assign: {exc}.") from None

    # -- methods that are operators ------------------------------------------------------
    def __getitem__(self, index: Any) -> Tensor:
        return F.getitem(self, index)

    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape (one dim may be -1)."""
        return F.reshape(self, shape[0] if len(shape) == 1 else shape)

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes (reverse them when none are given)."""
        return F.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    permute = transpose

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims ``start_dim..end_dim`` into one."""
        return F.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: Any = None) -> Tensor:
        """Remove size-1 dims."""
        return F.squeeze(self, axis)

    def expand_dims(self, axis: int) -> Tensor:
        """Insert a size-1 dim at ``axis``."""
        return F.expand_dims(self, axis)

    unsqueeze = expand_dims

    def broadcast_to(self, shape: Any) -> Tensor:
        """Broadcast to ``shape``."""
        return F.broadcast_to(self, shape)

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``."""
        return F.cast(self, dtype)

    def contiguous(self) -> Tensor:
        """A C-contiguous copy when the data is a strided view; self otherwise."""
        return self if self._data.flags.c_contiguous else F.contiguous(self)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all when None)."""
        return F.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keep_dims: bool = False) -> Tensor:
        """Mean over ``axis``."""
        return F.mean(self, axis, keep_dims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``."""
        return F.amax(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``."""
        return F.amin(self, axis, keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Index of the maximum over ``axis``."""
        return F.argmax(self, axis, keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Index of the minimum over ``axis``."""
        return F.argmin(self, axis, keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """Variance over ``axis``."""
        return F.var(self, axis, ddof, keepdims)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """Standard deviation over ``axis``."""
        return F.sqrt(F.var(self, axis, ddof, keepdims))

    def abs(self) -> Tensor:
        """Elementwise absolute value."""
        return F.abs(self)

    def exp(self) -> Tensor:
        """Elementwise e**x."""
        return F.exp(self)

    def log(self) -> Tensor:
        """Elementwise natural log."""
        return F.log(self)

    def sqrt(self) -> Tensor:
        """Elementwise square root."""
        return F.sqrt(self)

    def clip(self, xmin: Any = None, xmax: Any = None) -> Tensor:
        """Clamp to [xmin, xmax]."""
        return F.clip(self, xmin, xmax)

    clamp = clip

    def matmul(self, other: Any) -> Tensor:
        """Matrix product."""
        return F.matmul(self, other)

    # -- Python operators -------------------------------------------------------------
    def __add__(self, o: Any) -> Tensor:
        return F.add(self, o)

    def __radd__(self, o: Any) -> Tensor:
        return F.add(o, self)

    def __sub__(self, o: Any) -> Tensor:
        return F.sub(self, o)

    def __rsub__(self, o: Any) -> Tensor:
        return F.sub(o, self)

    def __mul__(self, o: Any) -> Tensor:
        return F.mul(self, o)

    def __rmul__(self, o: Any) -> Tensor:
        return F.mul(o, self)

    def __truediv__(self, o: Any) -> Tensor:
        return F.div(self, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        return F.div(o, self)

    def __floordiv__(self, o: Any) -> Tensor:
        return F.floor_divide(self, o)

    def __pow__(self, o: Any) -> Tensor:
        return F.pow(self, o)

    def __rpow__(self, o: Any) -> Tensor:
        return F.pow(o, self)

    def __matmul__(self, o: Any) -> Tensor:
        return F.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Tensor:
        return F.matmul(o, self)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return F.abs(self)

    def __invert__(self) -> Tensor:
        return F.logical_not(self)

    def __and__(self, o: Any) -> Tensor:
        return F.logical_and(self, o)

    def __or__(self, o: Any) -> Tensor:
        return F.logical_or(self, o)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        return F.equal(self, o)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        return F.not_equal(self, o)

    def __lt__(self, o: Any) -> Tensor:
        return F.less(self, o)

    def __le__(self, o: Any) -> Tensor:
        return F.less_equal(self, o)

    def __gt__(self, o: Any) -> Tensor:
        return F.greater(self, o)

    def __ge__(self, o: Any) -> Tensor:
        return F.greater_equal(self, o)


class Parameter(Tensor):
    """A trainable Tensor with a name (``requires_grad=True`` by default).

    Args:
        default_input: Initial value (Tensor, array, number).
        name: Name used in checkpoints and ``parameters_dict()``.
        requires_grad: Whether optimizers update it.

    Example:
        >>> import npukernel as npk
        >>> w = npk.Parameter(npk.Tensor([1.0, 2.0]), name="w")
        >>> w.name, w.requires_grad
        ('w', True)
    """

    __slots__ = ("name",)

    def __init__(self, default_input: Any, name: str | None = None, requires_grad: bool = True,
                 *, device: Any = None) -> None:  # fmt: skip
        if isinstance(default_input, Tensor) and device is None:
            device = default_input.device
        if isinstance(default_input, np.ndarray):
            default_input = default_input.copy()  # a parameter never aliases the caller's array
        super().__init__(default_input, device=device, requires_grad=requires_grad)
        self.name = name or "Parameter"

    def __repr__(self) -> str:
        return f"Parameter(name={self.name}, shape={list(self.shape)}, dtype={self.dtype}, requires_grad={self.requires_grad})"

    def set_data(self, data: Any) -> Parameter:
        """Replace the value (shape may change, unlike ``assign_value``)."""
        if _tracing.state.tracer is not None:
            _tracing.write(self, "set_data()")
        arr = _to_array(data, self.dtype)
        self._data = arr.copy()
        self._storage = Storage(self._device, arr.nbytes)
        return self

    def clone(self, name: str | None = None) -> Parameter:
        """A copy with a new name."""
        return Parameter(self.copy(), name or self.name, self.requires_grad)


from npukernel.ops import functional as F  # noqa: E402  (operators need Tensor first)
