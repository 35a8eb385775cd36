"""Initializers: statistics, bounds, fans, names, determinism under npk.set_seed."""

import math

import numpy as np
import pytest

import npukernel as npk
from npukernel.common import initializer as init_mod
from npukernel.common.initializer import (
    Constant,
    HeNormal,
    HeUniform,
    Identity,
    Normal,
    One,
    Orthogonal,
    TruncatedNormal,
    Uniform,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zero,
    initializer,
)
from npukernel.errors import DTypeError, ShapeError, ValueRangeError

SHAPE = (256, 64, 3, 3)  # fan_in = 576, fan_out = 2304
FAN_IN, FAN_OUT = 64 * 9, 256 * 9


def draw(init, shape=SHAPE):
    return initializer(init, shape, npk.float32).asnumpy()


def test_fans_follow_mindspore():
    assert init_mod._calculate_fan_in_and_fan_out((10, 4)) == (4, 10)
    assert init_mod._calculate_fan_in_and_fan_out(SHAPE) == (FAN_IN, FAN_OUT)
    with pytest.raises(ShapeError):
        init_mod._calculate_fan_in_and_fan_out((5,))


@pytest.mark.parametrize(
    "init, bound",
    [
        (Uniform(0.2), 0.2),
        (XavierUniform(), math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (XavierUniform(gain=2), 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (HeUniform(), math.sqrt(3) * math.sqrt(2) / math.sqrt(FAN_IN)),
        (HeUniform(math.sqrt(5)), math.sqrt(3) * math.sqrt(2 / 6) / math.sqrt(FAN_IN)),
        (
            HeUniform(mode="fan_out", nonlinearity="relu"),
            math.sqrt(3) * math.sqrt(2) / math.sqrt(FAN_OUT),
        ),
    ],
)
def test_uniform_bounds_and_std(init, bound):
    a = draw(init)
    assert a.dtype == np.float32 and a.shape == SHAPE
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    assert np.abs(a).max() > 0.99 * bound
    assert abs(a.mean()) < 0.01 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    "init, mean, std",
    [
        (Normal(), 0.0, 0.01),
        (Normal(sigma=0.5, mean=1.0), 1.0, 0.5),
        (XavierNormal(), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (HeNormal(), 0.0, math.sqrt(2) / math.sqrt(FAN_IN)),
        (HeNormal(nonlinearity="tanh"), 0.0, 5 / 3 / math.sqrt(FAN_IN)),
        (
            VarianceScaling(2.0, "fan_avg", "untruncated_normal"),
            0.0,
            math.sqrt(2 / ((FAN_IN + FAN_OUT) / 2)),
        ),
        (VarianceScaling(1.0, "fan_in", "truncated_normal"), 0.0, math.sqrt(1 / FAN_IN)),
    ],
)
def test_normal_statistics(init, mean, std):
    a = draw(init)
    assert a.mean() == pytest.approx(mean, abs=0.02 * std)
    assert a.std() == pytest.approx(std, rel=0.02)


def test_truncated_normal_is_cut_at_two_sigma():
    a = draw(TruncatedNormal(sigma=0.1))
    assert np.abs(a).max() <= 0.2 * (1 + 1e-6)
    assert a.std() == pytest.approx(0.1 * 0.8796, rel=0.02)  # std of a unit normal cut at +-2


def test_variance_scaling_uniform():
    a = draw(VarianceScaling(3.0, "fan_out", "uniform"))
    assert np.abs(a).max() <= math.sqrt(3 * 3.0 / FAN_OUT) * (1 + 1e-6)


def test_constants():
    assert (draw(Zero(), (3,)) == 0).all() and (draw("zeros", (3,)) == 0).all()
    assert (draw(One(), (3,)) == 1).all() and (draw("ones", (3,)) == 1).all()
    assert (draw(Constant(2.5), (2, 2)) == 2.5).all() and (draw(7, (2,)) == 7).all()
    assert (draw(Identity(), (2, 3)) == np.eye(2, 3)).all()


def test_orthogonal():
    a = draw(Orthogonal(), (8, 4)).astype(np.float64)
    np.testing.assert_allclose(a.T @ a, np.eye(4), atol=1e-5)
    b = draw(Orthogonal(gain=2.0), (3, 2, 4)).reshape(3, 8).astype(np.float64)
    np.testing.assert_allclose(b @ b.T, 4 * np.eye(3), atol=1e-4)


@pytest.mark.parametrize(
    "name, cls",
    [("normal", Normal), ("uniform", Uniform), ("he_uniform", HeUniform), ("he_normal", HeNormal),
     ("xavier_uniform", XavierUniform), ("xavier_normal", XavierNormal),
     ("truncatedNormal", TruncatedNormal), ("TruncatedNormal", TruncatedNormal),
     ("zeros", Zero), ("ones", One), ("identity", Identity), ("orthogonal", Orthogonal),
     ("varianceScaling", VarianceScaling)],
)  # fmt: skip
def test_names_match_classes(name, cls):
    npk.set_seed(3)
    a = draw(name, (6, 4))
    npk.set_seed(3)
    b = draw(cls(), (6, 4))
    np.testing.assert_array_equal(a, b)


def test_set_seed_makes_init_deterministic():
    npk.set_seed(11)
    a = draw(HeUniform(), (5, 5))
    b = draw(HeUniform(), (5, 5))
    npk.set_seed(11)
    np.testing.assert_array_equal(a, draw(HeUniform(), (5, 5)))
    assert not np.array_equal(a, b)


def test_layers_initialise_deterministically():
    from npukernel import nn

    npk.set_seed(5)
    w1 = nn.Conv2d(3, 4, 3).weight.asnumpy().copy()
    npk.set_seed(5)
    w2 = nn.Conv2d(3, 4, 3).weight.asnumpy()
    np.testing.assert_array_equal(w1, w2)


def test_tensor_and_array_inits():
    t = npk.Tensor(np.arange(4, dtype=np.float32))
    out = initializer(t, (4,), npk.float32)
    assert out.asnumpy().tolist() == [0.0, 1.0, 2.0, 3.0] and out is not t
    assert initializer(np.ones((2,)), None, npk.float16).dtype == npk.float16
    with pytest.raises(ShapeError):
        initializer(t, (5,))


def test_tensor_constructor_uses_initializer():
    t = npk.Tensor(shape=(3, 2), dtype=npk.float32, init=Normal(1.0))
    assert t.shape == (3, 2) and t.dtype == npk.float32
    assert (npk.Tensor(shape=(2,), init="ones").asnumpy() == 1).all()


def test_dtypes_and_errors():
    assert draw(Normal(), (2,)).dtype == np.float32
    assert initializer("ones", (2,), npk.float16).dtype == npk.float16
    assert initializer(3, (2,), npk.int32).asnumpy().tolist() == [3, 3]
    with pytest.raises(ValueRangeError, match="no initializer"):
        initializer("nope", (2,))
    with pytest.raises(DTypeError):
        initializer([1, 2], (2,))
    with pytest.raises(ShapeError):
        initializer("ones", (2, 0))
    with pytest.raises(ShapeError):
        initializer("ones")
    with pytest.raises(ValueRangeError):
        HeUniform(nonlinearity="swish")(np.empty((2, 2)))
    with pytest.raises(ValueRangeError):
        HeUniform(mode="fan_avg")(np.empty((2, 2)))
    with pytest.raises(ValueRangeError):
        VarianceScaling(scale=0)
    with pytest.raises(ShapeError):
        Identity()(np.empty((2, 2, 2)))
    assert repr(Normal(0.5)) == "Normal(sigma=0.5, mean=0.0)"
