"""Tests generated from the operator registry: every OpDef, forward, gradient, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from npukernel.errors import NpuError
from npukernel.ops.opdef import OPS
from tests.ops.helpers import analytic_grads, cast_floats, numeric_grads, run, tol

WITH_EXAMPLES = sorted(name for name, op in OPS.items() if op.examples is not None)
DIFFERENTIABLE = sorted(name for name in WITH_EXAMPLES if OPS[name].grad is not None)
WITH_BAD = sorted(name for name, op in OPS.items() if op.bad is not None)


def test_registry_is_complete():
    required = {
        "neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu",
        "gelu", "softplus", "sign", "add", "sub", "mul", "div", "pow", "maximum", "minimum",
        "equal", "less", "greater", "where", "cast", "sum", "mean", "amax", "amin", "argmax",
        "argmin", "var", "logsumexp", "reshape", "transpose", "broadcast_to", "expand_dims",
        "squeeze", "concat", "stack", "split", "getitem", "pad", "gather", "one_hot", "matmul",
    }  # fmt: skip
    assert required <= set(OPS)
    for op in OPS.values():
        assert op.group and op.unit in {"cube", "vector", "scalar", "dma"}


@pytest.mark.parametrize("name", WITH_EXAMPLES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_npu_matches_cpu_reference(name, dtype):
    op = OPS[name]
    rng = np.random.default_rng(1)
    for arrays, attrs in op.examples(rng):
        arrays = cast_floats(arrays, dtype)
        got = run(op, arrays, attrs, "npu:0")
        want = run(op, arrays, attrs, "cpu")
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape, (name, attrs)
            assert g.dtype == w.dtype, (name, attrs)
            np.testing.assert_allclose(g, w, **tol(name, dtype), err_msg=f"{name} {attrs}")


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradient_matches_finite_differences(name):
    op = OPS[name]
    rng = np.random.default_rng(2)
    for arrays, attrs in op.examples(rng):
        arrays = cast_floats(arrays, np.float64)
        diff = [
            i for i, a in enumerate(arrays)
            if a.dtype.kind == "f" and (op.diff_inputs is None or i in op.diff_inputs)
        ]  # fmt: skip
        if not diff or any(arrays[i].size > 200 or arrays[i].size == 0 for i in diff):
            continue
        outs = run(op, arrays, attrs, "cpu")
        sens = [rng.standard_normal(o.shape) for o in outs]
        want = numeric_grads(op, arrays, attrs, sens, diff)
        got = analytic_grads(op, arrays, attrs, sens, diff, "npu:0")
        for i, g, w in zip(diff, got, want):
            np.testing.assert_allclose(
                g, w, rtol=1e-5, atol=1e-6, err_msg=f"{name} input {i} {attrs}"
            )


@pytest.mark.parametrize("name", WITH_BAD)
def test_bad_input_raises_named_error(name):
    op = OPS[name]
    for arrays, attrs, err in op.bad():
        with pytest.raises(err) as info:
            run(op, arrays, attrs, "npu:0")
        assert isinstance(info.value, NpuError)
        message = str(info.value)
        assert message.startswith("For '"), message
        # the public name (``batch_norm`` for ``batch_norm_train``) is what users typed
        assert name.startswith(message.split("'")[1]), message


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_float16_runs_and_matches_reference(name):
    op = OPS[name]
    rng = np.random.default_rng(3)
    for arrays, attrs in op.examples(rng):
        arrays = cast_floats(arrays, np.float16)
        got = run(op, arrays, attrs, "npu:0")
        want = run(op, arrays, attrs, "cpu")
        for g, w in zip(got, want):
            assert g.dtype == w.dtype, (name, attrs)
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=2e-2, atol=2e-2,
                                       err_msg=f"{name} {attrs}")  # fmt: skip
