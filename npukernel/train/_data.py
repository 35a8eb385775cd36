"""Datasets as ``Model`` sees them: one pass per epoch of tuples of Tensors.

Accepted: any ``npukernel.dataset.Dataset`` (rows from ``create_tuple_iterator()``,
columns in order, e.g. ``(image, label)``) and any re-iterable of rows (a list of
tuples, a ``DataLoader``-like object), where a row is a tuple/list of arrays or
Tensors, a dict of them (values in order), or a single array.

Example:
    >>> import numpy as np
    >>> data = DataAdapter([(np.zeros((2, 3), np.float32), np.array([0, 1]))])
    >>> data.batch_num, [r[0].shape for r in data.epoch()]
    (1, [(2, 3)])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import Any

import numpy as np

from npukernel.tensor import Tensor


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value))


def as_row(row: Any) -> tuple[Tensor, ...]:
    """One dataset row as a tuple of Tensors."""
    if isinstance(row, Mapping):
        row = list(row.values())
    if isinstance(row, (tuple, list)):
        return tuple(_as_tensor(v) for v in row)
    return (_as_tensor(row),)


def batch_size_of(row: tuple[Tensor, ...]) -> int:
    """Samples in a batch: the leading dimension of its first column (1 for a scalar)."""
    return int(row[0].shape[0]) if row and row[0].ndim else 1


class DataAdapter:
    """Iterate a dataset epoch by epoch, as Tensors.

    Args:
        dataset: An ``npukernel.dataset.Dataset`` or a re-iterable of rows.
        name: Argument name for error messages.

    Raises:
        TypeError: if ``dataset`` is not iterable.
    """

    def __init__(self, dataset: Any, name: str = "train_dataset") -> None:
        from npukernel.dataset import Dataset

        self.dataset = dataset
        self.name = name
        self.batch_num: int | None
        if isinstance(dataset, Dataset):
            self._iterator: Any = dataset.create_tuple_iterator(num_epochs=-1)
            try:
                self.batch_num = dataset.get_dataset_size()
            except Exception:  # noqa: BLE001 - an infinite or unsized pipeline
                self.batch_num = None
        elif isinstance(dataset, Iterable):
            self._iterator = None
            self.batch_num = len(dataset) if isinstance(dataset, Sized) else None
        else:
            raise TypeError(
                f"For 'Model', '{name}' must be an npukernel.dataset.Dataset or an iterable of "
                f"(data, label) tuples, but got {type(dataset).__name__}."
            )

    def epoch(self) -> Iterator[tuple[Tensor, ...]]:
        """Rows of one epoch (the next pass of the pipeline)."""
        if self._iterator is not None:
            for row in self._iterator:
                yield tuple(row)
        else:
            for row in self.dataset:
                yield as_row(row)

    def replay(self, steps: int | None = None) -> int:
        """Draw ``steps`` rows (a whole epoch when None) without using them; return how many.

        Used to resume: the pipeline's shuffles and random transforms depend on how
        many epochs and rows were drawn before, so a resumed run draws them again.
        """
        n = 0
        if steps == 0:
            return 0
        for _ in self.epoch():
            n += 1
            if steps is not None and n >= steps:
                break
        return n
