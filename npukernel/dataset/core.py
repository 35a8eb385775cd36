"""The ``Dataset`` base class: a lazy node of a pipeline graph, and its fluent API.

Two ways to run a node, chosen per node:

* **indexed** (``_indexed() is True``): the node's rows are rows of one array-backed
  source, in an order it can compute as an index vector per epoch. Row operations
  (shuffle, take, skip, repeat, split) only rearrange that vector; column operations
  (map, project, rename) act on what ``_gather(idx)`` returns. ``batch`` then costs
  one fancy-index per column and one vectorised call per transform per batch.
* **row by row** (``_rows(ctx)``): for iterable sources and for anything after
  ``batch`` (whose rows are batches).

Both give the same per-sample meaning; the indexed path is just the fast one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from npukernel.dataset import config
from npukernel.dataset.errors import DatasetError
from npukernel.dataset.iterators import DictIterator, TupleIterator

if TYPE_CHECKING:
    import xarray as xr

INFINITE = -1
"""``_size()`` of a pipeline that repeats forever."""

_GATHER_ROWS = 256  # rows gathered at once when an indexed node is read row by row


class EpochContext:
    """Randomness and flags for one pass over a pipeline.

    Every node gets its own generators, keyed by the node's place counted from the
    sources (see ``_upstream_keys``) and by a stream number, so a node's draws do not
    depend on how other nodes consume theirs, nor on what comes after it: adding
    ``.batch()`` to a pipeline does not change its shuffles or augmentations.
    """

    def __init__(self, root: Dataset, entropy: Sequence[int], shuffle: bool = True) -> None:
        self._keys = _upstream_keys(root)
        self._entropy = list(entropy)
        self._rngs: dict[tuple[int, int], np.random.Generator] = {}
        self.shuffle = shuffle

    def rng(self, node: Dataset, stream: int = 0) -> np.random.Generator:
        """The generator of ``node``'s ``stream`` for this epoch."""
        key = (*self._keys[id(node)], stream)
        gen = self._rngs.get(key)
        if gen is None:
            seq = np.random.SeedSequence(self._entropy, spawn_key=key)
            gen = self._rngs[key] = np.random.Generator(np.random.PCG64(seq))
        return gen

    def unshuffled(self) -> EpochContext:
        """The same context with shuffling turned off (the base order that ``split`` cuts)."""
        view = object.__new__(EpochContext)
        view.__dict__.update(self.__dict__)
        view.shuffle = False
        return view


def _upstream_keys(root: Dataset) -> dict[int, tuple[int, int]]:
    """Map ``id(node)`` to ``(depth, ordinal)``.

    Depth counts nodes up to a source; the ordinal tells apart nodes of equal depth
    (in depth-first order from the root).
    """
    depth: dict[int, int] = {}

    def visit(node: Dataset) -> int:
        if id(node) not in depth:
            depth[id(node)] = 1 + max((visit(c) for c in node.children), default=-1)
        return depth[id(node)]

    visit(root)
    keys: dict[int, tuple[int, int]] = {}
    seen_at: dict[int, int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in keys:
            continue
        d = depth[id(node)]
        keys[id(node)] = (d, seen_at.get(d, 0))
        seen_at[d] = seen_at.get(d, 0) + 1
        stack.extend(reversed(node.children))
    return keys


class Dataset:
    """A lazily evaluated dataset; every method returns a new pipeline node.

    Mirrors ``mindspore.dataset.Dataset``. Build one with :class:`NumpySlicesDataset`,
    :class:`GeneratorDataset` or :func:`from_xarray`.

    Example:
        >>> import numpy as np
        >>> from npukernel.dataset import NumpySlicesDataset
        >>> ds = NumpySlicesDataset({"x": np.arange(10)}, shuffle=False).batch(4)
        >>> [b[0].tolist() for b in ds.create_tuple_iterator(output_numpy=True)]
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    """

    def __init__(self, children: Sequence[Dataset] = ()) -> None:
        self.children: tuple[Dataset, ...] = tuple(children)
        self._counted_size: int | None = None

    # ---- protocol for subclasses -------------------------------------------------
    def _names(self) -> tuple[str, ...]:
        return self.children[0]._names()

    def _size(self) -> int | None:
        """Rows per epoch: an int, ``INFINITE``, or ``None`` when unknown without iterating."""
        return self.children[0]._size()

    def _batch_size(self) -> int:
        return self.children[0]._batch_size() if self.children else 1

    def _batched(self) -> bool:
        return self.children[0]._batched() if self.children else False

    def _shuffles(self) -> bool:
        """Whether some node upstream reorders rows at random."""
        return any(c._shuffles() for c in self.children)

    def _indexed(self) -> bool:
        return False

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        """Chunks of row indices into the root source, for one epoch (indexed nodes)."""
        raise NotImplementedError

    def _gather(self, idx: np.ndarray, ctx: EpochContext) -> dict[str, Any]:
        """Columns of the rows ``idx`` of the root source, stacked (indexed nodes)."""
        raise NotImplementedError

    def _rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        """The rows of one epoch as ``{column: value}``."""
        if not self._indexed():
            raise NotImplementedError(type(self).__name__)
        for chunk in self._index_stream(ctx):
            for start in range(0, len(chunk), _GATHER_ROWS):
                cols = self._gather(chunk[start : start + _GATHER_ROWS], ctx)
                n = len(next(iter(cols.values()))) if cols else 0
                for i in range(n):
                    yield {k: v[i] for k, v in cols.items()}

    def _epoch_rows(self) -> Iterator[dict[str, Any]]:
        return self._rows(EpochContext(self, config.next_entropy()))

    # ---- pipeline operations -----------------------------------------------------
    def map(
        self,
        operations: Callable[..., Any] | Sequence[Callable[..., Any]],
        input_columns: str | Sequence[str] | None = None,
        output_columns: str | Sequence[str] | None = None,
        num_parallel_workers: int | None = None,
        python_multiprocessing: bool = False,
    ) -> Dataset:
        """Apply ``operations`` (in order) to ``input_columns`` of every row.

        Transforms from :mod:`~npukernel.dataset.vision` and
        :mod:`~npukernel.dataset.transforms` run vectorised on whole batches when the
        pipeline is array-backed; any other callable runs once per sample. The
        outputs replace the input columns, at the place of the first one.

        Args:
            operations: a transform or callable, or a list applied left to right.
            input_columns: columns passed as arguments; default: the first column.
            output_columns: names of the outputs; default: ``input_columns``.
            num_parallel_workers: accepted for MindSpore compatibility; ignored.
            python_multiprocessing: accepted for MindSpore compatibility; ignored.

        Example:
            >>> import numpy as np
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> ds = NumpySlicesDataset({"x": np.arange(3)}, shuffle=False).map(lambda x: x * 10)
            >>> [r["x"].item() for r in ds.create_dict_iterator(output_numpy=True)]
            [0, 10, 20]
        """
        from npukernel.dataset.columns import Map  # nodes import this module; see module doc

        return Map(self, operations, input_columns, output_columns)

    def project(self, columns: str | Sequence[str]) -> Dataset:
        """Keep only ``columns``, in that order.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"a": [1], "b": [2]}).project(["b"]).get_col_names()
            ['b']
        """
        from npukernel.dataset.columns import Project

        return Project(self, columns)

    def rename(
        self, input_columns: str | Sequence[str], output_columns: str | Sequence[str]
    ) -> Dataset:
        """Rename columns.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"a": [1]}).rename("a", "z").get_col_names()
            ['z']
        """
        from npukernel.dataset.columns import Rename

        return Rename(self, input_columns, output_columns)

    def shuffle(self, buffer_size: int) -> Dataset:
        """Shuffle rows with a buffer of ``buffer_size`` rows, anew every epoch.

        On an array-backed pipeline whose size fits the buffer this is an exact
        random permutation of the rows (what a buffer of that size gives).

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset, config
            >>> config.set_seed(0)
            >>> ds = NumpySlicesDataset({"x": list(range(5))}, shuffle=False).shuffle(10)
            >>> sorted(r[0].item() for r in ds.create_tuple_iterator(output_numpy=True))
            [0, 1, 2, 3, 4]
        """
        from npukernel.dataset.rows import Shuffle

        return Shuffle(self, buffer_size)

    def batch(
        self, batch_size: int, drop_remainder: bool = False, num_parallel_workers: int | None = None
    ) -> Dataset:
        """Stack ``batch_size`` consecutive rows into one row per column.

        Args:
            batch_size: rows per batch.
            drop_remainder: drop a last, smaller batch.
            num_parallel_workers: accepted for MindSpore compatibility; ignored.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> ds = NumpySlicesDataset({"x": list(range(10))})
            >>> ds.batch(4, drop_remainder=True).get_dataset_size()
            2
        """
        from npukernel.dataset.rows import Batch

        return Batch(self, batch_size, drop_remainder)

    def repeat(self, count: int | None = None) -> Dataset:
        """Repeat the dataset ``count`` times (``None`` or ``-1``: forever).

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": [1, 2]}).repeat(3).get_dataset_size()
            6
        """
        from npukernel.dataset.rows import Repeat

        return Repeat(self, count)

    def take(self, count: int = -1) -> Dataset:
        """The first ``count`` rows (``-1``: all).

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": list(range(10))}).take(3).get_dataset_size()
            3
        """
        from npukernel.dataset.rows import Take

        return Take(self, count)

    def skip(self, count: int) -> Dataset:
        """All rows but the first ``count``.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": list(range(10))}).skip(3).get_dataset_size()
            7
        """
        from npukernel.dataset.rows import Skip

        return Skip(self, count)

    def split(
        self, sizes: Sequence[int] | Sequence[float], randomize: bool = True
    ) -> list[Dataset]:
        """Split into disjoint datasets, fixed once (not redrawn every epoch).

        Args:
            sizes: row counts summing to the dataset size, or fractions summing to 1
                (rounded; the rounding difference goes to the first part).
            randomize: assign rows to parts at random (under the pipeline seed);
                otherwise cut the dataset in order.

        Shuffles upstream of the split are applied *within* each part, so the parts
        never share a row.

        Raises:
            DatasetError: if the sizes do not fit or the dataset is not random-access.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> train, test = NumpySlicesDataset({"x": list(range(10))}).split([0.8, 0.2])
            >>> train.get_dataset_size(), test.get_dataset_size()
            (8, 2)
        """
        from npukernel.dataset.rows import split_dataset

        return split_dataset(self, sizes, randomize)

    # ---- information -------------------------------------------------------------
    def get_col_names(self) -> list[str]:
        """Column names, in order.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset(([1], [2])).get_col_names()
            ['column_0', 'column_1']
        """
        return list(self._names())

    def get_dataset_size(self) -> int:
        """Rows (batches, after ``batch``) per epoch.

        When it cannot be known without iterating (an iterable source), one epoch is
        counted once and remembered.

        Raises:
            DatasetError: if the pipeline repeats forever.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": list(range(10))}).batch(3).get_dataset_size()
            4
        """
        size = self._size()
        if size == INFINITE:
            raise DatasetError("For 'get_dataset_size', the dataset repeats forever.")
        if size is None:
            if self._counted_size is None:
                ctx = EpochContext(self, [0])
                self._counted_size = sum(1 for _ in self._rows(ctx))
            size = self._counted_size
        return size

    def get_batch_size(self) -> int:
        """Batch size of the last ``batch`` (1 if none).

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": [1, 2]}).batch(2).get_batch_size()
            2
        """
        return self._batch_size()

    def output_shapes(self) -> list[list[int]]:
        """Shapes of the first row's columns.

        Example:
            >>> import numpy as np
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": np.zeros((5, 2))}).batch(4).output_shapes()
            [[4, 2]]
        """
        row = self._first_row()
        return [list(np.shape(row[n])) for n in self._names()]

    def output_types(self) -> list[np.dtype]:
        """Numpy dtypes of the first row's columns.

        Example:
            >>> import numpy as np
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": np.zeros(3, np.uint8)}).output_types()
            [dtype('uint8')]
        """
        row = self._first_row()
        return [np.asarray(row[n]).dtype for n in self._names()]

    def _first_row(self) -> dict[str, Any]:
        for row in self._rows(EpochContext(self, [0])):
            return row
        raise DatasetError("The dataset is empty.")

    # ---- iteration -----------------------------------------------------------------
    def create_tuple_iterator(
        self, num_epochs: int = -1, output_numpy: bool = False
    ) -> TupleIterator:
        """Iterate rows as lists of column values.

        Args:
            num_epochs: how many epochs the iterator runs (``-1``: until stopped); each
                ``for`` loop over it runs one epoch.
            output_numpy: yield numpy arrays instead of ``npukernel.Tensor``.

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> ds = NumpySlicesDataset({"x": [1, 2]}, shuffle=False)
            >>> [x.item() for x, in ds.create_tuple_iterator(output_numpy=True)]
            [1, 2]
        """
        return TupleIterator(self, num_epochs, output_numpy)

    def create_dict_iterator(
        self, num_epochs: int = -1, output_numpy: bool = False
    ) -> DictIterator:
        """Iterate rows as ``{column: value}`` dicts (see :meth:`create_tuple_iterator`).

        Example:
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> ds = NumpySlicesDataset({"x": [1, 2]}, shuffle=False)
            >>> [r["x"].item() for r in ds.create_dict_iterator(output_numpy=True)]
            [1, 2]
        """
        return DictIterator(self, num_epochs, output_numpy)

    def __iter__(self) -> TupleIterator:
        return self.create_tuple_iterator(num_epochs=1)

    def to_xarray(self) -> xr.Dataset:
        """Run one epoch and collect it as an ``xarray.Dataset`` (batches are unbatched).

        Columns that come unchanged from :func:`from_xarray` keep their dimension
        names, and the source's coordinates and attributes come along.

        Example:
            >>> import numpy as np
            >>> from npukernel.dataset import NumpySlicesDataset
            >>> NumpySlicesDataset({"x": np.arange(4)}, shuffle=False).to_xarray()["x"].dims
            ('sample',)
        """
        from npukernel.dataset.xarray_io import to_xarray

        return to_xarray(self)

    def __repr__(self) -> str:
        inner = repr(self.children[0]) + "." if self.children else ""
        return f"{inner}{type(self).__name__}()"
