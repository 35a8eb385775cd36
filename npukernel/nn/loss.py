"""Loss functions (``mindspore.nn`` losses), each a Cell ``loss(logits, labels)``.

Mind MindSpore's defaults: ``SoftmaxCrossEntropyWithLogits`` is ``sparse=False,
reduction="none"``; pass ``sparse=True, reduction="mean"`` for integer labels and a scalar
loss. ``CrossEntropyLoss`` has PyTorch's semantics (class indices or probabilities,
``weight``, ``ignore_index``, ``label_smoothing``).

Example:
    >>> import npukernel as npk
    >>> from npukernel import nn
    >>> loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    >>> round(loss(npk.Tensor([[10.0, 0.0]]), npk.Tensor([0], npk.int32)).item(), 4)
    0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel import ops
from npukernel.errors import DTypeError, ShapeError
from npukernel.nn._check import float_in, one_of
from npukernel.nn.cell import Cell
from npukernel.tensor import Tensor


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class LossBase(Cell):
    """Base class of losses: ``get_loss`` applies element weights and the reduction.

    Args:
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Raises:
        ValueRangeError: for another ``reduction``.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> nn.LossBase("sum").get_loss(npk.Tensor([1.0, 2.0]), 2.0).item()
        6.0
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = one_of(self.cls_name, "reduction", reduction, ("mean", "sum", "none"))

    def get_axis(self, x: Tensor) -> tuple[int, ...]:
        """All axes of ``x``."""
        return tuple(range(x.ndim))

    def get_loss(self, x: Tensor, weights: Any = 1.0) -> Tensor:
        """``x * weights``, then reduced by ``self.reduction``."""
        if not (isinstance(weights, (int, float)) and weights == 1.0):
            x = x * weights
        if self.reduction == "mean":
            return ops.mean(x)
        if self.reduction == "sum":
            return ops.sum(x)
        return x

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"reduction={self.reduction}"


class MSELoss(LossBase):
    """Mean squared error ``(logits - labels) ** 2``.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> nn.MSELoss()(npk.Tensor([1.0, 2.0]), npk.Tensor([1.0, 4.0])).item()
        2.0
    """

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        return self.get_loss(ops.square(_t(logits) - labels))


class L1Loss(LossBase):
    """Mean absolute error ``|logits - labels|``."""

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        return self.get_loss(ops.abs(_t(logits) - labels))


class SmoothL1Loss(LossBase):
    """Huber-like loss: ``0.5 d**2 / beta`` for ``|d| < beta``, ``|d| - 0.5 beta`` otherwise.

    Args:
        beta: Threshold (> 0). Default 1.0.
        reduction: Default ``"none"`` (MindSpore's).
    """

    def __init__(self, beta: float = 1.0, reduction: str = "none") -> None:
        super().__init__(reduction)
        self.beta = float_in("SmoothL1Loss", "beta", beta, 0.0, float("inf"))

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        d = ops.abs(_t(logits) - labels)
        return self.get_loss(
            ops.where(d < self.beta, d * d * (0.5 / self.beta), d - 0.5 * self.beta)
        )


class SoftmaxCrossEntropyWithLogits(LossBase):
    """Softmax cross-entropy of ``logits (N, C)`` against one-hot/probability or sparse labels.

    Args:
        sparse: Whether ``labels`` are class indices ``(N,)``. Default False (MindSpore's).
        reduction: Default ``"none"`` (MindSpore's): one loss per sample.

    Raises:
        ShapeError: if ``logits`` is not 2-D.
        DTypeError: if dense labels are integers (use ``sparse=True``).

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> nn.SoftmaxCrossEntropyWithLogits()(npk.Tensor([[0.0, 0.0]]), npk.Tensor([[1.0, 0.0]])).shape
        (1,)
    """

    def __init__(self, sparse: bool = False, reduction: str = "none") -> None:
        super().__init__(reduction)
        self.sparse = bool(sparse)

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        logits, labels = _t(logits), _t(labels)
        if logits.ndim != 2:
            raise ShapeError(
                f"For 'SoftmaxCrossEntropyWithLogits', 'logits' must be 2-D (N, C), but got shape {logits.shape}."
            )
        if self.sparse:
            if labels.dtype.kind not in "iu":
                labels = ops.cast(labels, "int32")
        elif labels.dtype.kind != "f":
            raise DTypeError(
                "For 'SoftmaxCrossEntropyWithLogits', 'labels' must be float (N, C) probabilities "
                f"when sparse=False, but got dtype {labels.dtype}; pass sparse=True for class indices."
            )
        return self.get_loss(ops.cross_entropy(logits, labels, "none"))

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return f"sparse={self.sparse}, reduction={self.reduction}"


def _classes_last(x: Tensor) -> Tensor:
    """``(N, C, d1, ...) -> (N * d1 * ..., C)``."""
    if x.ndim == 2:
        return x
    perm = (0, *range(2, x.ndim), 1)
    return ops.reshape(ops.transpose(x, perm), (-1, x.shape[1]))


def _weighted_nll(logp: Tensor, target: np.ndarray, weight: Tensor | None, ignore_index: int,
                  smoothing: float, reduction: str) -> Tensor:  # fmt: skip
    """Weighted negative log-likelihood of class indices (PyTorch's rules), flat ``(M, C)``."""
    c = logp.shape[1]
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= c):
        raise ShapeError(
            f"For 'CrossEntropyLoss', class indices must be in [0, {c}), but got {safe.min()}..{safe.max()}."
        )
    w = np.ones(c, logp.dtype) if weight is None else weight.asnumpy().astype(logp.dtype)
    wt = w[safe] * valid
    onehot = ops.one_hot(Tensor(safe.astype(np.int32), device=logp.device), c)
    loss = -ops.sum(ops.cast(onehot, logp.dtype) * logp, 1) * Tensor(wt, device=logp.device)
    if smoothing:
        smooth = -ops.sum(logp * Tensor(w, device=logp.device), 1) * Tensor(
            valid.astype(logp.dtype), device=logp.device
        )
        loss = loss * (1.0 - smoothing) + smooth * (smoothing / c)
    if reduction == "mean":
        return ops.sum(loss) / float(wt.sum())
    return ops.sum(loss) if reduction == "sum" else loss


class CrossEntropyLoss(LossBase):
    """Cross-entropy of logits ``(N, C)`` or ``(N, C, d1, ...)`` against class indices or probabilities.

    Args:
        weight: Per-class weights ``(C,)`` or None.
        ignore_index: Class index whose samples contribute nothing. Default -100.
        reduction: ``"mean"`` (default; weighted mean over non-ignored samples), ``"sum"``, ``"none"``.
        label_smoothing: In [0, 1). Default 0.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> round(nn.CrossEntropyLoss()(npk.Tensor([[0.0, 0.0]]), npk.Tensor([1])).item(), 4)
        0.6931
    """

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:  # fmt: skip
        super().__init__(reduction)
        self.weight = None if weight is None else _t(weight)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float_in(
            "CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0
        )

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        logits, labels = _t(logits), _t(labels)
        if logits.ndim < 2:
            raise ShapeError(
                f"For '{self.cls_name}', 'logits' must be (N, C, ...), but got shape {logits.shape}."
            )
        out_shape = (logits.shape[0], *logits.shape[2:])
        x = _classes_last(logits)
        c, ls, red = x.shape[1], self.label_smoothing, self.reduction
        if labels.dtype.kind in "iu":
            t = labels.asnumpy().reshape(-1)
            if t.shape[0] != x.shape[0]:
                raise ShapeError(
                    f"For '{self.cls_name}', 'labels' must have shape {out_shape}, but got {labels.shape}."
                )
            if self.weight is None and not (t == self.ignore_index).any():
                loss = ops.cross_entropy(x, Tensor._wrap(t, x.device), "none", ls)
            else:
                loss = _weighted_nll(
                    ops.log_softmax(x, -1), t, self.weight, self.ignore_index, ls, red
                )
                return loss if red != "none" else ops.reshape(loss, out_shape)
        else:
            y = _classes_last(ops.cast(labels, x.dtype))
            if ls:
                y = y * (1.0 - ls) + ls / c
            if self.weight is None:
                loss = ops.cross_entropy(x, y, "none")
            else:
                loss = -ops.sum(ops.log_softmax(x, -1) * y * ops.cast(self.weight, x.dtype), 1)
        return self.get_loss(loss if red != "none" else ops.reshape(loss, out_shape))


class NLLLoss(LossBase):
    """Negative log-likelihood of log-probabilities ``(N, C)`` at class indices ``(N,)``.

    Args:
        weight: Per-class weights ``(C,)`` or None.
        ignore_index: Class index to skip. Default -100.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else _t(weight)
        self.ignore_index = int(ignore_index)

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        logits, labels = _t(logits), _t(labels)
        if logits.ndim != 2:
            raise ShapeError(
                f"For 'NLLLoss', 'logits' must be 2-D (N, C), but got shape {logits.shape}."
            )
        t = labels.asnumpy().reshape(-1)
        return _weighted_nll(logits, t, self.weight, self.ignore_index, 0.0, self.reduction)


class BCEWithLogitsLoss(LossBase):
    """Binary cross-entropy on logits, computed stably with softplus.

    ``loss = weight * ((1 - y) * softplus(x) + pos_weight * y * softplus(-x))``.

    Args:
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        weight: Element weights broadcast to the input, or None.
        pos_weight: Weights of positive examples broadcast over the last dim, or None.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> round(nn.BCEWithLogitsLoss()(npk.Tensor([0.0]), npk.Tensor([1.0])).item(), 4)
        0.6931
    """

    def __init__(self, reduction: str = "mean", weight: Any = None, pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else _t(weight)
        self.pos_weight = None if pos_weight is None else _t(pos_weight)

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        x = _t(logits)
        y = ops.cast(_t(labels), x.dtype)
        sp = ops.softplus(x)
        if self.pos_weight is None:
            loss = sp - y * x
        else:
            loss = (1.0 - y) * sp + ops.cast(self.pos_weight, x.dtype) * y * (sp - x)
        return self.get_loss(loss, 1.0 if self.weight is None else ops.cast(self.weight, x.dtype))


class BCELoss(LossBase):
    """Binary cross-entropy on probabilities (log terms clamped at -100, as PyTorch).

    Args:
        weight: Element weights or None.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else _t(weight)

    def construct(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Compute the loss."""
        p = _t(logits)
        y = ops.cast(_t(labels), p.dtype)
        lp = ops.maximum(ops.log(p), -100.0)
        lq = ops.maximum(ops.log(1.0 - p), -100.0)
        loss = -(y * lp + (1.0 - y) * lq)
        return self.get_loss(loss, 1.0 if self.weight is None else ops.cast(self.weight, p.dtype))
