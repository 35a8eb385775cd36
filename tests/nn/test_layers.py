"""Layers: forward against numpy references, output shapes for MindSpore's pad modes, errors."""

import math

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn, ops
from npukernel.common.initializer import Constant
from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from tests.nn import refs

TOL = dict(rtol=1e-4, atol=1e-5)


def T(a):
    return npk.Tensor(np.asarray(a))


def test_dense_forward_and_defaults(rng):
    fc = nn.Dense(5, 3)
    assert fc.weight.shape == (3, 5) and fc.bias.shape == (3,)
    assert fc.weight.name == "weight" and fc.bias.name == "bias"
    bound = math.sqrt(3) * math.sqrt(2 / 6) / math.sqrt(5)  # HeUniform(sqrt 5)
    assert np.abs(fc.weight.asnumpy()).max() <= bound + 1e-6
    assert np.abs(fc.bias.asnumpy()).max() <= 1 / math.sqrt(5) + 1e-6
    x = rng.standard_normal((4, 5)).astype(np.float32)
    ref = x @ fc.weight.asnumpy().T + fc.bias.asnumpy()
    np.testing.assert_allclose(fc(T(x)).asnumpy(), ref, **TOL)
    x3 = rng.standard_normal((2, 4, 5)).astype(np.float32)
    assert fc(T(x3)).shape == (2, 4, 3)


def test_dense_options(rng):
    fc = nn.Dense(3, 2, weight_init="ones", bias_init="zeros", has_bias=False, activation="relu")
    assert fc.bias is None and list(fc.parameters_dict()) == ["weight"]
    x = np.array([[1.0, -5.0, 1.0]], np.float32)
    assert fc(T(x)).asnumpy().tolist() == [[0.0, 0.0]]
    assert "activation=ReLU<>" in repr(fc)
    fc2 = nn.Dense(3, 2, activation=nn.Tanh())
    assert isinstance(fc2.activation, nn.Tanh)
    with pytest.raises(
        ValueRangeError, match="For 'Dense', 'in_channels' must be a positive int, but got 0."
    ):
        nn.Dense(0, 2)
    with pytest.raises(DTypeError):
        nn.Dense(2.0, 2)
    with pytest.raises(ShapeError, match="in_channels=3"):
        fc(ops.ones((2, 4)))
    with pytest.raises(ValueRangeError):
        nn.Dense(2, 2, activation="swish")


@pytest.mark.parametrize(
    "kwargs, hw, expect",
    [
        ({"kernel_size": 3}, (7, 7), (7, 7)),  # same (default)
        ({"kernel_size": 3, "stride": 2}, (7, 8), (4, 4)),
        ({"kernel_size": 4, "stride": 3}, (10, 9), (4, 3)),
        ({"kernel_size": 3, "pad_mode": "valid"}, (7, 7), (5, 5)),
        ({"kernel_size": (3, 5), "pad_mode": "valid", "stride": (2, 1)}, (9, 9), (4, 5)),
        ({"kernel_size": 5, "pad_mode": "pad", "padding": 2}, (28, 28), (28, 28)),
        ({"kernel_size": 3, "pad_mode": "pad", "padding": (0, 1, 2, 3)}, (6, 6), (5, 9)),
        ({"kernel_size": 3, "pad_mode": "pad", "padding": (1, 2)}, (6, 6), (6, 8)),
        ({"kernel_size": 3, "dilation": 2}, (9, 9), (9, 9)),
        ({"kernel_size": 3, "dilation": 2, "pad_mode": "valid"}, (9, 9), (5, 5)),
    ],
)
def test_conv2d_shapes_and_values(rng, kwargs, hw, expect):
    conv = nn.Conv2d(2, 4, has_bias=True, **kwargs)
    x = rng.standard_normal((2, 2, *hw)).astype(np.float32)
    out = conv(T(x)).asnumpy()
    assert out.shape == (2, 4, *expect)
    k, s, d = conv.kernel_size, conv.stride, conv.dilation
    if conv.pad_mode == "same":
        pads = refs.same_pads(hw[0], k[0], s[0], d[0]) + refs.same_pads(hw[1], k[1], s[1], d[1])
    elif conv.pad_mode == "valid":
        pads = (0, 0, 0, 0)
    else:
        p = conv.padding
        pads = (p,) * 4 if isinstance(p, int) else p
    ref = refs.conv2d(x, conv.weight.asnumpy(), conv.bias.asnumpy(), s, pads, d)
    np.testing.assert_allclose(out, ref, **TOL)


def test_conv2d_groups_and_defaults(rng):
    conv = nn.Conv2d(4, 8, 3, group=2)
    assert conv.weight.shape == (8, 2, 3, 3) and conv.bias is None and conv.pad_mode == "same"
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    ref = refs.conv2d(x, conv.weight.asnumpy(), None, (1, 1), (1, 1, 1, 1), (1, 1), 2)
    np.testing.assert_allclose(conv(T(x)).asnumpy(), ref, **TOL)
    fan_in = 2 * 9
    bound = math.sqrt(3) * math.sqrt(2 / 6) / math.sqrt(fan_in)
    assert np.abs(conv.weight.asnumpy()).max() <= bound + 1e-6
    assert "pad_mode=same" in repr(conv) and "group=2" in repr(conv)


def test_conv2d_errors():
    with pytest.raises(ValueRangeError, match="'padding' must be 0 when 'pad_mode' is not 'pad'"):
        nn.Conv2d(1, 1, 3, padding=1)
    with pytest.raises(ValueRangeError, match="pad_mode"):
        nn.Conv2d(1, 1, 3, pad_mode="full")
    with pytest.raises(ValueRangeError, match="divisible"):
        nn.Conv2d(3, 4, 3, group=2)
    with pytest.raises(ValueRangeError):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(DTypeError):
        nn.Conv2d(1, 1, 3, pad_mode="pad", padding=(1, 2, 3))
    with pytest.raises(ShapeError, match="For 'Conv2d', 'x' must be 4-D"):
        nn.Conv2d(3, 4, 3)(ops.ones((1, 2, 5, 5)))


def test_batchnorm2d_training_and_eval(rng):
    bn = nn.BatchNorm2d(3, gamma_init=Constant(2.0), beta_init=Constant(0.5))
    assert [p.name for p in bn.get_parameters()] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert not bn.moving_mean.requires_grad and bn.gamma.requires_grad
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * 3 + 1
    bn.set_train()
    y = bn(T(x)).asnumpy()
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    ref = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5) * 2.0 + 0.5
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    # MindSpore's convention: moving = moving * momentum + batch * (1 - momentum)
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.9 * 0 + 0.1 * mean, rtol=1e-4, atol=1e-6)
    unbiased = x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), 0.9 * 1 + 0.1 * unbiased, rtol=1e-4)
    bn.set_train(False)
    mm, mv = bn.moving_mean.asnumpy().copy(), bn.moving_variance.asnumpy().copy()
    y2 = bn(T(x)).asnumpy()
    ref2 = (x - mm.reshape(1, 3, 1, 1)) / np.sqrt(mv.reshape(1, 3, 1, 1) + 1e-5) * 2.0 + 0.5
    np.testing.assert_allclose(y2, ref2, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(bn.moving_mean.asnumpy(), mm)  # eval leaves them alone


def test_batchnorm_forced_statistics_and_1d(rng):
    bn = nn.BatchNorm1d(4, use_batch_statistics=True)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = bn(T(x)).asnumpy()  # not training, but batch statistics forced
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    x3 = rng.standard_normal((8, 4, 6)).astype(np.float32)
    y3 = bn(T(x3)).asnumpy()
    assert y3.shape == (8, 4, 6)
    np.testing.assert_allclose(y3.mean(axis=(0, 2)), 0, atol=1e-5)
    frozen = nn.BatchNorm1d(4, affine=False)
    assert frozen.trainable_params() == []
    with pytest.raises(ShapeError, match="BatchNorm1d"):
        bn(ops.ones((2, 3)))
    with pytest.raises(ValueRangeError):
        nn.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueRangeError):
        nn.BatchNorm2d(0)


def test_layernorm(rng):
    ln = nn.LayerNorm((6,), gamma_init=Constant(1.5), beta_init=Constant(-1.0))
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    ref = (x - mean) / np.sqrt(var + 1e-7) * 1.5 - 1.0
    np.testing.assert_allclose(ln(T(x)).asnumpy(), ref, rtol=1e-4, atol=1e-4)
    ln2 = nn.LayerNorm((4, 6), begin_norm_axis=1, begin_params_axis=1)
    m2, v2 = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(
        ln2(T(x)).asnumpy(), (x - m2) / np.sqrt(v2 + 1e-7), rtol=1e-4, atol=1e-4
    )
    ln3 = nn.LayerNorm(
        (6,), begin_norm_axis=1, begin_params_axis=-1
    )  # norm over (4, 6), params over 6
    np.testing.assert_allclose(
        ln3(T(x)).asnumpy(), (x - m2) / np.sqrt(v2 + 1e-7), rtol=1e-4, atol=1e-4
    )
    with pytest.raises(ShapeError):
        ln(ops.ones((2, 5)))
    with pytest.raises(DTypeError):
        nn.LayerNorm(6)


def test_dropout():
    npk.set_seed(0)
    d = nn.Dropout(p=0.25)
    x = ops.ones((200, 200))
    assert d(x) is x  # not training: identity
    d.set_train()
    y = d(x).asnumpy()
    kept = y != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert nn.Dropout(keep_prob=0.8).p == pytest.approx(0.2)
    assert nn.Dropout().p == 0.5
    with pytest.raises(ValueRangeError):
        nn.Dropout(p=1.0)
    with pytest.raises(ValueRangeError):
        nn.Dropout(keep_prob=0)


def test_flatten_identity_activations(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert nn.Flatten()(T(x)).shape == (2, 12)
    assert nn.Flatten(0, 1)(T(x)).shape == (6, 4)
    t = T(x)
    assert nn.Identity()(t) is t
    np.testing.assert_allclose(nn.ReLU()(t).asnumpy(), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(t).asnumpy(), 1 / (1 + np.exp(-x)), rtol=1e-5)
    np.testing.assert_allclose(nn.Tanh()(t).asnumpy(), np.tanh(x), rtol=1e-5, atol=1e-6)
    gelu = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(nn.GELU()(t).asnumpy(), gelu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        nn.LogSoftmax()(t).asnumpy(), refs.log_softmax(x), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        nn.Softmax(axis=1)(t).asnumpy(), np.exp(refs.log_softmax(x, 1)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        nn.LeakyReLU(0.1)(t).asnumpy(), np.where(x > 0, x, 0.1 * x), rtol=1e-6
    )
    np.testing.assert_allclose(nn.ReLU6()(T(x * 10)).asnumpy(), np.clip(x * 10, 0, 6), rtol=1e-6)
    np.testing.assert_allclose(nn.Softplus()(t).asnumpy(), refs.softplus(x), rtol=1e-5)
    with pytest.raises(ValueRangeError):
        nn.GELU(approximate=False)


POOL_CASES = [
    (2, 2, "valid", 0, (8, 8)),
    (3, 2, "valid", 0, (7, 8)),
    (3, 2, "same", 0, (7, 8)),  # asymmetric padding on width
    (2, 2, "same", 0, (7, 7)),  # pad bottom/right only
    (3, 1, "same", 0, (5, 5)),  # symmetric padding
    (3, 3, "same", 0, (5, 6)),
    (3, 2, "pad", 1, (6, 6)),
    (1, 1, "valid", 0, (3, 3)),  # MindSpore's defaults
]


@pytest.mark.parametrize("k, s, mode, pad, hw", POOL_CASES)
def test_maxpool(rng, k, s, mode, pad, hw):
    x = rng.standard_normal((2, 3, *hw)).astype(np.float32)
    out = nn.MaxPool2d(k, s, mode, pad)(T(x)).asnumpy()
    if mode == "same":
        assert out.shape[2:] == (math.ceil(hw[0] / s), math.ceil(hw[1] / s))
        pads = refs.same_pads(hw[0], k, s) + refs.same_pads(hw[1], k, s)
    else:
        pads = (pad,) * 4
    np.testing.assert_allclose(out, refs.pool2d(x, (k, k), (s, s), pads, "max"), rtol=1e-6)


@pytest.mark.parametrize("k, s, mode, pad, hw", POOL_CASES)
def test_avgpool(rng, k, s, mode, pad, hw):
    x = rng.standard_normal((2, 3, *hw)).astype(np.float32)
    out = nn.AvgPool2d(k, s, mode, pad)(T(x)).asnumpy()
    if mode == "same":
        pads = refs.same_pads(hw[0], k, s) + refs.same_pads(hw[1], k, s)
        ref = refs.pool2d(x, (k, k), (s, s), pads, "avg", count_include_pad=False)
    else:
        ref = refs.pool2d(x, (k, k), (s, s), (pad,) * 4, "avg", count_include_pad=True)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_avgpool_pad_excluding_padding(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    out = nn.AvgPool2d(3, 2, "pad", 1, count_include_pad=False)(T(x)).asnumpy()
    ref = refs.pool2d(x, (3, 3), (2, 2), (1,) * 4, "avg", count_include_pad=False)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_pool_errors_and_adaptive(rng):
    with pytest.raises(ValueRangeError):
        nn.MaxPool2d(2, 2, "same", padding=1)
    with pytest.raises(ValueRangeError):
        nn.MaxPool2d(2, 2, "pad", padding=2)
    with pytest.raises(ShapeError, match="MaxPool2d"):
        nn.MaxPool2d(2, 2)(ops.ones((3, 4, 4)))
    x = rng.standard_normal((2, 3, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(
        nn.AdaptiveAvgPool2d(1)(T(x)).asnumpy(), x.mean((2, 3), keepdims=True), rtol=1e-5
    )
    out = nn.AdaptiveAvgPool2d((3, 2))(T(x)).asnumpy()
    np.testing.assert_allclose(out, x.reshape(2, 3, 3, 2, 2, 2).mean((3, 5)), rtol=1e-5)
    assert "kernel_size=(2, 2)" in repr(nn.MaxPool2d(2, 2))


def test_embedding(rng):
    emb = nn.Embedding(10, 4, padding_idx=0)
    table = emb.embedding_table.asnumpy()
    assert table.shape == (10, 4) and (table[0] == 0).all()
    assert table[1:].std() == pytest.approx(0.01, rel=0.5)
    ids = np.array([[1, 2, 0], [9, 9, 3]], np.int32)
    np.testing.assert_array_equal(emb(T(ids)).asnumpy(), table[ids])
    emb_oh = nn.Embedding(10, 4, use_one_hot=True, embedding_table="ones")
    np.testing.assert_allclose(emb_oh(T(ids)).asnumpy(), np.ones((2, 3, 4)))
    with pytest.raises(DTypeError):
        emb(T(np.ones(2, np.float32)))
    with pytest.raises(ValueRangeError):
        nn.Embedding(10, 4, padding_idx=10)
