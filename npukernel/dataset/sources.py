"""Pipeline sources: numpy arrays (NumpySlicesDataset) and Python objects (GeneratorDataset)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from npukernel.dataset.core import Dataset, EpochContext
from npukernel.dataset.errors import DatasetError
from npukernel.dataset.transforms import stack_rows


def _num_samples(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise DatasetError(f"'num_samples' must be a non-negative int or None, but got {value!r}.")
    return int(value)


class ArraySource(Dataset):
    """Rows are slices along the first axis of equally long numpy arrays (indexed)."""

    def __init__(
        self, columns: Mapping[str, np.ndarray], shuffle: bool, num_samples: int | None = None
    ) -> None:
        super().__init__()
        if not columns:
            raise DatasetError("A dataset needs at least one column.")
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise DatasetError(f"All columns must have the same length, but got {lengths}.")
        self.columns = dict(columns)
        self.shuffle_rows = bool(shuffle)
        self.num_samples = _num_samples(num_samples)
        self._n = next(iter(lengths.values()))

    def _names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def _size(self) -> int:
        return self._n if self.num_samples is None else min(self._n, self.num_samples)

    def _shuffles(self) -> bool:
        return self.shuffle_rows

    def _indexed(self) -> bool:
        return True

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        if self.shuffle_rows and ctx.shuffle:
            idx = ctx.rng(self).permutation(self._n)
        else:
            idx = np.arange(self._n)
        yield idx[: self._size()]

    def _gather(self, idx: np.ndarray, ctx: EpochContext) -> dict[str, Any]:
        return {k: v[idx] for k, v in self.columns.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.columns)}, rows={self._n})"


def _columns_from(data: Any, column_names: Sequence[str] | None) -> dict[str, np.ndarray]:
    if isinstance(data, Mapping):
        names = list(data) if column_names is None else list(column_names)
        values = list(data.values())
    else:
        values = list(data) if isinstance(data, tuple) else [data]
        names = (
            [f"column_{i}" for i in range(len(values))]
            if column_names is None
            else list(column_names)
        )
    if isinstance(column_names, str):
        names = [column_names]
    if len(names) != len(values):
        raise DatasetError(
            f"For 'NumpySlicesDataset', {len(values)} column(s) of data but column_names has "
            f"{len(names)}: {names}."
        )
    arrays = {}
    for name, value in zip(names, values):
        a = np.asarray(value)
        if a.dtype == object or a.ndim == 0:
            raise DatasetError(
                f"For 'NumpySlicesDataset', column '{name}' must be a numeric array with a "
                f"sample axis, but got dtype {a.dtype} and shape {a.shape}."
            )
        arrays[name] = a
    return arrays


class NumpySlicesDataset(ArraySource):
    """Rows are the slices of numpy arrays along their first axis.

    Args:
        data: a dict ``{name: array}``, a tuple of arrays (columns ``column_0``...),
            or one array/list (one column).
        column_names: names of the columns (default: the dict keys, or ``column_i``).
        num_samples: use only this many rows per epoch.
        num_parallel_workers: accepted for MindSpore compatibility; ignored.
        shuffle: shuffle every epoch. ``None`` means ``True``, as in MindSpore.

    Example:
        >>> import numpy as np
        >>> data = {"x": np.arange(6).reshape(3, 2), "y": [0, 1, 0]}
        >>> ds = NumpySlicesDataset(data, shuffle=False)
        >>> ds.get_col_names(), ds.get_dataset_size()
        (['x', 'y'], 3)
    """

    def __init__(
        self,
        data: Mapping[str, Any] | tuple[Any, ...] | np.ndarray | list[Any],
        column_names: Sequence[str] | None = None,
        num_samples: int | None = None,
        num_parallel_workers: int | None = None,
        shuffle: bool | None = None,
    ) -> None:
        super().__init__(_columns_from(data, column_names), shuffle is None or shuffle, num_samples)


def _as_tuple(item: Any, n: int) -> tuple[Any, ...]:
    """A source item as one value per column: a tuple is a row; a lone value is a 1-column row."""
    if isinstance(item, tuple):
        t = item
    elif n > 1 and isinstance(item, list):
        t = tuple(item)
    else:
        t = (item,)
    if len(t) != n:
        raise DatasetError(
            f"For 'GeneratorDataset', the source gave {len(t)} value(s) per sample but "
            f"column_names names {n}."
        )
    return t


class GeneratorDataset(Dataset):
    """Rows from a Python object.

    ``source`` is either *random-access* (has ``__getitem__`` and ``__len__``; each
    item a tuple with one value per column) — then it is indexed, shuffled per
    epoch by default and batched by gathering — or *iterable*: a generator function
    (called once per epoch) or an iterable (``iter()`` once per epoch; a generator
    object therefore gives one epoch only).

    Args:
        source: random-access object, iterable, or generator function.
        column_names: one name per value of an item.
        num_samples: use only this many rows per epoch.
        num_parallel_workers: accepted for MindSpore compatibility; ignored.
        shuffle: shuffle every epoch (random-access only); ``None`` means ``True`` for
            random-access sources and ``False`` otherwise, as in MindSpore.

    Example:
        >>> def gen():
        ...     for i in range(3):
        ...         yield i, i * i
        >>> ds = GeneratorDataset(gen, ["x", "sq"])
        >>> [r["sq"].item() for r in ds.create_dict_iterator(output_numpy=True)]
        [0, 1, 4]
    """

    def __init__(
        self,
        source: Any,
        column_names: str | Sequence[str],
        num_samples: int | None = None,
        num_parallel_workers: int | None = None,
        shuffle: bool | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.column_names = (
            (column_names,) if isinstance(column_names, str) else tuple(column_names)
        )
        if not self.column_names:
            raise DatasetError("For 'GeneratorDataset', 'column_names' must not be empty.")
        self.random_access = hasattr(source, "__getitem__") and hasattr(source, "__len__")
        if not self.random_access and not (callable(source) or isinstance(source, Iterable)):
            raise DatasetError(
                "For 'GeneratorDataset', 'source' must have __getitem__ and __len__, be iterable, "
                f"or be a generator function, but got {type(source).__name__}."
            )
        if shuffle and not self.random_access:
            raise DatasetError(
                "For 'GeneratorDataset', shuffle=True needs a random-access source "
                "(__getitem__ and __len__); use .shuffle(buffer_size) for an iterable."
            )
        self.shuffle_rows = self.random_access and (shuffle is None or shuffle)
        self.num_samples = _num_samples(num_samples)

    def _names(self) -> tuple[str, ...]:
        return self.column_names

    def _size(self) -> int | None:
        if not self.random_access:
            return None
        n = len(self.source)
        return n if self.num_samples is None else min(n, self.num_samples)

    def _shuffles(self) -> bool:
        return self.shuffle_rows

    def _indexed(self) -> bool:
        return self.random_access

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        n = len(self.source)
        idx = ctx.rng(self).permutation(n) if self.shuffle_rows and ctx.shuffle else np.arange(n)
        yield idx[: self._size()]

    def _gather(self, idx: np.ndarray, ctx: EpochContext) -> dict[str, Any]:
        k = len(self.column_names)
        items = [_as_tuple(self.source[int(i)], k) for i in idx]
        return {
            name: stack_rows([it[j] for it in items]) for j, name in enumerate(self.column_names)
        }

    def _rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        if self.random_access:
            yield from super()._rows(ctx)
            return
        source: Callable[[], Iterable[Any]] | Iterable[Any] = self.source
        items = source() if callable(source) and not isinstance(source, Iterable) else source
        if self.num_samples is not None:
            items = itertools.islice(items, self.num_samples)
        k = len(self.column_names)
        for item in items:
            values = _as_tuple(item, k)
            yield {name: np.asarray(v) for name, v in zip(self.column_names, values)}

    def __repr__(self) -> str:
        return f"GeneratorDataset({type(self.source).__name__}, {list(self.column_names)})"
