"""Column operations: map, project and rename.

They act on columns only, never on which rows exist, so on an indexed pipeline
they run inside ``_gather`` on whole batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from npukernel.dataset.core import Dataset, EpochContext
from npukernel.dataset.errors import DatasetError
from npukernel.dataset.transforms import Compose, Transform, apply_per_sample
from npukernel.dataset.vision import fuse


def _names_arg(op: str, arg_name: str, value: str | Sequence[str]) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) for n in names):
        raise DatasetError(
            f"For '{op}', '{arg_name}' must be a column name or a list of them, got {value!r}."
        )
    if len(set(names)) != len(names):
        raise DatasetError(f"For '{op}', '{arg_name}' has repeated names: {names}.")
    return names


def _check_known(op: str, names: Sequence[str], known: Sequence[str]) -> None:
    missing = [n for n in names if n not in known]
    if missing:
        raise DatasetError(
            f"For '{op}', unknown column(s) {missing}; the dataset has {list(known)}."
        )


class _ColumnOp(Dataset):
    def __init__(self, child: Dataset) -> None:
        super().__init__([child])

    @property
    def child(self) -> Dataset:
        return self.children[0]

    def _indexed(self) -> bool:
        return self.child._indexed()

    def _index_stream(self, ctx: EpochContext) -> Iterator[np.ndarray]:
        return self.child._index_stream(ctx)

    def _gather(self, idx: np.ndarray, ctx: EpochContext) -> dict[str, Any]:
        return self._apply(self.child._gather(idx, ctx), ctx, batched=True)

    def _rows(self, ctx: EpochContext) -> Iterator[dict[str, Any]]:
        if self._indexed():
            yield from super()._rows(ctx)
            return
        for row in self.child._rows(ctx):
            yield self._apply(row, ctx, batched=False)

    def _apply(self, cols: dict[str, Any], ctx: EpochContext, batched: bool) -> dict[str, Any]:
        raise NotImplementedError


def _flatten(ops: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for op in ops:
        out.extend(_flatten(op.transforms) if isinstance(op, Compose) else [op])
    return out


class Map(_ColumnOp):
    """``dataset.map(operations, input_columns, output_columns)``.

    Each operation gets its own random stream, consumed in sample order, so a random
    transform gives the same result whether it runs per sample or on a batch.
    Consecutive ``Rescale``/``Normalize``/``HWC2CHW`` are fused into one pass
    (:func:`npukernel.dataset.vision.fuse`).
    """

    def __init__(
        self,
        child: Dataset,
        operations: Callable[..., Any] | Sequence[Callable[..., Any]],
        input_columns: str | Sequence[str] | None,
        output_columns: str | Sequence[str] | None,
    ) -> None:
        super().__init__(child)
        ops = list(operations) if isinstance(operations, list | tuple) else [operations]
        self.operations = fuse(_flatten(ops))
        if not self.operations or not all(callable(op) for op in self.operations):
            raise DatasetError(
                f"For 'map', 'operations' must be callables, but got {operations!r}."
            )
        known = child._names()
        self.input_columns = _names_arg(
            "map", "input_columns", known[0] if input_columns is None else input_columns
        )
        _check_known("map", self.input_columns, known)
        self.output_columns = (
            list(self.input_columns)
            if output_columns is None
            else _names_arg("map", "output_columns", output_columns)
        )
        kept = [n for n in known if n not in self.input_columns]
        clash = [n for n in self.output_columns if n in kept]
        if clash:
            raise DatasetError(
                f"For 'map', output column(s) {clash} already exist; project or rename first."
            )
        first = known.index(self.input_columns[0])
        before = [n for n in known[:first] if n in kept]
        self._out_names = tuple(before + self.output_columns + [n for n in kept if n not in before])

    def _names(self) -> tuple[str, ...]:
        return self._out_names

    def _apply(self, cols: dict[str, Any], ctx: EpochContext, batched: bool) -> dict[str, Any]:
        xs: tuple[Any, ...] = tuple(cols[c] for c in self.input_columns)
        for k, op in enumerate(self.operations):
            rng = ctx.rng(self, k) if getattr(op, "random", False) else None
            if isinstance(op, Transform):
                out = op.apply_batch(*xs, rng=rng) if batched else op.apply(*xs, rng=rng)
            else:
                out = apply_per_sample(op, xs) if batched else op(*xs)
            xs = out if isinstance(out, tuple) else (out,)
        if len(xs) != len(self.output_columns):
            raise DatasetError(
                f"For 'map', the operations return {len(xs)} value(s) but output_columns "
                f"names {len(self.output_columns)}: {self.output_columns}."
            )
        new = dict(zip(self.output_columns, xs))
        if not batched:
            new = {k: v if isinstance(v, np.ndarray) else np.asarray(v) for k, v in new.items()}
        return {n: new[n] if n in new else cols[n] for n in self._out_names}

    def __repr__(self) -> str:
        return f"{self.child!r}.map({self.operations!r}, input_columns={self.input_columns})"


class Project(_ColumnOp):
    """``dataset.project(columns)``."""

    def __init__(self, child: Dataset, columns: str | Sequence[str]) -> None:
        super().__init__(child)
        self.columns = tuple(_names_arg("project", "columns", columns))
        _check_known("project", self.columns, child._names())

    def _names(self) -> tuple[str, ...]:
        return self.columns

    def _apply(self, cols: dict[str, Any], ctx: EpochContext, batched: bool) -> dict[str, Any]:
        return {n: cols[n] for n in self.columns}


class Rename(_ColumnOp):
    """``dataset.rename(input_columns, output_columns)``."""

    def __init__(
        self,
        child: Dataset,
        input_columns: str | Sequence[str],
        output_columns: str | Sequence[str],
    ) -> None:
        super().__init__(child)
        old = _names_arg("rename", "input_columns", input_columns)
        new = _names_arg("rename", "output_columns", output_columns)
        if len(old) != len(new):
            raise DatasetError(
                f"For 'rename', input_columns and output_columns must have the same length, "
                f"but got {len(old)} and {len(new)}."
            )
        _check_known("rename", old, child._names())
        self.mapping = dict(zip(old, new))
        names = tuple(self.mapping.get(n, n) for n in child._names())
        if len(set(names)) != len(names):
            raise DatasetError(
                f"For 'rename', the result has repeated column names: {list(names)}."
            )
        self._out_names = names

    def _names(self) -> tuple[str, ...]:
        return self._out_names

    def _apply(self, cols: dict[str, Any], ctx: EpochContext, batched: bool) -> dict[str, Any]:
        return {self.mapping.get(k, k): v for k, v in cols.items()}
