"""Optimizers: each update rule against a hand-written numpy reference over 3 steps."""

import math

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn
from npukernel.errors import DTypeError, NpuError, ShapeError, ValueRangeError

STEPS = 3
TOL = dict(rtol=2e-5, atol=1e-6)


def make_params(rng):
    w = npk.Parameter(npk.Tensor(rng.standard_normal((3, 4)).astype(np.float32)), name="fc.weight")
    g = npk.Parameter(npk.Tensor(rng.standard_normal((4,)).astype(np.float32)), name="bn.gamma")
    return [w, g]


def make_grads(rng, params):
    return [[rng.standard_normal(p.shape).astype(np.float32) for p in params] for _ in range(STEPS)]


def run(opt, params, grads):
    for step in grads:
        assert opt(tuple(npk.Tensor(g) for g in step)) is True
    return [p.asnumpy().astype(np.float64) for p in params]


def init_values(params):
    return [p.asnumpy().astype(np.float64).copy() for p in params]


def decays(params, wd):
    # Without groups, MindSpore skips parameters named like 'beta'/'gamma'.
    return [0.0 if ("beta" in p.name or "gamma" in p.name) else wd for p in params]


def sgd_ref(p0, grads, lr, mom, damp, wd, nesterov, scale):
    out = []
    for i, p in enumerate(p0):
        acc = np.zeros_like(p)
        for s, step in enumerate(grads):
            g = step[i] / scale + wd[i] * p
            if mom > 0:
                acc = g if s == 0 else mom * acc + (1 - damp) * g
                g = g + mom * acc if nesterov else acc
            p = p - lr * g
        out.append(p)
    return out


@pytest.mark.parametrize(
    "mom, damp, wd, nesterov, scale",
    [(0.0, 0.0, 0.0, False, 1.0), (0.9, 0.0, 0.0, False, 1.0), (0.9, 0.1, 0.01, False, 1.0),
     (0.9, 0.0, 0.05, True, 1.0), (0.5, 0.0, 0.1, False, 128.0)],
)  # fmt: skip
def test_sgd(rng, mom, damp, wd, nesterov, scale):
    params = make_params(rng)
    grads = make_grads(rng, params)
    p0 = init_values(params)
    opt = nn.SGD(params, 0.1, mom, damp, wd, nesterov, loss_scale=scale)
    grads_scaled = [[g * scale for g in step] for step in grads]
    got = run(opt, params, grads_scaled)
    ref = sgd_ref(p0, grads, 0.1, mom, damp, decays(params, wd), nesterov, 1.0)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, **TOL)


def momentum_ref(p0, grads, lr, mom, wd, nesterov):
    out = []
    for i, p in enumerate(p0):
        acc = np.zeros_like(p)
        for step in grads:
            g = step[i] + wd[i] * p
            acc = mom * acc + g
            p = p - (lr * (g + mom * acc) if nesterov else lr * acc)
        out.append(p)
    return out


@pytest.mark.parametrize("wd, nesterov", [(0.0, False), (0.0, True), (0.01, False), (0.05, True)])
def test_momentum(rng, wd, nesterov):
    params = make_params(rng)
    grads = make_grads(rng, params)
    p0 = init_values(params)
    got = run(nn.Momentum(params, 0.05, 0.9, weight_decay=wd, use_nesterov=nesterov), params, grads)
    for a, b in zip(got, momentum_ref(p0, grads, 0.05, 0.9, decays(params, wd), nesterov)):
        np.testing.assert_allclose(a, b, **TOL)


def adam_ref(p0, grads, lrs, b1, b2, eps, wd, nesterov=False, kind="adam"):
    out = []
    for i, p in enumerate(p0):
        m = np.zeros_like(p)
        v = np.zeros_like(p)
        for t, step in enumerate(grads, start=1):
            lr = lrs[t - 1]
            g = step[i]
            if kind == "adam":
                g = g + wd[i] * p
            if kind == "adamw":
                p = p * (1 - lr * wd[i])
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            if kind == "adam":
                lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                num = m * b1 + (1 - b1) * g if nesterov else m
                p = p - lr_t * num / (np.sqrt(v) + eps)
            elif kind == "adamw":
                denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
                p = p - lr / (1 - b1**t) * m / denom
            else:  # AdamWeightDecay: no bias correction, decay inside the update
                p = p - lr * (m / (np.sqrt(v) + eps) + wd[i] * p)
        out.append(p)
    return out


@pytest.mark.parametrize("wd, nesterov", [(0.0, False), (0.01, False), (0.0, True)])
def test_adam(rng, wd, nesterov):
    params = make_params(rng)
    grads = make_grads(rng, params)
    p0 = init_values(params)
    opt = nn.Adam(params, 0.01, 0.8, 0.95, 1e-6, use_nesterov=nesterov, weight_decay=wd)
    got = run(opt, params, grads)
    ref = adam_ref(p0, grads, [0.01] * STEPS, 0.8, 0.95, 1e-6, decays(params, wd), nesterov)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, **TOL)
    assert opt.beta1_power.asnumpy()[0] == pytest.approx(0.8**STEPS)


def test_adamw_decoupled_decay(rng):
    params = make_params(rng)
    grads = make_grads(rng, params)
    p0 = init_values(params)
    got = run(nn.AdamW(params, 0.02, weight_decay=0.1), params, grads)
    ref = adam_ref(p0, grads, [0.02] * STEPS, 0.9, 0.999, 1e-8, decays(params, 0.1), kind="adamw")
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, **TOL)
    # decoupled: with zero gradients the weight only shrinks by (1 - lr * wd) per step
    w = npk.Parameter(npk.Tensor(np.ones(3, np.float32)), name="w")
    opt = nn.AdamW([w], learning_rate=0.1, weight_decay=0.5)
    for _ in range(2):
        opt((npk.Tensor(np.zeros(3, np.float32)),))
    np.testing.assert_allclose(w.asnumpy(), 0.95**2, rtol=1e-6)


def test_adam_weight_decay(rng):
    params = make_params(rng)
    grads = make_grads(rng, params)
    p0 = init_values(params)
    opt = nn.AdamWeightDecay(params, 0.01, weight_decay=0.1)
    got = run(opt, params, grads)
    ref = adam_ref(
        p0, grads, [0.01] * STEPS, 0.9, 0.999, 1e-6, decays(params, 0.1), kind="adamweightdecay"
    )
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, **TOL)
    assert sorted(n for n in opt.parameters_dict() if n.startswith("adam_")) == [
        "adam_m.bn.gamma", "adam_m.fc.weight", "adam_v.bn.gamma", "adam_v.fc.weight",
    ]  # fmt: skip


def test_list_and_schedule_learning_rates(rng):
    params = make_params(rng)
    grads = make_grads(rng, params)
    p0 = init_values(params)
    lrs = [0.1, 0.05, 0.01]
    opt = nn.Momentum(params, lrs, 0.0)
    seen = []
    for step in grads:
        seen.append(float(opt.get_lr().asnumpy()))
        assert float(opt.get_lr().asnumpy()) == seen[-1]  # get_lr does not advance
        opt(tuple(npk.Tensor(g) for g in step))
    np.testing.assert_allclose(seen, lrs, rtol=1e-6)
    assert int(opt.global_step.asnumpy()[0]) == STEPS
    ref = [p - sum(lr * step[i] for lr, step in zip(lrs, grads)) for i, p in enumerate(p0)]
    for a, b in zip([p.asnumpy() for p in params], ref):
        np.testing.assert_allclose(a, b, **TOL)
    assert float(opt.get_lr().asnumpy()) == pytest.approx(0.01)  # past the end: last value
    params2 = make_params(rng)
    sched = nn.CosineDecayLR(0.0, 0.1, 4)
    opt2 = nn.Adam(params2, sched)
    got = []
    for _ in range(4):
        got.append(float(opt2.get_lr().asnumpy()))
        opt2(tuple(npk.ops.zeros_like(p) for p in params2))
    np.testing.assert_allclose(
        got, [0.05 * (1 + math.cos(math.pi * s / 4)) for s in range(4)], rtol=1e-6
    )
    opt3 = nn.SGD(make_params(rng), npk.Tensor(np.array([0.3, 0.2], np.float32)))
    assert opt3.dynamic_lr and float(opt3.get_lr().asnumpy()) == pytest.approx(0.3)


def test_fixed_lr_is_a_parameter_that_can_be_changed(rng):
    params = make_params(rng)
    opt = nn.SGD(params, learning_rate=0.1)
    lr = opt.get_lr()
    assert isinstance(lr, npk.Parameter) and lr.name == "learning_rate" and lr.shape == ()
    opt.learning_rate.assign_value(np.float32(0.0))
    before = init_values(params)
    opt(tuple(npk.ops.ones_like(p) for p in params))
    np.testing.assert_array_equal(params[0].asnumpy(), before[0])


def test_group_params(rng):
    w, gm = make_params(rng)
    b = npk.Parameter(npk.Tensor(rng.standard_normal(3).astype(np.float32)), name="fc.bias")
    groups = [{"params": [w], "weight_decay": 0.1, "lr": 0.5}, {"params": [gm, b]}]
    opt = nn.SGD(groups, learning_rate=0.1, weight_decay=0.01)
    assert opt.is_group and opt.is_group_lr
    assert opt.weight_decay == (0.1, 0.01, 0.01)  # with groups no name filter
    lrs = opt.get_lr()
    assert [float(x.asnumpy()) for x in lrs] == pytest.approx([0.5, 0.1, 0.1])
    assert opt.get_lr_parameter(w).name == "learning_rate_group_0"
    assert [p.name for p in opt.get_lr_parameter([gm, b])] == ["learning_rate", "learning_rate"]
    p0 = init_values([w, gm, b])
    g = [rng.standard_normal(p.shape).astype(np.float32) for p in (w, gm, b)]
    opt(tuple(npk.Tensor(x) for x in g))
    for p, p_init, gi, lr, wd in zip((w, gm, b), p0, g, (0.5, 0.1, 0.1), (0.1, 0.01, 0.01)):
        np.testing.assert_allclose(p.asnumpy(), p_init - lr * (gi + wd * p_init), **TOL)
    names = list(opt.parameters_dict())
    assert "learning_rate_group_0" in names and "learning_rate" in names
    ordered = nn.SGD([{"params": [w]}, {"params": [b]}, {"order_params": [b, w]}], 0.1)
    assert [p.name for p in ordered.parameters] == ["fc.weight", "fc.bias"]
    with pytest.raises(ValueRangeError):
        nn.SGD([{"params": [w], "momentum": 0.9}], 0.1)


def test_state_is_exposed_and_resume_is_bit_identical(rng):
    def build(seed):
        npk.set_seed(seed)
        net = nn.SequentialCell([nn.Dense(4, 3), nn.BatchNorm1d(3), nn.Dense(3, 2)])
        return net, nn.Adam(net.trainable_params(), learning_rate=[0.01, 0.02, 0.03, 0.04, 0.05])

    net, opt = build(0)
    names = list(opt.parameters_dict())
    assert names[:6] == ["0.weight", "0.bias", "1.gamma", "1.beta", "2.weight", "2.bias"]
    for expect in (
        "learning_rate",
        "global_step",
        "beta1_power",
        "beta2_power",
        "moment1.0.weight",
        "moment2.2.bias",
    ):
        assert expect in names
    grads = [
        [rng.standard_normal(p.shape).astype(np.float32) for p in opt.parameters] for _ in range(4)
    ]
    for step in grads[:2]:
        opt(tuple(npk.Tensor(g) for g in step))
    snapshot = {k: v.asnumpy().copy() for k, v in opt.parameters_dict().items()}
    net2, opt2 = build(1)  # different init, then restored from the snapshot
    for k, p in opt2.parameters_dict().items():
        p.assign_value(snapshot[k])
    for step in grads[2:]:
        opt(tuple(npk.Tensor(g) for g in step))
        opt2(tuple(npk.Tensor(g) for g in step))
    for (k, a), b in zip(opt.parameters_dict().items(), opt2.parameters_dict().values()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=k)


def test_state_names_per_rule(rng):
    params = make_params(rng)
    assert [p.name for p in nn.Momentum(params, 0.1, 0.9).moments] == [
        "moments.fc.weight",
        "moments.bn.gamma",
    ]
    sgd = nn.SGD(params, 0.1, momentum=0.9)
    assert [p.name for p in sgd.accum] == ["accum.fc.weight", "accum.bn.gamma"]
    assert [p.name for p in sgd.stat] == ["stat.fc.weight", "stat.bn.gamma"]
    assert not hasattr(nn.SGD(params, 0.1), "accum")
    adam = nn.Adam(params)
    assert {"moment1.fc.weight", "moment2.bn.gamma", "beta1_power", "beta2_power"} <= set(
        adam.parameters_dict()
    )
    assert all(not p.requires_grad for p in adam.untrainable_params())
    assert adam.params is adam.parameters


def test_launches_are_recorded(rng):
    dev = npk.device.get("npu:0")
    params = make_params(rng)
    opt = nn.Momentum(params, 0.1, 0.9)
    dev.reset_counters()
    opt(tuple(npk.ops.ones_like(p) for p in params))
    tot = dev.op_totals()["momentum_update"]
    assert tot["calls"] == 2 and tot["unit"] == "vector"
    assert tot["flops"] == 4 * (12 + 4) and tot["bytes"] == 5 * 4 * (12 + 4)


def test_custom_optimizer_with_mindspore_helpers(rng):
    class PlainSGD(nn.Optimizer):
        def construct(self, gradients):
            gradients = self.scale_grad(self.decay_weight(self.flatten_gradients(gradients)))
            lr = self.get_lr()
            for p, g in zip(self.parameters, gradients):
                p.assign_value(p - lr * g)
            return True

    params = make_params(rng)
    p0 = init_values(params)
    opt = PlainSGD(0.1, params, weight_decay=0.1, loss_scale=2.0)
    g = [np.ones(p.shape, np.float32) for p in params]
    opt(tuple(npk.Tensor(x) for x in g))
    np.testing.assert_allclose(params[0].asnumpy(), p0[0] - 0.1 * (0.5 + 0.1 * p0[0]), **TOL)
    np.testing.assert_allclose(params[1].asnumpy(), p0[1] - 0.1 * 0.5, **TOL)
    assert int(opt.global_step.asnumpy()[0]) == 1


def test_errors(rng):
    params = make_params(rng)
    with pytest.raises(ValueRangeError):
        nn.SGD([], 0.1)
    with pytest.raises(DTypeError):
        nn.SGD(params[0], 0.1)
    with pytest.raises(DTypeError):
        nn.SGD(params, "fast")
    with pytest.raises(ValueRangeError):
        nn.SGD(params, -0.1)
    with pytest.raises(ValueRangeError):
        nn.SGD(params, 0.1, momentum=0.0, nesterov=True)
    with pytest.raises(ValueRangeError):
        nn.Adam(params, beta1=1.0)
    with pytest.raises(ValueRangeError):
        nn.Momentum(params, 0.1, 0.9, loss_scale=0)
    with pytest.raises(NpuError):
        nn.SGD([params[0], params[0]], 0.1)
    opt = nn.SGD(params, 0.1)
    with pytest.raises(ShapeError, match="expected 2 gradients"):
        opt((npk.Tensor(np.ones((3, 4), np.float32)),))
    with pytest.raises(ShapeError, match="fc.weight"):
        opt((npk.Tensor(np.ones((4, 3), np.float32)), npk.Tensor(np.ones(4, np.float32))))
    with pytest.raises(DTypeError):
        opt(npk.Tensor(np.ones(3)))
