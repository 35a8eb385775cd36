"""The NPU's private data layouts: NC1HWC0 ("5HD") and FRACTAL_NZ, exact to CANN.

The Cube reads 16x16 fp16 tiles, so CANN stores activations and matrices in blocked
layouts whose innermost block is one tile row (or one tile). These are teaching tools:
they show what the chip's data-movement engines do, and they are not on the hot path.

* **NC1HWC0** (``to_5hd``): ``(N, C, H, W) -> (N, C1, H, W, C0)`` with ``C1 = ceil(C/C0)``;
  the last channel block is zero-padded to ``C0`` (16 for fp16).
* **FRACTAL_NZ** (``to_fractal_nz``): ``(..., M, N)`` is zero-padded to multiples of
  ``(M0, N0)``, reshaped to ``(..., M1, M0, N1, N0)`` and transposed to
  ``(..., N1, M1, M0, N0)``: fractals column-major ("N"), elements inside a fractal
  row-major ("Z"). CANN writes the result 4-D as ``(..., N1, M1*M0, N0)``; e.g. ND
  ``(8, 100, 30)`` fp16 is NZ ``(8, 2, 112, 16)``.

Sources: ``shared/reference/ASCEND.md`` section 1.3.

Example:
    >>> import numpy as np
    >>> to_5hd(np.ones((1, 3, 2, 2), np.float16)).shape
    (1, 1, 2, 2, 16)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import ShapeError, ValueRangeError, op_error


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_block(op: str, name: str, value: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise op_error(ValueRangeError, op, f"'{name}' must be a positive int, but got {value!r}.")


def to_5hd(x: Any, c0: int = 16) -> np.ndarray:
    """Convert an NCHW array to NC1HWC0, zero-padding the last channel block.

    ``y[n, c1, h, w, c0] = x[n, c1 * C0 + c0, h, w]`` (0 where ``c1 * C0 + c0 >= C``).

    Args:
        x: Array (or anything with ``__array__``) of shape ``(N, C, H, W)``.
        c0: Channel block size; 16 for fp16 (the Cube size), 32 for int8.

    Returns:
        A new C-contiguous array of shape ``(N, ceil(C / c0), H, W, c0)``.

    Raises:
        ShapeError: if ``x`` is not 4-D.

    Example:
        >>> to_5hd(np.zeros((2, 20, 5, 5), np.float16)).shape
        (2, 2, 5, 5, 16)
    """
    x = np.asarray(x)
    _check_block("to_5hd", "c0", c0)
    if x.ndim != 4:
        raise op_error(
            ShapeError, "to_5hd", f"'x' must be 4-D (N, C, H, W), but got shape {x.shape}."
        )
    n, c, h, w = x.shape
    c1 = _ceil_div(c, c0)
    padded = np.zeros((n, c1 * c0, h, w), dtype=x.dtype)
    padded[:, :c] = x
    return np.ascontiguousarray(padded.reshape(n, c1, c0, h, w).transpose(0, 1, 3, 4, 2))


def from_5hd(y: Any, channels: int) -> np.ndarray:
    """Convert NC1HWC0 back to NCHW, dropping the channel padding.

    Args:
        y: Array of shape ``(N, C1, H, W, C0)``.
        channels: The original ``C``; ``(C1 - 1) * C0 < C <= C1 * C0``.

    Returns:
        A new C-contiguous array of shape ``(N, channels, H, W)``.

    Raises:
        ShapeError: if ``y`` is not 5-D or ``channels`` does not fit its C1 and C0.

    Example:
        >>> x = np.arange(2 * 20 * 3 * 3).reshape(2, 20, 3, 3)
        >>> bool((from_5hd(to_5hd(x), 20) == x).all())
        True
    """
    y = np.asarray(y)
    if y.ndim != 5:
        raise op_error(
            ShapeError,
            "from_5hd",
            f"'y' must be 5-D (N, C1, H, W, C0), but got shape {y.shape}.",
        )
    n, c1, h, w, c0 = y.shape
    if not (c1 - 1) * c0 < channels <= c1 * c0:
        raise op_error(
            ShapeError,
            "from_5hd",
            f"'channels' must be in ({(c1 - 1) * c0}, {c1 * c0}] for C1={c1}, C0={c0}, "
            f"but got {channels}.",
        )
    nchw = y.transpose(0, 1, 4, 2, 3).reshape(n, c1 * c0, h, w)
    return np.ascontiguousarray(nchw[:, :channels])


def _default_n0(dtype: np.dtype) -> int:
    # A fractal row is 32 bytes: 16 fp16 values or 32 int8 values (ASCEND.md 1.3).
    return 32 if dtype.itemsize == 1 else 16


def to_fractal_nz(x: Any, m0: int = 16, n0: int | None = None) -> np.ndarray:
    """Convert ``(..., M, N)`` to FRACTAL_NZ ``(..., N1, M1, M0, N0)``, zero-padded.

    ``y[..., j1, i1, i0, j0] = x[..., i1 * M0 + i0, j1 * N0 + j0]`` (0 outside ``x``).

    Args:
        x: Array (or anything with ``__array__``) with at least 2 dimensions.
        m0: Fractal rows; 16.
        n0: Fractal columns; ``None`` picks 16, or 32 for 1-byte dtypes (int8).

    Returns:
        A new C-contiguous array; ``.reshape(..., N1, M1 * M0, N0)`` gives CANN's 4-D form.

    Raises:
        ShapeError: if ``x`` has fewer than 2 dimensions.

    Example:
        >>> to_fractal_nz(np.zeros((8, 100, 30), np.float16)).reshape(8, 2, 112, 16).shape
        (8, 2, 112, 16)
    """
    x = np.asarray(x)
    if n0 is None:
        n0 = _default_n0(x.dtype)
    _check_block("to_fractal_nz", "m0", m0)
    _check_block("to_fractal_nz", "n0", n0)
    if x.ndim < 2:
        raise op_error(
            ShapeError,
            "to_fractal_nz",
            f"'x' must be at least 2-D (..., M, N), but got shape {x.shape}.",
        )
    *batch, m, n = x.shape
    m1, n1 = _ceil_div(m, m0), _ceil_div(n, n0)
    padded = np.zeros((*batch, m1 * m0, n1 * n0), dtype=x.dtype)
    padded[..., :m, :n] = x
    nb = len(batch)
    blocks = padded.reshape(*batch, m1, m0, n1, n0)
    order = (*range(nb), nb + 2, nb, nb + 1, nb + 3)
    return np.ascontiguousarray(blocks.transpose(order))


def from_fractal_nz(y: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Convert FRACTAL_NZ ``(..., N1, M1, M0, N0)`` back to ND ``shape`` = ``(..., M, N)``.

    Args:
        y: Array with at least 4 dimensions.
        shape: The original ND shape; its batch dims must match ``y``'s, and ``M``, ``N``
            must fit the fractals (``(M1 - 1) * M0 < M <= M1 * M0``, same for N).

    Returns:
        A new C-contiguous array of shape ``shape``.

    Raises:
        ShapeError: if ``y`` and ``shape`` do not fit together.

    Example:
        >>> x = np.arange(100 * 30, dtype=np.float16).reshape(100, 30)
        >>> bool((from_fractal_nz(to_fractal_nz(x), x.shape) == x).all())
        True
    """
    y = np.asarray(y)
    shape = tuple(int(s) for s in shape)
    if y.ndim < 4 or len(shape) != y.ndim - 2:
        raise op_error(
            ShapeError,
            "from_fractal_nz",
            f"'y' must be (..., N1, M1, M0, N0) with one batch dim per dim of 'shape' "
            f"beyond (M, N), but got y shape {y.shape} and shape {shape}.",
        )
    *batch, n1, m1, m0, n0 = y.shape
    *want_batch, m, n = shape
    if want_batch != batch or not (m1 - 1) * m0 < m <= m1 * m0 or not (n1 - 1) * n0 < n <= n1 * n0:
        raise op_error(
            ShapeError,
            "from_fractal_nz",
            f"'shape' {shape} does not fit NZ shape {y.shape} "
            f"(M1={m1}, M0={m0}, N1={n1}, N0={n0}).",
        )
    nb = len(batch)
    order = (*range(nb), nb + 1, nb + 2, nb, nb + 3)
    nd = y.transpose(order).reshape(*batch, m1 * m0, n1 * n0)
    return np.ascontiguousarray(nd[..., :m, :n])
