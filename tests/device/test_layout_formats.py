import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npukernel.device import formats
from npukernel.errors import ShapeError, ValueRangeError

dims = st.integers(1, 40)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3), c=dims, h=st.integers(1, 5), w=st.integers(1, 5),
       c0=st.sampled_from([4, 16, 32]))  # fmt: skip
def test_5hd_round_trip_and_padding(n, c, h, w, c0):
    x = np.random.default_rng(0).standard_normal((n, c, h, w)).astype(np.float16) + 1
    y = formats.to_5hd(x, c0=c0)
    c1 = -(-c // c0)
    assert y.shape == (n, c1, h, w, c0)
    assert y.flags.c_contiguous
    flat = y.transpose(0, 1, 4, 2, 3).reshape(n, c1 * c0, h, w)
    assert (flat[:, c:] == 0).all()  # padding is zero
    np.testing.assert_array_equal(flat[:, :c], x)
    np.testing.assert_array_equal(formats.from_5hd(y, c), x)


def test_5hd_definition():
    x = np.arange(2 * 20 * 3 * 4).reshape(2, 20, 3, 4)
    y = formats.to_5hd(x)
    assert y[1, 1, 2, 3, 2] == x[1, 16 + 2, 2, 3]
    assert y[1, 1, 2, 3, 5] == 0  # channel 21 does not exist


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), m=dims, n=dims,
       dtype=st.sampled_from([np.float16, np.float32, np.int8]))  # fmt: skip
def test_fractal_nz_round_trip_and_padding(batch, m, n, dtype):
    x = (np.arange(np.prod(batch, dtype=int) * m * n) % 100 + 1).astype(dtype)
    x = x.reshape(*batch, m, n)
    y = formats.to_fractal_nz(x)
    n0 = 32 if dtype == np.int8 else 16
    m1, n1 = -(-m // 16), -(-n // n0)
    assert y.shape == (*batch, n1, m1, 16, n0)
    nd = np.moveaxis(y, -4, -2).reshape(*batch, m1 * 16, n1 * n0)
    assert (nd[..., m:, :] == 0).all() and (nd[..., :, n:] == 0).all()
    np.testing.assert_array_equal(formats.from_fractal_nz(y, x.shape), x)


def test_fractal_nz_official_example():
    # ASCEND.md 1.3: ND {8,100,30} fp16 becomes NZ {8,2,112,16}.
    x = np.ones((8, 100, 30), np.float16)
    y = formats.to_fractal_nz(x)
    assert y.shape == (8, 2, 7, 16, 16)
    assert y.reshape(8, 2, 112, 16).shape == (8, 2, 112, 16)


def test_fractal_nz_definition():
    x = np.arange(40 * 50).reshape(40, 50).astype(np.float32)
    y = formats.to_fractal_nz(x)
    # y[j1, i1, i0, j0] = x[i1*16 + i0, j1*16 + j0]
    assert y[2, 1, 3, 4] == x[16 + 3, 32 + 4]
    assert y[3, 2, 15, 15] == 0  # row 47 and column 63 are padding
    # fractals are column-major: the second fractal in memory is the one *below* the first
    np.testing.assert_array_equal(y.reshape(-1, 16, 16)[1], x[16:32, 0:16])


def test_fractal_nz_int8_uses_32_columns_and_explicit_n0():
    x = np.ones((20, 40), np.int8)
    assert formats.to_fractal_nz(x).shape == (2, 2, 16, 32)
    assert formats.to_fractal_nz(x, n0=16).shape == (3, 2, 16, 16)


def test_array_like_inputs():
    class Wrapped:
        def __array__(self, dtype=None, copy=None):
            return np.ones((1, 3, 2, 2), np.float32)

    assert formats.to_5hd(Wrapped()).shape == (1, 1, 2, 2, 16)
    assert formats.to_fractal_nz([[1, 2], [3, 4]]).shape == (1, 1, 16, 16)


def test_errors_name_the_op_and_shape():
    with pytest.raises(ShapeError, match=r"For 'to_5hd', 'x' must be 4-D \(N, C, H, W\), "
                       r"but got shape \(1, 28, 28\)\."):  # fmt: skip
        formats.to_5hd(np.zeros((1, 28, 28)))
    with pytest.raises(ShapeError, match="For 'from_5hd', 'channels' must be in"):
        formats.from_5hd(np.zeros((1, 2, 3, 3, 16)), 40)
    with pytest.raises(ShapeError, match="For 'from_5hd', 'y' must be 5-D"):
        formats.from_5hd(np.zeros((1, 2, 3, 3)), 4)
    with pytest.raises(ShapeError, match="For 'to_fractal_nz', 'x' must be at least 2-D"):
        formats.to_fractal_nz(np.zeros(5))
    with pytest.raises(ShapeError, match="For 'from_fractal_nz'"):
        formats.from_fractal_nz(np.zeros((2, 7, 16, 16)), (100, 40))
    with pytest.raises(ShapeError, match="For 'from_fractal_nz'"):
        formats.from_fractal_nz(np.zeros((2, 7, 16, 16)), (3, 100, 30))
    with pytest.raises(ValueRangeError, match="'c0' must be a positive int"):
        formats.to_5hd(np.zeros((1, 3, 2, 2)), c0=0)
