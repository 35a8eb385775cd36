"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``.

MindSpore's momentum convention, which is the complement of PyTorch's::

    moving_mean = moving_mean * momentum + batch_mean * (1 - momentum)   # momentum=0.9

Example:
    >>> from npukernel import nn, ops
    >>> bn = nn.BatchNorm2d(3).set_train()
    >>> bn(ops.randn((4, 3, 5, 5))).shape
    (4, 3, 5, 5)
"""

from __future__ import annotations

from typing import Any

from npukernel import ops
from npukernel.common.initializer import initializer
from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from npukernel.nn._check import float_in, one_of, positive_int
from npukernel.nn.cell import Cell
from npukernel.tensor import Parameter, Tensor


def _in_param_dtype(x: Tensor, p: Parameter) -> Tensor:
    """``x`` cast to the parameters' dtype (float32 norms after ``to_float(float16)``, as MindSpore)."""
    return x if x.dtype == p.dtype or x.dtype.kind != "f" else ops.cast(x, p.dtype)


class _BatchNorm(Cell):
    """Shared BatchNorm: parameters ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``."""

    _ranks: tuple[int, ...] = (4,)
    _layout = "(N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9,
                 affine: bool = True, gamma_init: Any = "ones", beta_init: Any = "zeros",
                 moving_mean_init: Any = "zeros", moving_var_init: Any = "ones",
                 use_batch_statistics: bool | None = None, data_format: str = "NCHW",
                 dtype: Any = "float32") -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(name, "num_features", num_features)
        self.eps = float(eps)
        if not self.eps > 0:
            raise ValueRangeError(f"For '{name}', 'eps' must be positive, but got {eps}.")
        self.momentum = float_in(name, "momentum", momentum, 0.0, 1.0, closed_hi=True)
        if use_batch_statistics is not None and not isinstance(use_batch_statistics, bool):
            raise DTypeError(
                f"For '{name}', 'use_batch_statistics' must be a bool or None, but got {use_batch_statistics!r}."
            )
        self.use_batch_statistics = use_batch_statistics
        self.affine = bool(affine)
        self.format = one_of(name, "data_format", data_format, ("nchw",)).upper()
        c = (self.num_features,)
        self.gamma = Parameter(
            initializer(gamma_init, c, dtype), name="gamma", requires_grad=self.affine
        )
        self.beta = Parameter(
            initializer(beta_init, c, dtype), name="beta", requires_grad=self.affine
        )
        self.moving_mean = Parameter(
            initializer(moving_mean_init, c, dtype), name="moving_mean", requires_grad=False
        )
        self.moving_variance = Parameter(
            initializer(moving_var_init, c, dtype), name="moving_variance", requires_grad=False
        )

    def _to_4d(self, x: Tensor) -> Tensor:
        return x

    def construct(self, x: Tensor) -> Tensor:
        """Normalise ``x`` with batch statistics (training) or the moving ones."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            raise ShapeError(
                f"For '{self.cls_name}', 'x' must be {self._layout} with C={self.num_features}, "
                f"but got shape {x.shape}."
            )
        use_batch = (
            self.training if self.use_batch_statistics is None else self.use_batch_statistics
        )
        y = _in_param_dtype(self._to_4d(x), self.gamma)
        y = ops.batch_norm(
            y, self.moving_mean, self.moving_variance, self.gamma, self.beta, training=use_batch,
            momentum=1.0 - self.momentum, eps=self.eps,
        )  # fmt: skip
        y = y if y.dtype == x.dtype else ops.cast(y, x.dtype)
        return y if y.shape == x.shape else ops.reshape(y, x.shape)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return (
            f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, use_batch_statistics={self.use_batch_statistics}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``(N, C)`` or ``(N, C, L)`` input, per channel ``C``.

    Args:
        num_features: Channels ``C``.
        eps: Added to the variance. Default 1e-5.
        momentum: Weight of the old moving statistics (MindSpore's convention). Default 0.9.
        affine: Whether ``gamma``/``beta`` are trained. Default True.
        gamma_init: Initializer of ``gamma``. Default ``"ones"``.
        beta_init: Initializer of ``beta``. Default ``"zeros"``.
        moving_mean_init: Initializer of ``moving_mean``. Default ``"zeros"``.
        moving_var_init: Initializer of ``moving_variance``. Default ``"ones"``.
        use_batch_statistics: None: batch statistics in training, moving ones otherwise;
            True/False forces one.
        data_format: Only ``"NCHW"``.
        dtype: Parameter dtype.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.BatchNorm1d(4)(ops.ones((2, 4))).shape
        (2, 4)
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"

    def _to_4d(self, x: Tensor) -> Tensor:
        return x if x.ndim == 2 else ops.reshape(x, x.shape + (1,))


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``(N, C, H, W)`` input; arguments as ``BatchNorm1d``.

    Example:
        >>> from npukernel import nn
        >>> [p.name for p in nn.BatchNorm2d(8).get_parameters()]
        ['gamma', 'beta', 'moving_mean', 'moving_variance']
    """


class LayerNorm(Cell):
    """Layer normalisation over the trailing dims from ``begin_norm_axis``.

    Args:
        normalized_shape: Shape of ``gamma`` and ``beta`` (the input's trailing dims from
            ``begin_params_axis``), a tuple or list.
        begin_norm_axis: First axis normalised over. Default -1.
        begin_params_axis: First axis ``gamma``/``beta`` cover. Default -1.
        gamma_init: Initializer of ``gamma``. Default ``"ones"``.
        beta_init: Initializer of ``beta``. Default ``"zeros"``.
        epsilon: Added to the variance. Default 1e-7 (MindSpore's; PyTorch uses 1e-5).
        dtype: Parameter dtype.

    Raises:
        DTypeError: if ``normalized_shape`` is not a tuple or list.
        ShapeError: (when called) if the input's trailing dims do not match.

    Example:
        >>> from npukernel import nn, ops
        >>> nn.LayerNorm((8,))(ops.randn((2, 8))).shape
        (2, 8)
    """

    def __init__(self, normalized_shape: Any, begin_norm_axis: int = -1,
                 begin_params_axis: int = -1, gamma_init: Any = "ones", beta_init: Any = "zeros",
                 epsilon: float = 1e-7, dtype: Any = "float32") -> None:  # fmt: skip
        super().__init__()
        if not isinstance(normalized_shape, (tuple, list)):
            raise DTypeError(
                f"For 'LayerNorm', 'normalized_shape' must be a tuple or list, but got "
                f"{type(normalized_shape).__name__}."
            )
        self.normalized_shape = tuple(
            positive_int("LayerNorm", "normalized_shape", d) for d in normalized_shape
        )
        self.begin_norm_axis, self.begin_params_axis = int(begin_norm_axis), int(begin_params_axis)
        self.epsilon = float(epsilon)
        self.gamma = Parameter(initializer(gamma_init, self.normalized_shape, dtype), name="gamma")
        self.beta = Parameter(initializer(beta_init, self.normalized_shape, dtype), name="beta")

    def construct(self, x: Tensor) -> Tensor:
        """Normalise ``x``."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        nd = x.ndim
        if not (-nd <= self.begin_norm_axis < nd and -nd <= self.begin_params_axis < nd):
            raise ShapeError(
                f"For 'LayerNorm', 'begin_norm_axis' ({self.begin_norm_axis}) and "
                f"'begin_params_axis' ({self.begin_params_axis}) must be in [{-nd}, {nd}) for "
                f"input shape {x.shape}."
            )
        bna, bpa = self.begin_norm_axis % nd, self.begin_params_axis % nd
        if x.shape[bpa:] != self.normalized_shape:
            raise ShapeError(
                f"For 'LayerNorm', the input's dims from begin_params_axis={self.begin_params_axis} "
                f"must be {self.normalized_shape}, but got shape {x.shape}."
            )
        y, g, b = _in_param_dtype(x, self.gamma), self.gamma, self.beta
        if bna == bpa:
            y = ops.layer_norm(y, self.normalized_shape, g, b, self.epsilon)
        else:
            y = ops.layer_norm(y, y.shape[bna:], None, None, self.epsilon) * g + b
        return y if y.dtype == x.dtype else ops.cast(y, x.dtype)

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return (
            f"normalized_shape={self.normalized_shape}, begin_norm_axis={self.begin_norm_axis}, "
            f"begin_params_axis={self.begin_params_axis}"
        )
