"""Transform base class and the general (non-vision) transforms.

A :class:`Transform` has two code paths with the same per-sample meaning:

* ``apply(*xs, rng)`` — one sample (what ``op(x)`` and a per-row ``map`` call);
* ``apply_batch(*xs, rng)`` — the same op on arrays with a leading sample axis,
  vectorised with numpy. The pipeline calls it on a whole batch when ``map`` comes
  before ``batch``, so preprocessing costs a few numpy calls per batch, not a
  Python loop per image.

A random transform draws its numbers from ``rng`` in sample order, one fixed
number of draws per sample, so the per-sample and the batched paths give the same
result for the same generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from npukernel.dataset import config
from npukernel.dataset.errors import DatasetError


class Transform:
    """Base of every data transform (MindSpore's ``TensorOperation``).

    Subclasses override :meth:`apply_batch` (vectorised) and, when their input can
    be a single sample, :meth:`apply`. ``random = True`` marks a transform that
    draws from ``rng``.

    Example:
        >>> import numpy as np
        >>> from npukernel.dataset.transforms import TypeCast
        >>> TypeCast(np.float32)(np.array([1, 2])).dtype
        dtype('float32')
    """

    random: bool = False

    def __call__(self, *inputs: Any) -> Any:
        """Apply eagerly to one sample; random transforms use the seeded eager generator."""
        rng = config.eager_generator() if self.random else None
        return self.apply(*(np.asarray(x) for x in inputs), rng=rng)

    def apply(self, *inputs: np.ndarray, rng: np.random.Generator | None = None) -> Any:
        """Apply to one sample: by default the batched path on a batch of one."""
        out = self.apply_batch(*(x[None] for x in inputs), rng=rng)
        if isinstance(out, tuple):
            return tuple(o[0] for o in out)
        return out[0]

    def apply_batch(self, *inputs: np.ndarray, rng: np.random.Generator | None = None) -> Any:
        """Apply to a batch (leading axis = samples): by default a loop over :meth:`apply`."""
        if type(self).apply is Transform.apply:
            raise NotImplementedError(
                f"{type(self).__name__} defines neither apply nor apply_batch"
            )
        n = len(inputs[0])
        rows = [self.apply(*(x[i] for x in inputs), rng=rng) for i in range(n)]
        if rows and isinstance(rows[0], tuple):
            return tuple(np.stack(col) for col in zip(*rows))
        return np.stack(rows) if rows else np.empty((0,))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _to_dtype(op: str, dtype: Any) -> np.dtype:
    try:
        return np.dtype(dtype)  # also takes any object with a ``.dtype`` attribute
    except TypeError as exc:
        raise DatasetError(f"For '{op}', cannot understand dtype {dtype!r}.") from exc


class TypeCast(Transform):
    """Cast to a dtype (``mindspore.dataset.transforms.TypeCast``).

    Args:
        dtype: a numpy dtype, its name, or any object with a ``.dtype`` attribute.

    Example:
        >>> import numpy as np
        >>> TypeCast("int32")(np.array([1.7])).tolist()
        [1]
    """

    def __init__(self, dtype: Any) -> None:
        self.dtype = _to_dtype("TypeCast", dtype)

    def apply(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Cast one sample (any shape)."""
        return np.asarray(x).astype(self.dtype, copy=False)

    apply_batch = apply


class OneHot(Transform):
    """Integer class labels to one-hot vectors (``mindspore.dataset.transforms.OneHot``).

    Output shape is ``label.shape + (num_classes,)``. With ``smoothing_rate = e``
    the target is ``(1 - e) * onehot + e / num_classes`` (float32); without, the
    output keeps the label's dtype, as in MindSpore.

    Args:
        num_classes: number of classes.
        smoothing_rate: label smoothing in [0, 1].

    Raises:
        DatasetError: for a label outside ``[0, num_classes)``.

    Example:
        >>> import numpy as np
        >>> OneHot(3)(np.array(1)).tolist()
        [0, 1, 0]
    """

    def __init__(self, num_classes: int, smoothing_rate: float = 0.0) -> None:
        if num_classes < 1:
            raise DatasetError(f"For 'OneHot', 'num_classes' must be >= 1, but got {num_classes}.")
        if not 0.0 <= smoothing_rate <= 1.0:
            raise DatasetError(
                f"For 'OneHot', 'smoothing_rate' must be in [0, 1], but got {smoothing_rate}."
            )
        self.num_classes = int(num_classes)
        self.smoothing_rate = float(smoothing_rate)

    def apply(self, label: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """One-hot encode labels of any shape."""
        label = np.asarray(label)
        if label.dtype.kind not in "iub":
            raise DatasetError(f"For 'OneHot', labels must be integers, but got {label.dtype}.")
        if label.size and (label.min() < 0 or label.max() >= self.num_classes):
            raise DatasetError(
                f"For 'OneHot', labels must be in [0, {self.num_classes}), "
                f"but got values in [{label.min()}, {label.max()}]."
            )
        eye = np.eye(self.num_classes, dtype=label.dtype)
        out = eye[label]
        if self.smoothing_rate:
            e = self.smoothing_rate
            out = out.astype(np.float32) * (1.0 - e) + np.float32(e / self.num_classes)
        return out

    apply_batch = apply


class Compose(Transform):
    """Several transforms as one (``mindspore.dataset.transforms.Compose``).

    Args:
        transforms: transforms (or plain callables) applied left to right.

    Example:
        >>> import numpy as np
        >>> from npukernel.dataset import vision
        >>> op = Compose([vision.Rescale(1 / 255, 0), vision.HWC2CHW()])
        >>> op(np.zeros((4, 4, 3), np.uint8)).shape
        (3, 4, 4)
    """

    def __init__(self, transforms: Sequence[Transform | Callable[..., Any]]) -> None:
        self.transforms = list(transforms)
        self.random = any(getattr(t, "random", False) for t in self.transforms)

    def apply(self, *xs: Any, rng: np.random.Generator | None = None) -> Any:
        """Apply each transform to one sample."""
        for t in self.transforms:
            out = t.apply(*xs, rng=rng) if isinstance(t, Transform) else t(*xs)
            xs = out if isinstance(out, tuple) else (out,)
        return xs if len(xs) > 1 else xs[0]

    def apply_batch(self, *xs: Any, rng: np.random.Generator | None = None) -> Any:
        """Apply each transform to a batch (plain callables run per sample)."""
        for t in self.transforms:
            if isinstance(t, Transform):
                out = t.apply_batch(*xs, rng=rng)
            else:
                out = apply_per_sample(t, xs)
            xs = out if isinstance(out, tuple) else (out,)
        return xs if len(xs) > 1 else xs[0]


def apply_per_sample(fn: Callable[..., Any], columns: Sequence[Any]) -> Any:
    """Run a plain callable sample by sample over batch columns and stack the results.

    Returns an array (or a tuple of arrays, one per output); outputs whose samples
    differ in shape stay a list of arrays.
    """
    n = len(columns[0])
    rows = [fn(*(c[i] for c in columns)) for i in range(n)]
    if rows and isinstance(rows[0], tuple):
        return tuple(stack_rows(list(col)) for col in zip(*rows))
    return stack_rows(rows)


def stack_rows(values: list[Any]) -> np.ndarray | list[np.ndarray]:
    """Stack per-sample values into one array; a list when their shapes differ."""
    arrays = [np.asarray(v) for v in values]
    if not arrays:
        return np.empty((0,))
    first = arrays[0].shape
    if all(a.shape == first for a in arrays):
        return np.stack(arrays)
    return arrays
