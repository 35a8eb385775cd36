"""The ``Metric`` base class: ``clear()``, ``update(*inputs)``, ``eval()``.

Metrics accumulate over an evaluation on the host with numpy: ``update`` receives the
network's outputs and the labels (Tensors, numpy arrays or lists) once per batch, and
``eval`` returns the value over everything seen since ``clear``.

Example:
    >>> import numpy as np
    >>> from npukernel.train import Accuracy
    >>> m = Accuracy()
    >>> m.update(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
    >>> m.eval()
    0.5
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _convert_data(data: Any) -> np.ndarray:
    """A Tensor, list or array as a numpy array."""
    if hasattr(data, "asnumpy"):
        return np.asarray(data.asnumpy())
    if isinstance(data, (np.ndarray, list, tuple, int, float, np.generic)):
        return np.asarray(data)
    raise TypeError(
        f"For a metric's 'update', the inputs must be Tensors, numpy arrays or lists, "
        f"but got {type(data).__name__}."
    )


def rearrange_inputs(func: Callable) -> Callable:
    """Decorator for ``update``: pick the inputs named by ``set_indexes`` first.

    Example:
        >>> from npukernel.train import Accuracy
        >>> m = Accuracy().set_indexes([1, 2])
        >>> m.update(None, [[0.2, 0.8]], [1])  # input 0 is skipped
        >>> m.eval()
        1.0
    """

    @functools.wraps(func)
    def wrapper(self: Metric, *inputs: Any) -> Any:
        if self._indexes is not None:
            inputs = tuple(inputs[i] for i in self._indexes)
        return func(self, *inputs)

    return wrapper


class Metric:
    """Base class of metrics (MindSpore's ``mindspore.train.Metric``).

    Subclasses implement :meth:`clear`, :meth:`update` and :meth:`eval`.

    Example:
        >>> class Count(Metric):
        ...     def clear(self): self.n = 0
        ...     def update(self, *inputs): self.n += len(inputs[0])
        ...     def eval(self): return self.n
        >>> c = Count(); c.clear(); c.update([1, 2, 3]); c.eval()
        3
    """

    def __init__(self) -> None:
        self._indexes: list[int] | None = None

    @property
    def indexes(self) -> list[int] | None:
        """Which of ``update``'s inputs this metric reads (None: all, in order)."""
        return getattr(self, "_indexes", None)

    def set_indexes(self, indexes: Sequence[int]) -> Metric:
        """Make ``update`` read only the inputs at ``indexes`` (returns self).

        Raises:
            ValueError: if ``indexes`` is not a list of ints.
        """
        if not isinstance(indexes, (list, tuple)) or not all(isinstance(i, int) for i in indexes):
            raise ValueError(
                f"For 'set_indexes', 'indexes' must be a list of ints, but got {indexes!r}."
            )
        self._indexes = list(indexes)
        return self

    def _convert_data(self, data: Any) -> np.ndarray:
        return _convert_data(data)

    def clear(self) -> None:
        """Reset the accumulated state."""
        raise NotImplementedError(f"{type(self).__name__} must implement 'clear'.")

    def update(self, *inputs: Any) -> None:
        """Accumulate one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement 'update'.")

    def eval(self) -> Any:
        """The metric over everything accumulated since :meth:`clear`."""
        raise NotImplementedError(f"{type(self).__name__} must implement 'eval'.")

    def __call__(self, *inputs: Any) -> Any:
        """Clear, update once with ``inputs`` and return :meth:`eval`."""
        self.clear()
        self.update(*inputs)
        return self.eval()


class EvaluationBase(Metric):
    """Base of the classification metrics: checks ``eval_type``.

    Args:
        eval_type: ``"classification"`` (one label per sample) or ``"multilabel"``.
    """

    def __init__(self, eval_type: str) -> None:
        super().__init__()
        if eval_type not in ("classification", "multilabel"):
            raise ValueError(
                "For a classification metric, 'eval_type' must be 'classification' or "
                f"'multilabel', but got {eval_type!r}."
            )
        self._type = eval_type

    @property
    def eval_type(self) -> str:
        """``"classification"`` or ``"multilabel"``."""
        return self._type

    def _check_shape(self, y_pred: np.ndarray, y: np.ndarray, name: str) -> None:
        if self._type == "classification":
            if y_pred.ndim != 2:
                raise ValueError(
                    f"For '{name}', 'y_pred' must be 2-D (N, C) scores, but got shape {y_pred.shape}."
                )
            if y.ndim not in (1, 2) or y.shape[0] != y_pred.shape[0]:
                raise ValueError(
                    f"For '{name}', 'y' must be (N,) labels or (N, C) one-hot with N = "
                    f"{y_pred.shape[0]}, but got shape {y.shape}."
                )
        elif y_pred.shape != y.shape:
            raise ValueError(
                f"For '{name}', multilabel 'y_pred' and 'y' must have the same shape, but got "
                f"{y_pred.shape} and {y.shape}."
            )


def no_samples(name: str) -> RuntimeError:
    """The error ``eval`` raises before any ``update``."""
    return RuntimeError(
        f"The '{name}' can not be calculated, because the number of samples is 0; call "
        "'update' with non-empty inputs before 'eval'."
    )


def labels_of(y: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Class indices from (N,) labels or (N, C) one-hot rows."""
    return y.argmax(axis=-1) if y.ndim == y_pred.ndim else y.reshape(-1).astype(np.int64)


def one_hot_pair(
    y_pred: np.ndarray, y: np.ndarray, eval_type: str, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels as (N, C) 0/1 float matrices.

    ``classification``: the arg-max class of each row of ``y_pred``; ``multilabel``:
    ``y_pred > 0.5``.
    """
    if y_pred.ndim != 2:
        raise ValueError(
            f"For '{name}', 'y_pred' must be 2-D (N, C), but got shape {y_pred.shape}."
        )
    n, c = y_pred.shape
    if eval_type == "classification":
        labels = labels_of(y, y_pred)
        if labels.shape != (n,):
            raise ValueError(
                f"For '{name}', 'y' must be (N,) labels or (N, C) one-hot with N = {n}, "
                f"but got shape {y.shape}."
            )
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise ValueError(f"For '{name}', labels must lie in [0, {c}), but got {labels.max()}.")
        eye = np.eye(c)
        return eye[y_pred.argmax(axis=1)], eye[labels]
    if y.shape != y_pred.shape:
        raise ValueError(
            f"For '{name}', multilabel 'y_pred' and 'y' must have the same shape, but got "
            f"{y_pred.shape} and {y.shape}."
        )
    return (y_pred > 0.5).astype(np.float64), (y > 0.5).astype(np.float64)


EPS = np.finfo(np.float64).tiny  # keeps 0 / 0 at 0, as MindSpore's sys.float_info.min
