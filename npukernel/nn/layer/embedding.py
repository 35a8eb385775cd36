"""``Embedding``: a lookup table of ``vocab_size`` vectors (``mindspore.nn.Embedding``).

Example:
    >>> import npukernel as npk
    >>> from npukernel import nn
    >>> nn.Embedding(10, 4)(npk.Tensor([[1, 2, 3]], npk.int32)).shape
    (1, 3, 4)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel import ops
from npukernel.common.initializer import Normal, initializer
from npukernel.errors import DTypeError, ValueRangeError
from npukernel.nn._check import positive_int
from npukernel.nn.cell import Cell
from npukernel.tensor import Parameter, Tensor


class Embedding(Cell):
    """Map integer ids to rows of ``embedding_table`` ``(vocab_size, embedding_size)``.

    Args:
        vocab_size: Number of rows.
        embedding_size: Length of each vector.
        use_one_hot: Compute as ``one_hot(ids) @ table`` (a Cube matmul) instead of a gather.
        embedding_table: Initializer. Default ``"normal"`` (``Normal(sigma=0.01)``).
        dtype: Dtype of the ids (kept for MindSpore parity; any int dtype is accepted).
        padding_idx: A row initialised to zeros (None for none).

    Raises:
        ValueRangeError: for bad sizes or a ``padding_idx`` outside ``[0, vocab_size)``.
        DTypeError: (when called) if the ids are not integers.

    Example:
        >>> from npukernel import nn
        >>> nn.Embedding(5, 3, padding_idx=0).embedding_table.asnumpy()[0].tolist()
        [0.0, 0.0, 0.0]
    """

    def __init__(self, vocab_size: int, embedding_size: int, use_one_hot: bool = False,
                 embedding_table: Any = "normal", dtype: Any = "int32",
                 padding_idx: int | None = None) -> None:  # fmt: skip
        super().__init__()
        self.vocab_size = positive_int("Embedding", "vocab_size", vocab_size)
        self.embedding_size = positive_int("Embedding", "embedding_size", embedding_size)
        self.use_one_hot = bool(use_one_hot)
        if padding_idx is not None and not (
            isinstance(padding_idx, (int, np.integer)) and 0 <= padding_idx < self.vocab_size
        ):
            raise ValueRangeError(
                f"For 'Embedding', 'padding_idx' must be an int in [0, {self.vocab_size}), but got "
                f"{padding_idx!r}."
            )
        self.padding_idx = padding_idx
        init = (
            Normal(sigma=0.01)
            if isinstance(embedding_table, str) and embedding_table == "normal"
            else embedding_table
        )
        table = initializer(init, (self.vocab_size, self.embedding_size), "float32")
        if padding_idx is not None:
            table._data[padding_idx] = 0
        self.embedding_table = Parameter(table, name="embedding_table")

    def construct(self, ids: Tensor) -> Tensor:
        """``ids`` of any shape -> ``ids.shape + (embedding_size,)``."""
        if not isinstance(ids, Tensor):
            ids = Tensor(ids)
        if ids.dtype.kind not in "iu":
            raise DTypeError(
                f"For 'Embedding', 'ids' must be an int tensor, but got dtype {ids.dtype}."
            )
        table = self.embedding_table
        dt = self._mixed_dtype
        if dt is not None and table.dtype != dt:
            table = table.astype(dt)
        if not self.use_one_hot:
            return ops.gather(table, ids, 0)
        flat = ops.reshape(ids, (-1,))
        out = ops.matmul(ops.cast(ops.one_hot(flat, self.vocab_size), table.dtype), table)
        return ops.reshape(out, ids.shape + (self.embedding_size,))

    def extend_repr(self) -> str:
        """The arguments shown by ``repr``."""
        return (
            f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, "
            f"use_one_hot={self.use_one_hot}, padding_idx={self.padding_idx}"
        )
