"""Losses against numpy references (PyTorch's documented formulas where MindSpore follows them)."""

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn
from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from tests.nn import refs

TOL = dict(rtol=1e-5, atol=1e-6)


def T(a):
    return npk.Tensor(np.asarray(a))


@pytest.fixture
def logits(rng):
    return rng.standard_normal((6, 4)).astype(np.float32) * 2


@pytest.fixture
def labels(rng):
    return rng.integers(0, 4, 6).astype(np.int32)


def reduce(x, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](x)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(rng, reduction):
    a = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(
        nn.MSELoss(reduction)(T(a), T(b)).asnumpy(), reduce((a - b) ** 2, reduction), **TOL
    )
    np.testing.assert_allclose(
        nn.L1Loss(reduction)(T(a), T(b)).asnumpy(), reduce(np.abs(a - b), reduction), **TOL
    )
    d = np.abs(a - b)
    smooth = np.where(d < 0.5, 0.5 * d**2 / 0.5, d - 0.25)
    np.testing.assert_allclose(
        nn.SmoothL1Loss(0.5, reduction)(T(a), T(b)).asnumpy(), reduce(smooth, reduction), **TOL
    )


def test_softmax_cross_entropy_with_logits(logits, labels):
    lp = refs.log_softmax(logits)
    nll = -lp[np.arange(6), labels]
    out = nn.SoftmaxCrossEntropyWithLogits()(T(logits), T(np.eye(4, dtype=np.float32)[labels]))
    assert out.shape == (6,)  # MindSpore's default reduction is 'none'
    np.testing.assert_allclose(out.asnumpy(), nll, **TOL)
    sparse = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    np.testing.assert_allclose(sparse(T(logits), T(labels)).asnumpy(), nll.mean(), **TOL)
    assert sparse(T(logits), T(labels.astype(np.float32))).shape == ()
    with pytest.raises(DTypeError, match="sparse=True"):
        nn.SoftmaxCrossEntropyWithLogits()(T(logits), T(labels))
    with pytest.raises(ShapeError):
        sparse(T(logits[0]), T(labels[:1]))
    with pytest.raises(ValueRangeError):
        nn.SoftmaxCrossEntropyWithLogits(reduction="avg")


def ce_ref(x, t, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    lp = refs.log_softmax(x)
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    nll = -lp[np.arange(len(t)), safe] * w[safe] * valid
    smooth = -(lp * w).sum(1) * valid
    loss = (1 - ls) * nll + ls / c * smooth
    if reduction == "mean":
        return loss.sum() / (w[safe] * valid).sum()
    return reduce(loss, reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_indices(logits, labels, reduction, weighted, ls):
    w = np.array([1.0, 2.0, 0.5, 3.0], np.float32) if weighted else None
    loss = nn.CrossEntropyLoss(
        weight=None if w is None else T(w), reduction=reduction, label_smoothing=ls
    )
    np.testing.assert_allclose(
        loss(T(logits), T(labels)).asnumpy(), ce_ref(logits, labels, w, -100, reduction, ls), **TOL
    )


def test_cross_entropy_ignore_index(logits, labels):
    t = labels.copy()
    t[[1, 4]] = -1
    loss = nn.CrossEntropyLoss(ignore_index=-1)
    np.testing.assert_allclose(loss(T(logits), T(t)).asnumpy(), ce_ref(logits, t, None, -1), **TOL)
    none = nn.CrossEntropyLoss(ignore_index=-1, reduction="none")(T(logits), T(t)).asnumpy()
    assert none[1] == 0 and none[4] == 0


def test_cross_entropy_probabilities_and_spatial(rng, logits):
    y = rng.random((6, 4)).astype(np.float32)
    y /= y.sum(1, keepdims=True)
    lp = refs.log_softmax(logits)
    np.testing.assert_allclose(
        nn.CrossEntropyLoss()(T(logits), T(y)).asnumpy(), (-(lp * y).sum(1)).mean(), **TOL
    )
    w = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    ys = y * 0.9 + 0.1 / 4
    ref = (-(lp * ys * w).sum(1)).mean()
    loss = nn.CrossEntropyLoss(weight=T(w), label_smoothing=0.1)
    np.testing.assert_allclose(loss(T(logits), T(y)).asnumpy(), ref, **TOL)
    x4 = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    t4 = rng.integers(0, 3, (2, 4, 5)).astype(np.int32)
    flat_x = x4.transpose(0, 2, 3, 1).reshape(-1, 3)
    out = nn.CrossEntropyLoss(reduction="none")(T(x4), T(t4)).asnumpy()
    assert out.shape == (2, 4, 5)
    np.testing.assert_allclose(
        out.reshape(-1), ce_ref(flat_x, t4.reshape(-1), reduction="none"), **TOL
    )
    with pytest.raises(ShapeError):
        nn.CrossEntropyLoss()(T(logits), T(np.zeros(5, np.int32)))
    with pytest.raises(ShapeError):
        nn.CrossEntropyLoss(weight=T(w))(T(logits), T(np.full(6, 7, np.int32)))


def test_nll_loss(logits, labels):
    lp = refs.log_softmax(logits).astype(np.float32)
    w = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    np.testing.assert_allclose(
        nn.NLLLoss()(T(lp), T(labels)).asnumpy(), ce_ref(logits, labels), **TOL
    )
    np.testing.assert_allclose(
        nn.NLLLoss(weight=T(w), reduction="sum")(T(lp), T(labels)).asnumpy(),
        ce_ref(logits, labels, w, reduction="sum"), **TOL,
    )  # fmt: skip


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(rng, reduction):
    x = (rng.standard_normal((4, 3)) * 30).astype(np.float32)  # large: stability matters
    y = rng.integers(0, 2, (4, 3)).astype(np.float32)
    ref = (1 - y) * refs.softplus(x) + y * refs.softplus(-x)
    np.testing.assert_allclose(
        nn.BCEWithLogitsLoss(reduction)(T(x), T(y)).asnumpy(),
        reduce(ref, reduction),
        rtol=1e-5,
        atol=1e-5,
    )
    w = rng.random((4, 3)).astype(np.float32)
    pw = np.array([1.0, 2.0, 3.0], np.float32)
    ref2 = w * ((1 - y) * refs.softplus(x) + pw * y * refs.softplus(-x))
    loss = nn.BCEWithLogitsLoss(reduction, weight=T(w), pos_weight=T(pw))
    np.testing.assert_allclose(
        loss(T(x), T(y)).asnumpy(), reduce(ref2, reduction), rtol=1e-5, atol=1e-5
    )
    assert np.isfinite(loss(T(x), T(y)).asnumpy()).all()


def test_bce_loss(rng):
    p = rng.random((5,)).astype(np.float32) * 0.98 + 0.01
    y = rng.integers(0, 2, 5).astype(np.float32)
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    np.testing.assert_allclose(nn.BCELoss()(T(p), T(y)).asnumpy(), ref, rtol=1e-5)
    assert np.isfinite(
        nn.BCELoss()(
            T(np.array([0.0, 1.0], np.float32)), T(np.array([1.0, 0.0], np.float32))
        ).item()
    )


def test_loss_base_get_loss():
    base = nn.LossBase("mean")
    x = T(np.array([1.0, 2.0, 3.0], np.float32))
    assert base.get_loss(x).item() == pytest.approx(2.0)
    assert base.get_loss(x, T(np.array([0.0, 0.0, 3.0], np.float32))).item() == pytest.approx(3.0)
    assert nn.LossBase("none").get_loss(x).shape == (3,)
    assert base.get_axis(T(np.ones((2, 3)))) == (0, 1)
    assert repr(nn.MSELoss()) == "MSELoss<reduction=mean>"
