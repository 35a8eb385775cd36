"""Elementwise kernels: one template per arity, instantiated per scalar function.

The unary template computes::

    for i in range(n):            # prange when n is large
        out[i] = fn(x[i])

over flat contiguous buffers. The binary template has five shapes of loop: both operands
flat and the same size, a scalar on either side, a row (a bias ``(C,)`` under ``(N, C)``),
and the general broadcast case, which first collapses the broadcast into at most three
dimensions of strided views::

    for i in prange(d0):
        for j in range(d1):
            for k in range(d2):
                out[i, j, k] = fn(a[i, j, k], b[i, j, k])   # strides may be 0

Each template becomes a small generated module (``codegen.load_source``) so numba can
cache its machine code on disk; the scalar functions come from ``kernels/scalar.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

import numpy as np

from npukernel.kernels import codegen

# Elementwise work is memory-bound: one core streams it as fast as two, and a parallel
# region costs a thread hand-off that, on a busy 2-core machine, measured up to 8 ms
# (relu on 64x6x28x28: serial 0.05 ms, parallel 0.07-7.9 ms). Only very large arrays split.
PARALLEL_MIN_SIZE = 1 << 22

_HEADER = """\
import numpy as np
from numba import njit, prange
from npukernel.kernels.scalar import {imports}
# scalar.py hash: {stamp}
"""

_UNARY = """
@njit(cache=True, nogil=True, error_model="numpy"{par})
def {variant}(x, out):
    for i in {rng}(x.shape[0]):
        out[i] = {fn}(x[i])
"""

_BINARY = """
@njit(cache=True, nogil=True, error_model="numpy"{par})
def flat_{variant}(a, b, out):
    for i in {rng}(out.shape[0]):
        out[i] = {fn}(a[i], b[i])


@njit(cache=True, nogil=True, error_model="numpy"{par})
def right_{variant}(a, s, out):
    for i in {rng}(out.shape[0]):
        out[i] = {fn}(a[i], s)


@njit(cache=True, nogil=True, error_model="numpy"{par})
def left_{variant}(s, b, out):
    for i in {rng}(out.shape[0]):
        out[i] = {fn}(s, b[i])


@njit(cache=True, nogil=True, error_model="numpy"{par})
def row_{variant}(a, b, out):
    # a: (rows * C) flat, b: (C,) broadcast along rows (a bias)
    c = b.shape[0]
    for r in {rng}(out.shape[0] // c):
        _vv_{variant}(out[r * c : (r + 1) * c], a[r * c : (r + 1) * c], b)


@njit(cache=True, nogil=True, error_model="numpy"{par})
def strided_{variant}(a, b, out, d1, d2, sa0, sa1, sa2, sb0, sb1, sb2):
    # a, b: 1-D views from each operand's first element; s*: element strides (0 = broadcast)
    for i in {rng}(out.shape[0] // (d1 * d2)):
        for j in range(d1):
            oa = i * sa0 + j * sa1
            ob = i * sb0 + j * sb1
            oo = (i * d1 + j) * d2
            if sa2 == 1 and sb2 == 1:
                _vv_{variant}(out[oo : oo + d2], a[oa : oa + d2], b[ob : ob + d2])
            elif sa2 == 1 and sb2 == 0:
                _vs_{variant}(out[oo : oo + d2], a[oa : oa + d2], b[ob])
            elif sa2 == 0 and sb2 == 1:
                _sv_{variant}(out[oo : oo + d2], a[oa], b[ob : ob + d2])
            else:
                for k in range(d2):
                    out[oo + k] = {fn}(a[oa + k * sa2], b[ob + k * sb2])


@njit(cache=True, nogil=True, error_model="numpy")
def _vv_{variant}(o, x, y):
    for k in range(o.shape[0]):
        o[k] = {fn}(x[k], y[k])


@njit(cache=True, nogil=True, error_model="numpy")
def _vs_{variant}(o, x, s):
    for k in range(o.shape[0]):
        o[k] = {fn}(x[k], s)


@njit(cache=True, nogil=True, error_model="numpy")
def _sv_{variant}(o, s, y):
    for k in range(o.shape[0]):
        o[k] = {fn}(s, y[k])
"""

_WHERE = """
@njit(cache=True, nogil=True, error_model="numpy"{par})
def {variant}(c, a, b, out):
    for i in {rng}(out.shape[0]):
        out[i] = a[i] if c[i] else b[i]
"""

# the generated modules import scalar.py: a change there must give them new names
_STAMP = hashlib.sha1((Path(__file__).parent / "scalar.py").read_bytes()).hexdigest()[:12]
_cache: dict[tuple[str, str], ModuleType] = {}


def _module(template: str, fn: str) -> ModuleType:
    key = (template, fn)
    mod = _cache.get(key)
    if mod is None:
        imports = fn if fn != "where" else "neg"
        body = _HEADER.format(imports=imports, stamp=_STAMP)
        for variant, par, rng in (
            ("serial", "", "range"),
            ("parallel", ", parallel=True", "prange"),
        ):
            body += template.format(fn=fn, variant=variant, par=par, rng=rng)
        mod = codegen.load_source(f"ew_{fn}", body)
        _cache[key] = mod
    return mod


_flat: dict = {}  # (fn, parallel?) -> the flat binary kernel


def _variant(size: int) -> str:
    return "parallel" if size >= PARALLEL_MIN_SIZE else "serial"


def unary(fn: str, x: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """``out = fn(x)`` elementwise; ``fn`` names a function in ``kernels/scalar.py``."""
    out = np.empty(x.shape, out_dtype)
    if out.size:
        kernel = getattr(_module(_UNARY, fn), _variant(out.size))
        kernel(np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


def _element_strides(shape: tuple[int, ...], operand: tuple[int, ...]) -> list[int]:
    """Element strides of a C-contiguous ``operand`` broadcast to ``shape`` (0 = broadcast)."""
    strides = [0] * len(shape)
    step = 1
    offset = len(shape) - len(operand)
    for d in range(len(operand) - 1, -1, -1):
        n = operand[d]
        strides[d + offset] = step if n != 1 else 0
        step *= n
    return strides


def _collapse(
    shape: tuple[int, ...], strides: list[list[int]]
) -> tuple[list[int], list[list[int]]] | None:
    """Merge adjacent dims that are contiguous in every operand; at most 3 may remain."""
    sizes: list[int] = []
    merged: list[list[int]] = [[] for _ in strides]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if sizes and all(m[-1] == st[d] * n for m, st in zip(merged, strides)):
            sizes[-1] *= n
            for m, st in zip(merged, strides):
                m[-1] = st[d]
        else:
            sizes.append(n)
            for m, st in zip(merged, strides):
                m.append(st[d])
    if len(sizes) > 3:
        return None
    pad = 3 - len(sizes)
    return [1] * pad + sizes, [[0] * pad + m for m in merged]


def binary(fn: str, a: np.ndarray, b: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """``out = fn(a, b)`` elementwise with numpy broadcasting; a and b share one dtype."""
    shape = a.shape if a.shape == b.shape else np.broadcast_shapes(a.shape, b.shape)
    out = np.empty(shape, out_dtype)
    size = out.size
    if size == 0:
        return out
    flat = out.reshape(-1)
    a_full = a.shape == shape and a.flags.c_contiguous
    b_full = b.shape == shape and b.flags.c_contiguous
    if a_full and b_full:  # the common case: the kernel from a dict, no name built
        key = (fn, size >= PARALLEL_MIN_SIZE)
        kernel = _flat.get(key)
        if kernel is None:
            kernel = _flat[key] = getattr(_module(_BINARY, fn), "flat_" + _variant(size))
        kernel(a.reshape(-1), b.reshape(-1), flat)
        return out
    mod = _module(_BINARY, fn)
    v = _variant(size)
    if a_full and b.size == 1:
        getattr(mod, "right_" + v)(a.reshape(-1), b.reshape(-1)[0], flat)
    elif b_full and a.size == 1:
        getattr(mod, "left_" + v)(a.reshape(-1)[0], b.reshape(-1), flat)
    elif (
        a_full and b.ndim >= 1 and b.size == shape[-1] == b.shape[-1] and b.flags.c_contiguous
    ):  # a bias: one row of b under every row of a
        getattr(mod, "row_" + v)(a.reshape(-1), b.reshape(-1), flat)
    else:
        a = np.ascontiguousarray(a)
        b = np.ascontiguousarray(b)
        st = [_element_strides(shape, a.shape), _element_strides(shape, b.shape)]
        collapsed = _collapse(shape, st)
        if collapsed is None:
            a2 = np.ascontiguousarray(np.broadcast_to(a, shape))
            b2 = np.ascontiguousarray(np.broadcast_to(b, shape))
            getattr(mod, "flat_" + v)(a2.reshape(-1), b2.reshape(-1), flat)
        else:
            sizes, (sa, sb) = collapsed
            kernel = getattr(mod, "strided_" + v)
            kernel(a.reshape(-1), b.reshape(-1), flat, sizes[1], sizes[2], *sa, *sb)
    return out


def where(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``out[i] = a[i] if cond[i] else b[i]`` with broadcasting; a and b share one dtype."""
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    out = np.empty(shape, a.dtype)
    if out.size:
        c, x, y = (
            np.ascontiguousarray(np.broadcast_to(t, shape)).reshape(-1) for t in (cond, a, b)
        )
        getattr(_module(_WHERE, "where"), _variant(out.size))(c, x, y, out.reshape(-1))
    return out
