"""Reduction kernels over a 2-D contiguous view.

The operator layer moves the reduced axes to one end and views the input as 2-D, so a
reduction is one of two loops::

    rows:  for i in prange(M): out[i] = reduce(x[i, :])          # x is (M, K)
    cols:  for k in range(K): for j in range(M): out[j] = op(out[j], x[k, j])  # x is (K, M)

The row loop calls a helper on a 1-D contiguous slice, which numba vectorises; the column
loop streams whole rows, so reducing the batch axis of an (N, C) gradient needs no
transpose.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from npukernel.kernels import codegen

PARALLEL_MIN_SIZE = 1 << 22  # see kernels/elementwise.py: memory-bound work stays serial

_SOURCE = """
import math
import numpy as np
from numba import njit, prange

_FM = {"reassoc", "nsz", "contract"}


@njit(cache=True, nogil=True, fastmath=_FM)
def _sum(x):
    acc = x[0] * 0
    for v in x:
        acc += v
    return acc


@njit(cache=True, nogil=True)
def _max(x):
    m = x[0]
    for v in x:
        if v > m or v != v:
            m = v
            if v != v:
                break
    return m


@njit(cache=True, nogil=True)
def _min(x):
    m = x[0]
    for v in x:
        if v < m or v != v:
            m = v
            if v != v:
                break
    return m


@njit(cache=True, nogil=True)
def _argmax(x):
    best = 0
    m = x[0]
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            return i
        if v > m:
            m = v
            best = i
    return best


@njit(cache=True, nogil=True)
def _argmin(x):
    best = 0
    m = x[0]
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            return i
        if v < m:
            m = v
            best = i
    return best


@njit(cache=True, nogil=True, fastmath=_FM)
def _sqdev(x, mean):
    acc = 0.0
    for v in x:
        d = v - mean
        acc += d * d
    return acc


@njit(cache=True, nogil=True)
def _logsumexp(x):
    m = _max(x)
    if m != m or math.isinf(m):
        return m
    acc = 0.0
    for v in x:
        acc += math.exp(v - m)
    return m + math.log(acc)
"""

_ROWS = """

@njit(cache=True, nogil=True{par})
def {name}_rows_{variant}(x, out):
    for i in {rng}(x.shape[0]):
        out[i] = _{name}(x[i])
"""

# sum, the common case (mean, global pooling, losses), indexes the flat array instead of
# taking a row slice per row: a slice costs two atomic reference-count updates, which
# for short rows cost more than the sum (64x64x8x8 over the last two axes: 158 -> 30 us).
_ROWS_SUM = """

@njit(cache=True, nogil=True, fastmath=_FM{par})
def sum_rows_{variant}(x, out):
    xf = x.reshape(-1)
    k = np.uint64(x.shape[1])
    for i in {rng}(x.shape[0]):
        acc = xf[0] * 0
        b = np.uint64(i) * k
        for j in range(k):
            acc += xf[b + j]
        out[i] = acc
"""

_COLS = """

@njit(cache=True, nogil=True, fastmath=_FM)
def _{name}_acc(o, x):
    for j in range(o.shape[0]):
        {update}


@njit(cache=True, nogil=True)
def {name}_cols_serial(x, out):
    out[:] = x[0]
    for k in range(1, x.shape[0]):
        _{name}_acc(out, x[k])
"""

_UPDATES = {
    "sum": "o[j] += x[j]",
    "max": "o[j] = x[j] if (x[j] > o[j] or x[j] != x[j]) and o[j] == o[j] else o[j]",
    "min": "o[j] = x[j] if (x[j] < o[j] or x[j] != x[j]) and o[j] == o[j] else o[j]",
}

_VAR = """

@njit(cache=True, nogil=True{par})
def var_rows_{variant}(x, ddof, out):
    n = x.shape[1]
    for i in {rng}(x.shape[0]):
        mean = _sum(x[i]) / n
        out[i] = _sqdev(x[i], mean) / (n - ddof)
"""


def _build() -> ModuleType:
    src = _SOURCE
    for name in ("sum", "max", "min", "argmax", "argmin", "logsumexp"):
        for variant, par, rng in (
            ("serial", "", "range"),
            ("parallel", ", parallel=True", "prange"),
        ):
            template = _ROWS_SUM if name == "sum" else _ROWS
            src += template.format(name=name, variant=variant, par=par, rng=rng)
    for variant, par, rng in (("serial", "", "range"), ("parallel", ", parallel=True", "prange")):
        src += _VAR.format(variant=variant, par=par, rng=rng)
    for name, update in _UPDATES.items():
        src += _COLS.format(name=name, update=update)
    return codegen.load_source("reduce", src)


_MOD: list[ModuleType] = []


def _mod() -> ModuleType:
    if not _MOD:
        _MOD.append(_build())
    return _MOD[0]


def row_kernel(kind: str, parallel: bool = False):  # noqa: ANN201
    """The compiled ``kind_rows_serial(x, out)`` (or ``_parallel``) kernel :func:`rows` calls.

    Graph mode binds it once per node instead of looking it up per call.
    """
    return getattr(_mod(), f"{kind}_rows_{'parallel' if parallel else 'serial'}")


def rows(kind: str, x: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """Reduce each row of a 2-D contiguous ``x`` (M, K) with ``kind``; K must be > 0."""
    out = np.empty(x.shape[0], out_dtype)
    if out.size:
        row_kernel(kind, x.size >= PARALLEL_MIN_SIZE and x.shape[0] > 1)(x, out)
    return out


def cols(kind: str, x: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """Reduce each column of a 2-D contiguous ``x`` (K, M) with sum, max or min; K > 0."""
    out = np.empty(x.shape[1], out_dtype)
    if out.size:
        getattr(_mod(), f"{kind}_cols_serial")(x, out)
    return out


def var_rows(x: np.ndarray, ddof: int, out_dtype: np.dtype) -> np.ndarray:
    """Variance of each row of a 2-D contiguous ``x`` with ``ddof`` delta degrees of freedom."""
    out = np.empty(x.shape[0], out_dtype)
    if out.size:
        variant = "parallel" if x.size >= PARALLEL_MIN_SIZE and x.shape[0] > 1 else "serial"
        getattr(_mod(), f"var_rows_{variant}")(x, ddof, out)
    return out
