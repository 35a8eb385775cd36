"""Fuzz the public operator layer: thousands of random, often invalid, calls.

Every call must either return a result equal to the ``cpu`` reference device's, or raise
an ``NpuError`` — never another exception type, never a crash.
"""

from __future__ import annotations

import numpy as np
import pytest

import npukernel as npk
from npukernel import ops
from npukernel.errors import NpuError

N_CALLS = 2400
DTYPES = [np.float32, np.float64, np.int64, np.int32, np.bool_, np.float16]
JUNK = [None, "x", -1, 0, 1, 2, 3, 7, -3, 2.5, (0, 1), (1, 0), (0, 0), (-1,), [1, 2], (2, 2), 1e30]


def _array(rng):
    ndim = int(rng.integers(0, 5))
    shape = tuple(
        int(rng.integers(0, 4)) if rng.random() < 0.15 else int(rng.integers(1, 5))
        for _ in range(ndim)
    )
    dtype = DTYPES[int(rng.integers(0, len(DTYPES)))]
    arr = (rng.standard_normal(shape) * 3).astype(dtype)
    if ndim >= 2 and rng.random() < 0.3:
        arr = np.ascontiguousarray(arr.T).T
    return arr


def _arg(rng):
    r = rng.random()
    if r < 0.65:
        return ("T", _array(rng))
    return ("J", JUNK[int(rng.integers(0, len(JUNK)))])


# op name -> number of positional arguments to draw
CATALOGUE = {
    "add": 2, "sub": 2, "mul": 2, "div": 2, "pow": 2, "maximum": 2, "minimum": 2, "equal": 2,
    "less": 2, "greater_equal": 2, "logical_and": 2, "floor_divide": 2, "neg": 1, "abs": 1,
    "exp": 1, "log": 1, "sqrt": 1, "rsqrt": 1, "sin": 1, "tanh": 1, "sigmoid": 1, "relu": 1,
    "gelu": 1, "softplus": 1, "sign": 1, "square": 1, "logical_not": 1, "where": 3, "clip": 3,
    "cast": 2, "sum": 3, "mean": 3, "amax": 3, "amin": 3, "argmax": 3, "argmin": 3, "var": 2,
    "logsumexp": 2, "reshape": 2, "transpose": 2, "broadcast_to": 2, "expand_dims": 2,
    "squeeze": 2, "concat": 2, "stack": 2, "split": 3, "pad": 2, "gather": 3, "one_hot": 2,
    "matmul": 2, "softmax": 2, "log_softmax": 2, "flatten": 1, "conv2d": 2, "max_pool2d": 2,
    "avg_pool2d": 2, "cross_entropy": 2, "layer_norm": 2, "dropout": 2,
}  # fmt: skip
LIST_ARG = {"concat", "stack"}


def _materialize(args, device):
    dev = npk.device.get(device)
    out = []
    for kind, v in args:
        if kind == "T":
            out.append(npk.Tensor._wrap(v, dev))
        elif kind == "L":
            out.append([npk.Tensor._wrap(a, dev) for a in v])
        else:
            out.append(v)
    return out


def _call(name, args, device):
    fn = getattr(ops, name)
    extra = {"seed": 3} if name == "dropout" else {}
    return fn(*_materialize(args, device), **extra)


def _flatten(result):
    if isinstance(result, npk.Tensor):
        return [result.asnumpy()]
    if isinstance(result, (tuple, list)):
        return [r.asnumpy() for r in result]
    raise AssertionError(f"unexpected result type {type(result)}")


def _close(a, b, dtype):
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "iub":
        return np.array_equal(a, b)
    rtol = 2e-2 if a.dtype == np.float16 else (1e-4 if a.dtype == np.float32 else 1e-9)
    return np.allclose(a, b, rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.slow
def test_fuzz_operator_layer():
    rng = np.random.default_rng(12345)
    outcomes = {"ok": 0, "npu_error": 0}
    for i in range(N_CALLS):
        name = list(CATALOGUE)[int(rng.integers(0, len(CATALOGUE)))]
        args = [_arg(rng) for _ in range(CATALOGUE[name])]
        if name in LIST_ARG and args[0][0] == "T":
            args[0] = ("L", [args[0][1]] + ([_array(rng)] if rng.random() < 0.5 else [args[0][1]]))
        try:
            with np.errstate(all="ignore"):
                got = _call(name, args, "npu:0")
        except NpuError:
            outcomes["npu_error"] += 1
            continue
        except Exception as exc:  # pragma: no cover - the failure we are hunting
            pytest.fail(f"call {i}: ops.{name} raised {type(exc).__name__}: {exc}\nargs={args!r}")
        try:
            with np.errstate(all="ignore"):
                want = _call(name, args, "cpu")
        except NpuError as exc:  # pragma: no cover
            pytest.fail(
                f"call {i}: ops.{name} succeeded on npu but cpu raised {exc}\nargs={args!r}"
            )
        outcomes["ok"] += 1
        if name == "dropout":
            continue
        for g, w in zip(_flatten(got), _flatten(want)):
            assert _close(g, w, g.dtype), (
                f"call {i}: ops.{name} npu != cpu\nargs={args!r}\n{g}\n{w}"
            )
    assert sum(outcomes.values()) == N_CALLS
    assert outcomes["ok"] > 200 and outcomes["npu_error"] > 200, outcomes
