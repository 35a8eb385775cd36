"""Weight initializers, as ``mindspore.common.initializer``.

An ``Initializer`` fills a numpy array in place; ``initializer(init, shape, dtype)`` turns
a name (``"he_uniform"``), an ``Initializer``, a number, a numpy array or a Tensor into a
Tensor. Every random draw comes from ``npukernel.random.generator()``, so
``npk.set_seed(n)`` makes initialisation reproducible. Fans are computed as MindSpore
(and PyTorch) do: for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.

Where we differ from MindSpore: the tensor is filled when it is created (MindSpore may
defer it), and the random stream is numpy's, so values differ from MindSpore's for the
same seed while their statistics agree.

Example:
    >>> import npukernel as npk
    >>> from npukernel.common.initializer import initializer, Normal
    >>> initializer(Normal(sigma=0.02), (3, 4), npk.float32).shape
    (3, 4)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from npukernel import random as _random
from npukernel.dtypes import as_dtype
from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from npukernel.tensor import Tensor

_ALIASES: dict[str, type[Initializer]] = {}


def _register(*aliases: str):
    def deco(cls: type[Initializer]) -> type[Initializer]:
        for name in (cls.__name__.lower(), *aliases):
            _ALIASES.setdefault(name, cls)
        return cls

    return deco


def _calculate_fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: ``(in, out)`` for 2-D, times the kernel size above."""
    if len(shape) < 2:
        raise ShapeError(
            "For 'initializer', 'fan_in' and 'fan_out' cannot be computed for a tensor with "
            f"fewer than 2 dimensions, but got shape {tuple(shape)}."
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_gain(nonlinearity: str, param: Any = None) -> float:
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
            raise DTypeError(
                f"For 'HeUniform', 'negative_slope' must be a number, but got {slope!r}."
            )
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueRangeError(
        "For 'HeUniform', 'nonlinearity' must be one of ['linear', 'sigmoid', 'tanh', 'relu', "
        f"'leaky_relu'], but got {nonlinearity!r}."
    )


def _fan(shape: tuple[int, ...], mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueRangeError(
            f"For 'initializer', 'mode' must be 'fan_in' or 'fan_out', but got {mode!r}."
        )
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _uniform(bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return _random.generator().uniform(-bound, bound, shape)


def _normal(mean: float, sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    if sigma < 0:
        raise ValueRangeError(f"For 'initializer', 'sigma' must be non-negative, but got {sigma}.")
    return _random.generator().normal(mean, sigma, shape)


class Initializer:
    """Base class: subclasses fill an array in ``_initialize(arr)``.

    Example:
        >>> import numpy as np
        >>> from npukernel.common.initializer import Constant
        >>> a = np.empty(3, np.float32); Constant(2)(a); a.tolist()
        [2.0, 2.0, 2.0]
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs

    def _initialize(self, arr: np.ndarray) -> None:
        raise NotImplementedError(f"For '{type(self).__name__}', '_initialize' must be overridden.")

    def __call__(self, arr: np.ndarray) -> None:
        """Fill ``arr`` in place."""
        self._initialize(arr)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"


def _assign(arr: np.ndarray, data: Any) -> None:
    arr[...] = data


@_register("zeros")
class Zero(Initializer):
    """All zeros (``"zeros"``)."""

    def _initialize(self, arr: np.ndarray) -> None:
        arr.fill(0)


@_register("ones")
class One(Initializer):
    """All ones (``"ones"``)."""

    def _initialize(self, arr: np.ndarray) -> None:
        arr.fill(1)


class Constant(Initializer):
    """Every element set to ``value``.

    Args:
        value: A number (or an array broadcastable to the shape).
    """

    def __init__(self, value: Any) -> None:
        super().__init__(value=value)
        self.value = value

    def _initialize(self, arr: np.ndarray) -> None:
        _assign(arr, self.value)


@_register()
class Normal(Initializer):
    """Samples from ``N(mean, sigma**2)`` (``"normal"``).

    Args:
        sigma: Standard deviation. Default 0.01.
        mean: Mean. Default 0.
    """

    def __init__(self, sigma: float = 0.01, mean: float = 0.0) -> None:
        super().__init__(sigma=sigma, mean=mean)
        self.sigma, self.mean = sigma, mean

    def _initialize(self, arr: np.ndarray) -> None:
        _assign(arr, _normal(self.mean, self.sigma, arr.shape))


@_register()
class Uniform(Initializer):
    """Samples from ``U(-scale, scale)`` (``"uniform"``).

    Args:
        scale: The bound. Default 0.07.
    """

    def __init__(self, scale: float = 0.07) -> None:
        super().__init__(scale=scale)
        self.scale = scale

    def _initialize(self, arr: np.ndarray) -> None:
        _assign(arr, _uniform(self.scale, arr.shape))


@_register("truncated_normal")
class TruncatedNormal(Initializer):
    """``N(0, sigma**2)`` redrawn outside two standard deviations (``"truncatedNormal"``).

    Args:
        sigma: Standard deviation of the untruncated normal. Default 0.01.
    """

    def __init__(self, sigma: float = 0.01) -> None:
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _initialize(self, arr: np.ndarray) -> None:
        data = _normal(0.0, 1.0, arr.shape)
        bad = np.abs(data) > 2.0
        while bad.any():  # each pass keeps ~95 %: a few passes at most
            data[bad] = _random.generator().standard_normal(int(bad.sum()))
            bad = np.abs(data) > 2.0
        _assign(arr, data * self.sigma)


@_register("xavier_uniform")
class XavierUniform(Initializer):
    """Glorot uniform: ``U(-b, b)`` with ``b = gain * sqrt(6 / (fan_in + fan_out))``.

    Args:
        gain: Scaling factor. Default 1.
    """

    def __init__(self, gain: float = 1) -> None:
        super().__init__(gain=gain)
        self.gain = gain

    def _initialize(self, arr: np.ndarray) -> None:
        fan_in, fan_out = _calculate_fan_in_and_fan_out(arr.shape)
        _assign(arr, _uniform(self.gain * math.sqrt(6.0 / (fan_in + fan_out)), arr.shape))


@_register("xavier_normal")
class XavierNormal(Initializer):
    """Glorot normal: ``N(0, s**2)`` with ``s = gain * sqrt(2 / (fan_in + fan_out))``.

    Args:
        gain: Scaling factor. Default 1.
    """

    def __init__(self, gain: float = 1) -> None:
        super().__init__(gain=gain)
        self.gain = gain

    def _initialize(self, arr: np.ndarray) -> None:
        fan_in, fan_out = _calculate_fan_in_and_fan_out(arr.shape)
        _assign(arr, _normal(0.0, self.gain * math.sqrt(2.0 / (fan_in + fan_out)), arr.shape))


@_register("he_uniform")
class HeUniform(Initializer):
    """Kaiming uniform: ``U(-b, b)`` with ``b = gain * sqrt(3 / fan)``.

    ``gain = sqrt(2 / (1 + negative_slope**2))`` for ``leaky_relu``. ``HeUniform(math.sqrt(5))``
    is what ``Dense`` and ``Conv2d`` use by default (PyTorch's default too).

    Args:
        negative_slope: Slope of the rectifier after this layer (leaky_relu only). Default 0.
        mode: ``"fan_in"`` or ``"fan_out"``. Default ``"fan_in"``.
        nonlinearity: ``"leaky_relu"`` (default), ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"linear"``.
    """

    def __init__(self, negative_slope: float = 0, mode: str = "fan_in",
                 nonlinearity: str = "leaky_relu") -> None:  # fmt: skip
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _std(self, shape: tuple[int, ...]) -> float:
        gain = _calculate_gain(self.nonlinearity, self.negative_slope)
        return gain / math.sqrt(_fan(shape, self.mode))

    def _initialize(self, arr: np.ndarray) -> None:
        _assign(arr, _uniform(math.sqrt(3.0) * self._std(arr.shape), arr.shape))


@_register("he_normal")
class HeNormal(HeUniform):
    """Kaiming normal: ``N(0, s**2)`` with ``s = gain / sqrt(fan)``; arguments as ``HeUniform``."""

    def _initialize(self, arr: np.ndarray) -> None:
        _assign(arr, _normal(0.0, self._std(arr.shape), arr.shape))


@_register()
class Identity(Initializer):
    """A 2-D identity matrix (``np.eye``)."""

    def _initialize(self, arr: np.ndarray) -> None:
        if arr.ndim != 2:
            raise ShapeError(
                f"For 'Identity', the initialized tensor must be 2-D, but got shape {arr.shape}."
            )
        _assign(arr, np.eye(*arr.shape))


@_register()
class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal draw (trailing dims flattened).

    Args:
        gain: Scaling factor. Default 1.
    """

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__(gain=gain)
        self.gain = gain

    def _initialize(self, arr: np.ndarray) -> None:
        if arr.ndim < 2:
            raise ShapeError(
                f"For 'Orthogonal', the initialized tensor must be at least 2-D, but got shape {arr.shape}."
            )
        rows = arr.shape[0]
        cols = arr.size // rows
        data = _normal(0.0, 1.0, (rows, cols))
        if rows < cols:
            data = data.T
        q, r = np.linalg.qr(data)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        _assign(arr, (q * self.gain).reshape(arr.shape))


@_register()
class VarianceScaling(Initializer):
    """Scale-aware draws: std (or uniform limit) from ``scale / n`` with ``n`` a fan.

    Args:
        scale: Scaling factor (> 0). Default 1.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``. Default ``"fan_in"``.
        distribution: ``"truncated_normal"`` (default), ``"untruncated_normal"`` or ``"uniform"``.
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal") -> None:  # fmt: skip
        if scale <= 0:
            raise ValueRangeError(
                f"For 'VarianceScaling', 'scale' must be positive, but got {scale}."
            )
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueRangeError(
                f"For 'VarianceScaling', 'mode' must be fan_in, fan_out or fan_avg, but got {mode!r}."
            )
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueRangeError(
                "For 'VarianceScaling', 'distribution' must be uniform, truncated_normal or "
                f"untruncated_normal, but got {distribution!r}."
            )
        super().__init__(scale=scale, mode=mode, distribution=distribution)
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def _initialize(self, arr: np.ndarray) -> None:
        fan_in, fan_out = _calculate_fan_in_and_fan_out(arr.shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            _assign(arr, _uniform(math.sqrt(3.0 * scale), arr.shape))
        elif self.distribution == "untruncated_normal":
            _assign(arr, _normal(0.0, math.sqrt(scale), arr.shape))
        else:  # 0.8796... is the std of a unit normal truncated to [-2, 2]
            TruncatedNormal(math.sqrt(scale) / 0.87962566103423978)(arr)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(shape)
    except TypeError:
        raise ShapeError(
            f"For 'initializer', 'shape' must be an int or a tuple of ints, but got {shape!r}."
        ) from None
    for v in out:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v <= 0:
            raise ShapeError(
                f"For 'initializer', every entry of 'shape' must be a positive int, but got {shape!r}."
            )
    return tuple(int(v) for v in out)


def initializer(init: Any, shape: Any = None, dtype: Any = "float32") -> Tensor:
    """Create a Tensor of ``shape`` and ``dtype`` filled by ``init``.

    Args:
        init: A name (``"normal"``, ``"zeros"``, ``"ones"``, ``"uniform"``, ``"xavier_uniform"``,
            ``"xavier_normal"``, ``"he_uniform"``, ``"he_normal"``, ``"truncatedNormal"``,
            ``"identity"``, ``"orthogonal"``, ``"varianceScaling"``; case-insensitive), an
            ``Initializer``, a number (``Constant``), or a Tensor / numpy array (returned as a
            Tensor after checking its shape).
        shape: The shape (an int or a tuple of positive ints); may be None for a Tensor/array.
        dtype: The dtype. Default float32.

    Returns:
        A new Tensor.

    Raises:
        DTypeError: if ``init`` is of an unsupported type.
        ValueRangeError: if ``init`` names no initializer.
        ShapeError: if ``shape`` is invalid or does not match a Tensor/array ``init``.

    Example:
        >>> import npukernel as npk
        >>> from npukernel.common.initializer import initializer
        >>> initializer("ones", (2,), npk.float32).asnumpy().tolist()
        [1.0, 1.0]
    """
    dt = as_dtype(dtype, "initializer")
    if isinstance(init, (Tensor, np.ndarray)):
        arr = init._data if isinstance(init, Tensor) else np.asarray(init)
        want = None if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
        if want is not None and arr.shape != want:
            raise ShapeError(
                f"For 'initializer', the shape of 'init' {arr.shape} must equal 'shape' {want}."
            )
        return Tensor(arr.astype(dt))
    if isinstance(init, str):
        cls = _ALIASES.get(init.lower())
        if cls is None:
            raise ValueRangeError(
                f"For 'initializer', no initializer is named {init!r}; use one of {sorted(_ALIASES)}."
            )
        init = cls()
    elif isinstance(init, numbers.Number) and not isinstance(init, bool):
        init = Constant(init)
    elif not isinstance(init, Initializer):
        raise DTypeError(
            "For 'initializer', 'init' must be a Tensor, a number, a str or an Initializer, but got "
            f"{type(init).__name__}."
        )
    if shape is None:
        raise ShapeError("For 'initializer', 'shape' must be given unless 'init' is a Tensor.")
    arr = np.empty(_shape(shape), dt)
    init(arr)
    return Tensor._wrap(arr, _default_device())


def _default_device() -> Any:
    from npukernel import device

    return device.default()


__all__ = [
    "Constant", "HeNormal", "HeUniform", "Identity", "Initializer", "Normal", "One",
    "Orthogonal", "TruncatedNormal", "Uniform", "VarianceScaling", "XavierNormal",
    "XavierUniform", "Zero", "initializer",
]  # fmt: skip
