"""Iterators over a pipeline: epochs, tuple/dict rows, numpy or Tensor outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from npukernel.dataset.core import Dataset


def _to_tensor_fn() -> Callable[[Any], Any]:
    from npukernel.tensor import Tensor  # imported late: the data layer sits beside tensor.py

    return lambda v: Tensor(np.asarray(v))


class _EpochIterator:
    """Yields one epoch per ``for`` loop, ``num_epochs`` times (``-1``: forever).

    As in MindSpore, the iterator object is reused across epochs::

        it = ds.create_tuple_iterator(num_epochs=2)
        for epoch in range(2):
            for image, label in it:
                ...
    """

    def __init__(self, dataset: Dataset, num_epochs: int, output_numpy: bool) -> None:
        self._dataset = dataset
        self._epochs_left = num_epochs
        self._convert = (lambda v: v) if output_numpy else _to_tensor_fn()
        self._names = dataset.get_col_names()
        self._rows: Iterator[dict[str, Any]] | None = None

    def __iter__(self) -> _EpochIterator:
        return self

    def __next__(self) -> Any:
        if self._rows is None:
            if self._epochs_left == 0:
                raise StopIteration
            if self._epochs_left > 0:
                self._epochs_left -= 1
            self._rows = self._dataset._epoch_rows()
        try:
            row = next(self._rows)
        except StopIteration:
            self._rows = None
            raise
        return self._format(row)

    def _format(self, row: dict[str, Any]) -> Any:
        raise NotImplementedError


class TupleIterator(_EpochIterator):
    """Yields each row as a list of column values, in column order."""

    def _format(self, row: dict[str, Any]) -> list[Any]:
        return [self._convert(row[name]) for name in self._names]


class DictIterator(_EpochIterator):
    """Yields each row as ``{column name: value}``."""

    def _format(self, row: dict[str, Any]) -> dict[str, Any]:
        return {name: self._convert(row[name]) for name in self._names}
