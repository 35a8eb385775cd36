"""Learning-rate schedules against MindSpore's documented formulas and examples."""

import math

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn
from npukernel.errors import DTypeError, ValueRangeError


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_documented_examples():
    # The outputs printed in MindSpore's API documentation for each function.
    assert (
        nn.piecewise_constant_lr([2, 5, 10], [0.1, 0.05, 0.01])
        == [0.1, 0.1, 0.05, 0.05, 0.05] + [0.01] * 5
    )
    close(nn.exponential_decay_lr(0.1, 0.9, 6, 2, 1), [0.1, 0.1, 0.09, 0.09, 0.081, 0.081])
    close(nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True), [0.1] * 4 + [0.016529888822158657] * 2)
    close(nn.inverse_decay_lr(0.1, 0.5, 6, 1, 1, True),
          [0.1, 0.06666666666666667, 0.05, 0.04, 0.03333333333333333, 0.028571428571428574])  # fmt: skip
    close(nn.cosine_decay_lr(0.01, 0.1, 6, 2, 2), [0.1, 0.1, 0.055, 0.055, 0.01, 0.01])
    close(nn.polynomial_decay_lr(0.1, 0.01, 6, 2, 2, 0.5),
          [0.1, 0.1, 0.07363961030678928, 0.07363961030678928, 0.01, 0.01])  # fmt: skip
    close(nn.warmup_lr(0.1, 6, 2, 2), [0.0, 0.0, 0.05, 0.05, 0.1, 0.1])


@pytest.mark.parametrize("stair", [False, True])
def test_decay_formulas(stair):
    lr, rate, total, spe, de = 0.2, 0.7, 23, 3, 2
    epochs = [math.floor(i / spe) for i in range(total)]
    p = [math.floor(e / de) if stair else e / de for e in epochs]
    close(nn.exponential_decay_lr(lr, rate, total, spe, de, stair), [lr * rate**x for x in p])
    close(nn.inverse_decay_lr(lr, rate, total, spe, de, stair), [lr / (1 + rate * x) for x in p])
    q = [math.floor(e / de) * de if stair else e for e in epochs]
    close(
        nn.natural_exp_decay_lr(lr, rate, total, spe, de, stair),
        [lr * math.e ** (-rate * x) for x in q],
    )


def test_cosine_polynomial_warmup_formulas():
    total, spe, de = 20, 2, 4
    epochs = [math.floor(i / spe) for i in range(total)]
    close(nn.cosine_decay_lr(0.001, 0.1, total, spe, de),
          [0.001 + 0.5 * 0.099 * (1 + math.cos(math.pi * min(e, de) / de)) for e in epochs])  # fmt: skip
    close(nn.polynomial_decay_lr(0.1, 0.001, total, spe, de, 2.0),
          [0.099 * (1 - min(e, de) / de) ** 2 + 0.001 for e in epochs])  # fmt: skip
    upd = [0.099 * (1 - e / (de * max(math.ceil(e / de), 1))) ** 2 + 0.001 for e in epochs]
    close(nn.polynomial_decay_lr(0.1, 0.001, total, spe, de, 2.0, update_decay_epoch=True), upd)
    close(nn.warmup_lr(0.3, total, spe, de), [0.3 * min(e, de) / de for e in epochs])


def value(sched, step):
    return float(sched(npk.Tensor(np.array([step], np.int32))).asnumpy())


@pytest.mark.parametrize("stair", [False, True])
def test_schedule_cells(stair):
    for step in range(0, 25, 3):
        p = math.floor(step / 4) if stair else step / 4
        assert value(nn.ExponentialDecayLR(0.1, 0.9, 4, stair), step) == pytest.approx(
            0.1 * 0.9**p, rel=1e-6
        )
        assert value(nn.NaturalExpDecayLR(0.1, 0.9, 4, stair), step) == pytest.approx(
            0.1 * math.exp(-0.9 * p), rel=1e-6
        )
        assert value(nn.InverseDecayLR(0.1, 0.9, 4, stair), step) == pytest.approx(
            0.1 / (1 + 0.9 * p), rel=1e-6
        )
    for step in range(0, 25, 3):
        cos = 0.01 + 0.5 * 0.09 * (1 + math.cos(math.pi * min(step, 10) / 10))
        assert value(nn.CosineDecayLR(0.01, 0.1, 10), step) == pytest.approx(cos, rel=1e-6)
        poly = 0.09 * (1 - min(step, 10) / 10) ** 0.5 + 0.01
        assert value(nn.PolynomialDecayLR(0.1, 0.01, 10, 0.5), step) == pytest.approx(
            poly, rel=1e-6
        )
        decay = 10 * max(math.ceil(step / 10), 1)
        poly_u = 0.09 * (1 - step / decay) ** 0.5 + 0.01
        assert value(nn.PolynomialDecayLR(0.1, 0.01, 10, 0.5, True), step) == pytest.approx(
            poly_u, rel=1e-6
        )
        assert value(nn.WarmUpLR(0.1, 10), step) == pytest.approx(
            0.1 * min(step, 10) / 10, rel=1e-6
        )
    assert nn.WarmUpLR(0.1, 10)(5).shape == ()


def test_user_schedule_with_construct_is_used_by_optimizers():
    class Halving(nn.LearningRateSchedule):
        def construct(self, global_step):
            return npk.Tensor(np.float32(0.8)) * 0.5 ** npk.ops.cast(global_step, npk.float32)

    w = npk.Parameter(npk.Tensor(np.zeros(1, np.float32)), name="w")
    opt = nn.SGD([w], learning_rate=Halving())
    for _ in range(3):
        opt((npk.Tensor(np.ones(1, np.float32)),))
    assert w.asnumpy()[0] == pytest.approx(-(0.8 + 0.4 + 0.2))


def test_errors():
    with pytest.raises(ValueRangeError):
        nn.piecewise_constant_lr([2, 2], [0.1, 0.2])
    with pytest.raises(ValueRangeError):
        nn.piecewise_constant_lr([2], [0.1, 0.2])
    with pytest.raises(DTypeError):
        nn.piecewise_constant_lr(5, [0.1])
    with pytest.raises(ValueRangeError):
        nn.exponential_decay_lr(-0.1, 0.9, 6, 2, 1)
    with pytest.raises(ValueRangeError):
        nn.cosine_decay_lr(0.1, 0.01, 6, 2, 2)
    with pytest.raises(ValueRangeError):
        nn.warmup_lr(0.1, 0, 2, 2)
    with pytest.raises(ValueRangeError):
        nn.CosineDecayLR(0.1, 0.1, 5)
    with pytest.raises(DTypeError):
        nn.ExponentialDecayLR(0.1, 0.9, 4, is_stair=1)
    with pytest.raises(NotImplementedError):
        nn.LearningRateSchedule()(1)
