"""Property tests: hypothesis-generated shapes, broadcasting, size-0/1 dims, strided inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npukernel as npk
from npukernel import ops

SETTINGS = settings(max_examples=40, deadline=None)


def _tensor(arr, transpose):
    if transpose and arr.ndim >= 2:
        arr = np.ascontiguousarray(arr.T).T  # same values, Fortran-ordered strides
    return npk.Tensor._wrap(arr, npk.device.get("npu:0"))


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4
    ),
    op=st.sampled_from(["add", "sub", "mul", "maximum", "minimum", "less", "equal"]),
    transpose=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting_matches_numpy(shapes, op, transpose, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes.input_shapes[1]).astype(np.float32)
    got = getattr(ops, op)(_tensor(a, transpose), _tensor(b, not transpose)).asnumpy()
    want = getattr(np, {"sub": "subtract", "mul": "multiply"}.get(op, op))(a, b)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)


@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
    data=st.data(),
    op=st.sampled_from(["sum", "mean", "amax", "amin"]),
    keepdims=st.booleans(),
)
def test_reductions_over_random_axes(shape, data, op, keepdims):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = tuple(axes) if axes else None
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    got = getattr(ops, op)(npk.Tensor(x), axis, keepdims).asnumpy()
    ref = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min}[op]
    np.testing.assert_allclose(got, ref(x, axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=4
    ),
    seed=st.integers(0, 2**16),
)
def test_broadcast_gradients_sum_back_to_input_shape(shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0])
    b = rng.standard_normal(shapes.input_shapes[1])
    ga, gb = npk.grad(lambda x, y: (x * y).sum(), grad_position=(0, 1))(
        npk.Tensor(a), npk.Tensor(b)
    )
    out_shape = shapes.result_shape

    def sum_to(g, shape):
        g = np.broadcast_to(g, out_shape)
        lead = g.ndim - len(shape)
        g = g.sum(axis=tuple(range(lead)))
        return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(
            shape
        )

    np.testing.assert_allclose(ga.asnumpy(), sum_to(np.broadcast_to(b, out_shape), a.shape))
    np.testing.assert_allclose(gb.asnumpy(), sum_to(np.broadcast_to(a, out_shape), b.shape))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4), data=st.data())
def test_transpose_reshape_roundtrip(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    t = ops.transpose(npk.Tensor(x), tuple(perm))
    np.testing.assert_array_equal(t.asnumpy(), x.transpose(perm))
    flat = ops.reshape(t, (-1,)) if x.size else ops.reshape(t, (0,))
    np.testing.assert_array_equal(flat.asnumpy(), x.transpose(perm).reshape(-1))
