"""Containers: ``SequentialCell`` (run cells in order) and ``CellList`` (hold cells).

Children are registered under ``"0"``, ``"1"``, ... (or the keys of an OrderedDict), so
their parameters are named ``0.weight``, ``features.1.bias`` and so on, as in MindSpore.

Example:
    >>> from npukernel import nn, ops
    >>> seq = nn.SequentialCell([nn.Dense(4, 3), nn.ReLU()])
    >>> seq(ops.ones((2, 4))).shape
    (2, 3)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from npukernel.errors import DTypeError, NpuError
from npukernel.nn.cell import Cell


def _check_cell(op: str, cell: Any) -> Cell:
    if not isinstance(cell, Cell):
        raise DTypeError(f"For '{op}', each element must be a Cell, but got {type(cell).__name__}.")
    return cell


def _view(new: _IndexedCells, cells: list[Cell]) -> Any:
    """``new`` holding ``cells`` without renaming their parameters (slices share cells)."""
    auto = new._auto_prefix
    new.__dict__["_auto_prefix"] = False
    for cell in cells:
        new.append(cell)
    new.__dict__["_auto_prefix"] = auto
    return new


class _IndexedCells(Cell):
    """Shared list behaviour: children keyed by their position."""

    def _keys(self) -> list[str]:
        return list(self._cells.keys())

    def _index(self, index: int) -> str:
        keys = self._keys()
        if not isinstance(index, int) or not -len(keys) <= index < len(keys):
            raise IndexError(
                f"For '{self.cls_name}', index {index!r} is out of range for {len(keys)} cells."
            )
        return keys[index % len(keys)]

    def _rebuild(self, cells: list[Cell]) -> None:
        for key in self._keys():
            self._forget(key)
            object.__delattr__(self, key)
        for i, cell in enumerate(cells):
            self.insert_child_to_cell(str(i), cell)

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self) -> Iterator[Cell]:
        return iter(list(self._cells.values()))

    def __setitem__(self, index: int, cell: Cell) -> None:
        self.insert_child_to_cell(self._index(index), _check_cell(self.cls_name, cell))

    def __delitem__(self, index: int | slice) -> None:
        cells = list(self._cells.values())
        if isinstance(index, slice):
            del cells[index]
        else:
            self._index(index)
            del cells[index]
        self._rebuild(cells)

    def append(self, cell: Cell) -> None:
        """Add ``cell`` at the end."""
        self.insert_child_to_cell(str(len(self)), _check_cell(self.cls_name, cell))

    def insert(self, index: int, cell: Cell) -> None:
        """Insert ``cell`` before position ``index``."""
        cells = list(self._cells.values())
        cells.insert(index, _check_cell(self.cls_name, cell))
        self._rebuild(cells)


class SequentialCell(_IndexedCells):
    """Run cells one after another, feeding each one's output to the next.

    Args:
        *args: A list of Cells, an OrderedDict of name -> Cell, or Cells as arguments.

    Raises:
        DTypeError: if an element is not a Cell.

    Example:
        >>> from npukernel import nn
        >>> nn.SequentialCell(nn.Dense(2, 2), nn.ReLU())[1]
        ReLU<>
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, cell in args[0].items():
                self.insert_child_to_cell(name, _check_cell("SequentialCell", cell))
            return
        cells = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        for i, cell in enumerate(cells):
            self.insert_child_to_cell(str(i), _check_cell("SequentialCell", cell))

    def __getitem__(self, index: int | slice) -> Cell:
        if isinstance(index, slice):
            return _view(SequentialCell(), list(self._cells.values())[index])
        return self._cells[self._index(index)]

    def construct(self, input_data: Any) -> Any:
        """Apply each cell in order."""
        for cell in self._cells.values():
            input_data = cell(input_data)
        return input_data


class CellList(_IndexedCells):
    """A list of Cells that registers them (their parameters become the list's).

    Args:
        args: An iterable of Cells. Default empty.

    Example:
        >>> from npukernel import nn
        >>> layers = nn.CellList([nn.Dense(2, 2)]); layers.append(nn.ReLU()); len(layers)
        2
    """

    def __init__(self, args: Iterable[Cell] | None = None, auto_prefix: bool = True) -> None:
        super().__init__(auto_prefix=auto_prefix)
        if args is not None:
            self.extend(args)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return _view(CellList(auto_prefix=self._auto_prefix), list(self._cells.values())[index])
        return self._cells[self._index(index)]

    def extend(self, cells: Iterable[Cell]) -> CellList:
        """Append every cell of ``cells``."""
        if isinstance(cells, Cell) and not isinstance(cells, CellList):
            raise DTypeError("For 'CellList.extend', 'cells' must be an iterable of Cells.")
        for cell in cells:
            self.append(cell)
        return self

    def construct(self, *inputs: Any) -> Any:
        """A CellList is a container, not a computation."""
        raise NpuError(
            "For 'CellList', the list cannot be called; call its cells in a loop instead."
        )
