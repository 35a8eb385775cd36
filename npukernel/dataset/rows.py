"""Row operations: shuffle, batch, repeat, take, skip and split.

On an indexed (array-backed) pipeline each of them only rearranges the epoch's
index vector; ``Batch`` then gathers each batch with one fancy-index per column.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from npukernel.dataset import config
from npukernel.dataset.core import INFINITE, Dataset, EpochContext
from npukernel.dataset.errors import DatasetError
from npukernel.dataset.transforms import stack_rows


def _check_count(op: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DatasetError(f"For '{op}', '{name}' must be an int >= {minimum}, but got {value!r}.")
    return int(value)


def _concat(stream: Iterable[np.ndarray]) -> np.ndarray:
    chunks = list(stream)
    return np.concatenate(chunks) if chunks else np.empty(0, np.intp)


class _RowOp(Dataset):
    """A row operation over one child; indexed whenever the child is."""

    def __init__(self, child: Dataset) -> None:
        super().__init__([child])

    @property
    def child(self) -> Dataset:
        return self.children[0]

    def _indexed(self) -> bool:
        return self.child._indexed()

    def _gather(self, idx: np.ndarray, ctx: EpochContext) -> dict[str, Any]:
        return self.child._gather(idx, ctx)

    def _rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        if self._indexed():
            return super()._rows(ctx)
        return self._generic_rows(ctx)

    def _generic_rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


def _buffer_shuffle(
    items: Iterable[Any], buffer_size: int, rng: np.random.Generator
) -> Iterator[Any]:
    """Fill a buffer; emit a random element and put the next item in its place.

    Uniforms are drawn 1024 at a time: one Python call per item would dominate.
    """
    buf: list[Any] = []
    draws = iter(())
    for item in items:
        if len(buf) < buffer_size:
            buf.append(item)
            continue
        u = next(draws, None)
        if u is None:
            draws = iter(rng.random(1024).tolist())
            u = next(draws)
        j = int(u * len(buf))
        yield buf[j]
        buf[j] = item
    for j in rng.permutation(len(buf)):
        yield buf[j]


class Shuffle(_RowOp):
    """``dataset.shuffle(buffer_size)``."""

    def __init__(self, child: Dataset, buffer_size: int) -> None:
        super().__init__(child)
        self.buffer_size = _check_count("shuffle", "buffer_size", buffer_size, 2)

    def _shuffles(self) -> bool:
        return True

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        if not ctx.shuffle:
            yield from self.child._index_stream(ctx)
            return
        rng = ctx.rng(self)
        n = self.child._size()
        if n is not None and n != INFINITE and n <= self.buffer_size:
            idx = _concat(self.child._index_stream(ctx))
            yield idx[rng.permutation(len(idx))]
            return
        flat = (i for chunk in self.child._index_stream(ctx) for i in chunk.tolist())
        shuffled = _buffer_shuffle(flat, self.buffer_size, rng)
        while chunk := list(itertools.islice(shuffled, 4096)):
            yield np.asarray(chunk, dtype=np.intp)

    def _generic_rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        return _buffer_shuffle(self.child._rows(ctx), self.buffer_size, ctx.rng(self))


class Repeat(_RowOp):
    """``dataset.repeat(count)``; each repetition is a fresh pass (new shuffles)."""

    def __init__(self, child: Dataset, count: int | None) -> None:
        super().__init__(child)
        count = -1 if count is None else count
        self.count = -1 if count == -1 else _check_count("repeat", "count", count, 1)

    def _size(self) -> int | None:
        n = self.child._size()
        if self.count == -1:
            return 0 if n == 0 else INFINITE
        return n if n in (None, INFINITE) else n * self.count

    def _passes(self) -> Iterator[int]:
        return itertools.count() if self.count == -1 else iter(range(self.count))

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        for _ in self._passes():
            empty = True
            for chunk in self.child._index_stream(ctx):
                empty = empty and len(chunk) == 0
                yield chunk
            if empty:
                return

    def _generic_rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        for _ in self._passes():
            empty = True
            for row in self.child._rows(ctx):
                empty = False
                yield row
            if empty:
                return


class Take(_RowOp):
    """``dataset.take(count)``."""

    def __init__(self, child: Dataset, count: int) -> None:
        super().__init__(child)
        self.count = -1 if count == -1 else _check_count("take", "count", count, 0)

    def _size(self) -> int | None:
        n = self.child._size()
        if self.count == -1 or n is None:
            return n
        return self.count if n == INFINITE else min(n, self.count)

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        left = self.count
        if left == -1:
            yield from self.child._index_stream(ctx)
            return
        for chunk in self.child._index_stream(ctx):
            if left <= 0:
                return
            yield chunk[:left]
            left -= len(chunk)

    def _generic_rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        rows = self.child._rows(ctx)
        return rows if self.count == -1 else itertools.islice(rows, self.count)


class Skip(_RowOp):
    """``dataset.skip(count)``."""

    def __init__(self, child: Dataset, count: int) -> None:
        super().__init__(child)
        self.count = _check_count("skip", "count", count, 0)

    def _size(self) -> int | None:
        n = self.child._size()
        return n if n in (None, INFINITE) else max(0, n - self.count)

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        left = self.count
        for chunk in self.child._index_stream(ctx):
            if left >= len(chunk):
                left -= len(chunk)
                continue
            yield chunk[left:]
            left = 0

    def _generic_rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        return itertools.islice(self.child._rows(ctx), self.count, None)


def _rechunk(stream: Iterable[np.ndarray], size: int, drop_remainder: bool) -> Iterator[np.ndarray]:
    rest = np.empty(0, np.intp)
    for chunk in stream:
        buf = chunk if len(rest) == 0 else np.concatenate((rest, chunk))
        full = len(buf) // size * size
        for start in range(0, full, size):
            yield buf[start : start + size]
        rest = buf[full:]
    if len(rest) and not drop_remainder:
        yield rest


class Batch(_RowOp):
    """``dataset.batch(batch_size, drop_remainder)``; its rows are batches."""

    def __init__(self, child: Dataset, batch_size: int, drop_remainder: bool) -> None:
        super().__init__(child)
        self.batch_size = _check_count("batch", "batch_size", batch_size, 1)
        self.drop_remainder = bool(drop_remainder)

    def _indexed(self) -> bool:
        return False

    def _size(self) -> int | None:
        n = self.child._size()
        if n in (None, INFINITE):
            return n
        b = self.batch_size
        return n // b if self.drop_remainder else -(-n // b)

    def _batch_size(self) -> int:
        return self.batch_size

    def _batched(self) -> bool:
        return True

    def _generic_rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        if self.child._indexed():
            for idx in _rechunk(
                self.child._index_stream(ctx), self.batch_size, self.drop_remainder
            ):
                yield self._check(self.child._gather(idx, ctx))
            return
        rows = self.child._rows(ctx)
        while batch := list(itertools.islice(rows, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_remainder:
                return
            yield self._check({k: stack_rows([r[k] for r in batch]) for k in batch[0]})

    def _check(self, cols: dict[str, Any]) -> dict[str, Any]:
        for name, col in cols.items():
            if isinstance(col, list):
                shapes = sorted({tuple(np.shape(v)) for v in col})
                raise DatasetError(
                    f"For 'batch', column '{name}' has samples of different shapes "
                    f"{shapes[:3]}; resize or pad them to one shape before batching."
                )
        return cols


class SplitPart(_RowOp):
    """One part of ``dataset.split``: fixed positions in the child's unshuffled order."""

    def __init__(self, child: Dataset, positions: np.ndarray) -> None:
        super().__init__(child)
        self.positions = positions

    def _size(self) -> int:
        return len(self.positions)

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        idx = _concat(self.child._index_stream(ctx.unshuffled()))[self.positions]
        if ctx.shuffle and self.child._shuffles():
            idx = idx[ctx.rng(self).permutation(len(idx))]
        yield idx


def _split_counts(sizes: Sequence[int] | Sequence[float], n: int) -> list[int]:
    if not sizes:
        raise DatasetError("For 'split', 'sizes' must not be empty.")
    if all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in sizes):
        counts = [int(s) for s in sizes]
        if any(c <= 0 for c in counts) or sum(counts) != n:
            raise DatasetError(
                f"For 'split', integer sizes must be positive and sum to the dataset size {n}, "
                f"but got {list(sizes)}."
            )
        return counts
    fractions = [float(s) for s in sizes]
    if any(not 0 < f <= 1 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise DatasetError(
            f"For 'split', fractional sizes must be in (0, 1] and sum to 1, but got {list(sizes)}."
        )
    counts = [round(f * n) for f in fractions]
    counts[0] += n - sum(counts)
    if any(c <= 0 for c in counts):
        raise DatasetError(f"For 'split', sizes {list(sizes)} of {n} rows leave an empty part.")
    return counts


def split_dataset(
    dataset: Dataset, sizes: Sequence[int] | Sequence[float], randomize: bool
) -> list[Dataset]:
    """Implementation of :meth:`Dataset.split`."""
    n = dataset._size()
    if not dataset._indexed() or n in (None, INFINITE):
        raise DatasetError(
            "For 'split', the dataset must be random-access and finite (NumpySlicesDataset, "
            "from_xarray, or GeneratorDataset over a source with __getitem__ and __len__), "
            "and split must come before batch."
        )
    counts = _split_counts(sizes, n)
    order = np.arange(n)
    if randomize:
        order = np.random.default_rng(config.next_entropy()).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [SplitPart(dataset, np.sort(order[a:b])) for a, b in itertools.pairwise(bounds)]
