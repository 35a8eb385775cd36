"""Training wrappers, gradient sanity against finite differences, and a small real task."""

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn, ops
from npukernel.errors import DTypeError


def T(a):
    return npk.Tensor(np.asarray(a))


def regression_data(rng, n=64):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    return T(x), T(y)


@pytest.mark.parametrize("make_opt", [
    lambda p: nn.SGD(p, 0.1),
    lambda p: nn.Momentum(p, 0.05, 0.9),
    lambda p: nn.Adam(p, 0.05),
    lambda p: nn.AdamW(p, 0.05),
])  # fmt: skip
def test_train_one_step_decreases_loss(rng, make_opt):
    npk.set_seed(0)
    net = nn.Dense(3, 1)
    x, y = regression_data(rng)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), make_opt(net.trainable_params()))
    step.set_train()
    losses = [float(step(x, y).asnumpy()) for _ in range(60)]
    assert losses[-1] < 0.05 * losses[0]
    assert not step(x, y).requires_grad  # the returned loss is detached


def test_train_one_step_is_one_sgd_step(rng):
    net = nn.Dense(3, 1)
    x, y = regression_data(rng, 8)
    w0, b0 = net.weight.asnumpy().copy(), net.bias.asnumpy().copy()
    step = nn.TrainOneStepCell(
        nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1)
    )
    loss = step(x, y)
    pred = x.asnumpy() @ w0.T + b0
    err = pred - y.asnumpy()
    assert float(loss.asnumpy()) == pytest.approx(float((err**2).mean()), rel=1e-5)
    gw = 2 * err.T @ x.asnumpy() / err.size
    np.testing.assert_allclose(net.weight.asnumpy(), w0 - 0.1 * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.bias.asnumpy(), b0 - 0.1 * 2 * err.mean(), rtol=1e-5, atol=1e-6)


def test_sens_and_loss_scale_cancel(rng):
    x, y = regression_data(rng, 8)
    outs = []
    for sens in (1.0, 1024.0):
        npk.set_seed(1)
        net = nn.Dense(3, 1)
        opt = nn.Momentum(net.trainable_params(), 0.1, 0.9, loss_scale=sens)
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), opt, sens=sens)
        for _ in range(3):
            step(x, y)
        outs.append(net.weight.asnumpy().copy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5)


def test_return_grad_and_errors(rng):
    net = nn.Dense(3, 1)
    x, y = regression_data(rng, 4)
    step = nn.TrainOneStepCell(
        nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params()), return_grad=True
    )
    loss, grads = step(x, y)
    assert list(grads) == ["weight", "bias"] and grads["weight"].shape == (1, 3)
    with pytest.raises(DTypeError):
        nn.TrainOneStepCell(lambda a: a, nn.SGD(net.trainable_params()))
    with pytest.raises(DTypeError):
        nn.TrainOneStepCell(net, object())


def test_train_cell_names_match_network_for_checkpoints():
    net = nn.SequentialCell([nn.Dense(2, 2), nn.BatchNorm1d(2)])
    opt = nn.Momentum(net.trainable_params(), 0.1, 0.9)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), opt)
    names = list(train.parameters_dict())
    assert names[: len(net.parameters_dict())] == list(net.parameters_dict())
    assert {"learning_rate", "global_step", "moments.0.weight", "1.moving_mean"} <= set(names)


def test_with_eval_cell():
    net = nn.Dense(2, 3)
    ev = nn.WithEvalCell(
        net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"), add_cast_fp32=True
    )
    label = T(np.array([0, 2], np.int32))
    loss, out, lab = ev(ops.ones((2, 2)), label)
    assert loss.shape == () and out.shape == (2, 3) and lab is label
    assert nn.WithLossCell(net, nn.MSELoss()).backbone_network is net


def finite_difference_check(net, x, rng, eps=1e-6):
    r = T(rng.standard_normal(net(x).shape))

    def f(inp):
        return ops.sum(net(inp) * r)

    params = net.trainable_params()
    gx, gw = npk.grad(f, grad_position=0, weights=params)(x)
    for p, g in zip([x, *params], [gx, *gw]):
        data = p._data
        flat = data.reshape(-1)
        num = np.empty(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = float(f(x).asnumpy())
            flat[i] = old - eps
            down = float(f(x).asnumpy())
            flat[i] = old
            num[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g.asnumpy().reshape(-1), num, rtol=1e-5, atol=1e-7)


def test_dense_gradients_match_finite_differences(rng):
    net = nn.Dense(4, 3, activation="tanh", dtype=npk.float64)
    x = T(rng.standard_normal((2, 4)))
    finite_difference_check(net, x, rng)


@pytest.mark.parametrize("kwargs", [
    {"pad_mode": "same"},
    {"pad_mode": "valid", "stride": 2},
    {"pad_mode": "pad", "padding": (1, 0, 2, 1), "dilation": 2},
])  # fmt: skip
def test_conv2d_gradients_match_finite_differences(rng, kwargs):
    net = nn.Conv2d(2, 3, 3, has_bias=True, dtype=npk.float64, **kwargs)
    x = T(rng.standard_normal((1, 2, 6, 5)))
    finite_difference_check(net, x, rng)


def digits(split_rule):
    from npukernel import dataset

    ds = dataset.load("digits")
    x = ds["image"].values.reshape(ds.sizes["sample"], -1).astype(np.float32) / 16.0
    y = ds["label"].values.astype(np.int32)
    if split_rule == "dataset":  # the card's split: a seeded stratified random 20 % per class
        test = ds["split"].values == "test"
    else:  # a seeded random 80/20 split
        test = np.zeros(len(y), bool)
        test[np.random.default_rng(0).permutation(len(y))[: len(y) // 5]] = True
    return x[~test], y[~test], x[test], y[test]


def train_mlp(xtr, ytr, epochs):
    npk.set_seed(0)
    net = nn.SequentialCell([nn.Dense(64, 128), nn.ReLU(), nn.Dense(128, 10)])
    steps = (len(xtr) + 31) // 32
    lr = nn.cosine_decay_lr(0.001, 0.05, steps * epochs, steps, epochs)
    opt = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=0.9)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt).set_train()
    rng = np.random.default_rng(1)
    for _ in range(epochs):
        idx = rng.permutation(len(xtr))
        for k in range(0, len(idx), 32):
            j = idx[k : k + 32]
            step(T(xtr[j]), T(ytr[j]))
    return net.set_train(False)


@pytest.mark.slow
def test_digits_mlp_reaches_95_percent():
    xtr, ytr, xte, yte = digits("random")
    net = train_mlp(xtr, ytr, epochs=8)
    acc = (net(T(xte)).asnumpy().argmax(1) == yte).mean()
    assert acc >= 0.95, acc


@pytest.mark.slow
def test_digits_mlp_on_the_dataset_split():
    xtr, ytr, xte, yte = digits("dataset")
    net = train_mlp(xtr, ytr, epochs=8)
    acc = (net(T(xte)).asnumpy().argmax(1) == yte).mean()
    assert acc >= 0.95, acc
