"""Graph mode: results match PYNATIVE, fusion decisions, errors, caching, side effects."""

import warnings

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn, ops
from npukernel.errors import GraphError
from npukernel.graph import compile_fn, show
from npukernel.kernels import simd


@pytest.fixture
def graph_mode():
    npk.set_context(mode=npk.GRAPH_MODE)
    yield
    npk.set_context(mode=npk.PYNATIVE_MODE)


def T(a, dtype=np.float32):  # noqa: N802
    return npk.Tensor(np.asarray(a, dtype))


# -- caching and replay -------------------------------------------------------------------
def test_replay_computes_new_inputs_and_caches_by_signature(rng):
    calls = []

    def f(x, y):
        calls.append(1)
        return ops.relu(x * y + 1.0).sum(axis=1)

    jf = npk.jit(f)
    for _ in range(3):
        x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
        got = jf(T(x), T(y)).asnumpy()
        np.testing.assert_allclose(got, np.maximum(x * y + 1, 0).sum(1), rtol=1e-5, atol=1e-6)
    assert jf.compiles == 1 and len(calls) == 1  # traced once, replayed twice
    jf(T(rng.standard_normal((2, 5))), T(rng.standard_normal((2, 5))))
    assert jf.compiles == 2  # a new shape is a new signature


def test_outputs_are_not_overwritten_by_the_next_run(rng):
    jf = npk.jit(lambda x: ops.relu(x * 2.0) + 1.0)
    a = jf(T([1.0, -1.0]))
    b = jf(T([3.0, -1.0]))
    c = jf(T([5.0, -1.0]))
    assert a.asnumpy().tolist() == [3.0, 1.0]
    assert b.asnumpy().tolist() == [7.0, 1.0]
    assert c.asnumpy().tolist() == [11.0, 1.0]


def test_parameters_are_read_live_and_a_new_shape_recompiles():
    w = npk.Parameter(T([1.0, 2.0]), name="w")
    jf = npk.jit(lambda x: x * w)
    assert jf(T([1.0, 1.0])).asnumpy().tolist() == [1.0, 2.0]
    w.set_data(np.array([5.0, 6.0], np.float32))
    assert jf(T([1.0, 1.0])).asnumpy().tolist() == [5.0, 6.0]
    assert jf.compiles == 1
    w.set_data(np.array([1.0, 2.0, 3.0], np.float32))
    assert jf(T([1.0, 1.0, 1.0])).asnumpy().tolist() == [1.0, 2.0, 3.0]
    assert jf.compiles == 2


def test_structured_outputs_keep_their_shape():
    jf = npk.jit(lambda x: {"a": x + 1.0, "b": (x * 2.0, 3)})
    out = jf(T([1.0]))
    out = jf(T([2.0]))
    assert out["a"].asnumpy().tolist() == [3.0]
    assert out["b"][0].asnumpy().tolist() == [4.0] and out["b"][1] == 3


# -- gradients and training ---------------------------------------------------------------
def test_jit_value_and_grad_matches_eager(rng):
    w = npk.Parameter(T(rng.standard_normal((5, 3))), name="w")

    def loss(x):
        return (ops.tanh(ops.matmul(x, w)) ** 2).mean()

    eager = npk.value_and_grad(loss, grad_position=0, weights=[w])
    compiled = npk.jit(eager)
    for _ in range(3):
        x = T(rng.standard_normal((4, 5)))
        (v0, (gx0, (gw0,))), (v1, (gx1, (gw1,))) = eager(x), compiled(x)
        np.testing.assert_allclose(v1.asnumpy(), v0.asnumpy(), rtol=1e-5)
        np.testing.assert_allclose(gx1.asnumpy(), gx0.asnumpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(gw1.asnumpy(), gw0.asnumpy(), rtol=1e-4, atol=1e-6)
    assert compiled.compiles == 1


def test_convolution_and_relu_fuse_with_gradients_intact(rng):
    # relu(conv2d) -> conv2d_relu; the ReLU's gradient reads the fused output. The sum of
    # squares makes the gradient depend on the values, not only on the mask.
    w = npk.Parameter(T(rng.standard_normal((4, 3, 3, 3))), name="w")

    def loss(x):
        return (ops.relu(ops.conv2d(x, w, pad_mode="pad", padding=1)) ** 2).sum()

    eager = npk.value_and_grad(loss, grad_position=0, weights=[w])
    compiled = npk.jit(eager)
    x = T(rng.standard_normal((2, 3, 6, 7)))
    (v0, (gx0, (gw0,))), (v1, (gx1, (gw1,))) = eager(x), compiled(x)
    np.testing.assert_allclose(v1.asnumpy(), v0.asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(gx1.asnumpy(), gx0.asnumpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gw1.asnumpy(), gw0.asnumpy(), rtol=1e-4, atol=1e-5)
    entry = npk.graph.compiled(compiled, x)
    names = [n.name for n in entry.program.graph.nodes]
    assert entry.stats["relu_fused"] == 1
    assert "conv2d_relu" in names and "relu" not in names and "conv2d" not in names


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_replay_skips_the_float16_wrapper_only_without_float16(rng, dtype):
    # A conv kernel has no float16 version: half_in_float widens and rounds around it.
    # With every operand float32 the replay calls the kernel itself (the wrapper's scan
    # costs 1-2 us a call); with float16 it must keep the wrapper and still match eager.
    w = npk.Parameter(T(rng.standard_normal((4, 3, 3, 3)), dtype), name="w")

    def f(x):  # (a 3x3 pooling: the convolution does not take it, as it takes a 2x2 one)
        return ops.max_pool2d(ops.relu(ops.conv2d(x, w, pad_mode="pad", padding=1)), 3, 2)

    compiled = npk.jit(f)
    x = T(rng.standard_normal((2, 3, 6, 8)), dtype)
    got, want = compiled(x), f(x)
    assert got.dtype == want.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=tol, atol=tol)
    program = npk.graph.compiled(compiled, x).program
    kernels = [
        program.ns[f"k{j}"] for j, n in enumerate(program.graph.nodes) if f"k{j}" in program.ns
    ]
    ops_by_name = {n.name: n.op for n in program.graph.nodes if n.op is not None}
    assert {"conv2d_relu", "max_pool2d_values"} <= set(ops_by_name)
    pool = ops_by_name["max_pool2d_values"].npu
    assert (pool if dtype == np.float16 else pool.without_float16) in kernels
    conv = ops_by_name["conv2d_relu"].npu
    if dtype == np.float16:
        assert conv in kernels
    elif simd.AVAILABLE:  # a small float32 convolution gets a kernel specialised for its shape
        assert conv.without_float16 not in kernels and conv not in kernels
    else:  # NUMBA_DISABLE_JIT=1: no implicit kernels, so no small plan to bind
        assert conv.without_float16 in kernels


def _specialised(kernel) -> bool:
    """Whether a replay's convolution kernel is one bound to its shapes when compiled."""
    return any(s in kernel.__qualname__ for s in ("_conv_specialize", "small_runner"))


@pytest.mark.parametrize("batch", [1, 64])
def test_small_convolutions_are_specialised_when_compiled(rng, batch):
    # An inference conv + BatchNorm + ReLU: a conv2d_bn node. At batch 1 it is small
    # enough for one implicit task, so the replay calls a kernel with its plan bound; at
    # batch 64 it calls the general one. A non-contiguous input takes the general path
    # inside the specialised kernel. Results match eager either way.
    block = nn.SequentialCell([nn.Conv2d(16, 16, 3, pad_mode="pad", padding=1, has_bias=False),
                               nn.BatchNorm2d(16), nn.ReLU()])  # fmt: skip
    block.set_train(False)
    compiled = npk.jit(block)
    x = T(rng.standard_normal((batch, 16, 16, 16)))
    with npk.no_grad():
        got, want = compiled(x), block(x)
        np.testing.assert_allclose(got.asnumpy(), want.asnumpy(), rtol=1e-5, atol=1e-5)
        program = npk.graph.compiled(compiled, x).program
        nodes = program.graph.nodes
        j = next(j for j, n in enumerate(nodes) if n.name.startswith("conv2d_bn"))
        special = _specialised(program.ns[f"k{j}"])
        assert special == (batch == 1 and simd.AVAILABLE)  # the JIT off: no implicit kernels
        wide = T(rng.standard_normal((batch, 16, 16, 32)))
        view = wide[:, :, :, ::2]  # same shape, not contiguous
        assert not view.asnumpy().flags.c_contiguous
        np.testing.assert_allclose(compiled(view).asnumpy(), block(view).asnumpy(), rtol=1e-5,
                                   atol=1e-5)  # fmt: skip


def test_batch_1_shortcut_convolution_is_specialised_when_compiled(rng):
    # ResNet-20's 1x1 stride-2 shortcut: im2col's shape on its own, but with its
    # BatchNorm folded in, the implicit kernel's; at batch 1 the replay binds its plan
    shortcut = nn.SequentialCell([nn.Conv2d(16, 32, 1, stride=2), nn.BatchNorm2d(32)])
    shortcut.set_train(False)
    shortcut[1].moving_mean.set_data(T(rng.standard_normal(32)))
    x = T(rng.standard_normal((1, 16, 32, 32)))
    with npk.no_grad():
        compiled = npk.jit(shortcut)
        np.testing.assert_allclose(compiled(x).asnumpy(), shortcut(x).asnumpy(), rtol=1e-5,
                                   atol=1e-5)  # fmt: skip
        program = npk.graph.compiled(compiled, x).program
    assert [n.name for n in program.graph.nodes] == ["conv2d_bn"]
    assert _specialised(program.ns["k0"]) == simd.AVAILABLE


@pytest.mark.parametrize("batch", [1, 64])
def test_small_dense_layers_are_specialised_when_compiled(rng, batch):
    # LeNet-5's classifier: at batch 1 each layer is small enough for the one-call kernel
    # (kernels/dense.py), bound when the graph compiles; at batch 64 none is.
    # A non-contiguous input takes the general kernel. Results match eager either way.
    npk.set_seed(5)
    net = nn.SequentialCell([nn.Dense(256, 120), nn.ReLU(), nn.Dense(120, 84), nn.ReLU(),
                             nn.Dense(84, 10)]).set_train(False)  # fmt: skip
    compiled = npk.jit(net)
    x = T(rng.standard_normal((batch, 256)))
    with npk.no_grad():
        np.testing.assert_allclose(compiled(x).asnumpy(), net(x).asnumpy(), rtol=1e-5, atol=1e-5)
        program = npk.graph.compiled(compiled, x).program
        names = [n.name for n in program.graph.nodes]
        assert names == ["dense_relu", "dense_relu", "dense"]
        special = ["_dense_specialize" in program.ns[f"k{j}"].__qualname__ for j in range(3)]
        assert special == [batch == 1] * 3
        view = T(rng.standard_normal((batch, 512)))[:, ::2]
        assert not view.asnumpy().flags.c_contiguous
        np.testing.assert_allclose(compiled(view).asnumpy(), net(view).asnumpy(), rtol=1e-5,
                                   atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trailing_sums_and_means_are_specialised_and_exact(rng, dtype):
    # a global average pool and a loss mean bind the row kernel when compiled; the result
    # is the general kernel's bit for bit; leading axes and a non-contiguous input take
    # the general kernel
    def f(x):
        return ops.mean(x, (2, 3), True), ops.sum(x, (1, 2, 3)), ops.mean(x, 0), x.mean()

    x = T(rng.standard_normal((3, 4, 5, 6)), dtype)
    compiled = npk.jit(f)
    for got, want in zip(compiled(x), f(x)):
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
        assert got.shape == want.shape and got.dtype == want.dtype
    program = npk.graph.compiled(compiled, x).program
    special = [
        "_sum_specialize" in program.ns[f"k{j}"].__qualname__
        for j in range(len(program.graph.nodes))
    ]
    assert special == [True, True, False, True]
    view = T(rng.standard_normal((3, 4, 5, 12)), dtype)[:, :, :, ::2]
    for got, want in zip(compiled(view), f(view)):
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())


def test_dense_and_relu_fuse_in_training_and_inference(rng):
    # nn.Dense + ReLU -> dense_relu; training gradients match eager, and so does inference
    npk.set_seed(3)
    net = nn.SequentialCell([nn.Dense(5, 7), nn.ReLU(), nn.Dense(7, 2)])
    loss = npk.value_and_grad(lambda x: (net(x) ** 2).sum(), None, net.trainable_params())
    compiled = npk.jit(loss)
    x = T(rng.standard_normal((4, 5)))
    (v0, g0), (v1, g1) = loss(x), compiled(x)
    np.testing.assert_allclose(v1.asnumpy(), v0.asnumpy(), rtol=1e-5)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-4, atol=1e-6)
    names = [n.name for n in npk.graph.compiled(compiled, x).program.graph.nodes]
    assert names.count("dense_relu") == 1 and "relu" not in names
    infer = npk.jit(lambda x: net(x))
    with npk.no_grad():
        want = infer(x).asnumpy()
        got = infer(T(x.asnumpy())).asnumpy()  # the replay
        names = [n.name for n in npk.graph.compiled(infer, x).program.graph.nodes]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got, np.maximum(x.asnumpy() @ net[0].weight.asnumpy().T
                               + net[0].bias.asnumpy(), 0) @ net[2].weight.asnumpy().T
                               + net[2].bias.asnumpy(), rtol=1e-5, atol=1e-6)  # fmt: skip
    assert names == ["dense_relu", "dense"]


class _Residual(nn.Cell):
    def __init__(self, down):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, pad_mode="pad", padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, pad_mode="pad", padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.down = nn.SequentialCell([nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)]) if down else None

    def construct(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + (x if self.down is None else self.down(x)))


@pytest.mark.parametrize("batch", [1, 3])  # the kernels bound at compile time either way
@pytest.mark.parametrize("down", [False, True])
def test_inference_block_folds_batch_norm_residual_and_relu_into_convolutions(rng, down, batch):
    # with a downsampling shortcut, both arms of the residual add end in a folded
    # BatchNorm: the first convolution in the graph takes the add, the other does not
    npk.set_seed(4)
    net = _Residual(down)
    bns = (net.bn1, net.bn2) + ((net.down[1],) if down else ())
    for bn in bns:  # statistics that are not the identity
        bn.moving_mean.set_data(T(rng.standard_normal(4)))
        bn.moving_variance.set_data(T(rng.random(4) + 0.5))
        bn.gamma.set_data(T(rng.standard_normal(4)))
    net.set_train(False)
    x = T(rng.standard_normal((batch, 4, 6, 6)))
    want = net(x).asnumpy()
    compiled = npk.jit(net)
    np.testing.assert_allclose(compiled(x).asnumpy(), want, rtol=1e-5, atol=1e-5)
    entry = npk.graph.compiled(compiled, x)
    names = [n.name for n in entry.program.graph.nodes]
    # each convolution folds its BatchNorm itself: no fold kernel of its own, no reshape
    assert names.count("conv2d_bn") == 1 + down and names.count("conv2d_bn_add") == 1
    assert entry.stats["conv_affine"] == 2 + down
    assert not [n for n in names if "relu" in n or n == "conv2d"]
    assert names == [n for n in names if n.startswith("conv2d_bn")]
    ns = entry.program.ns  # each bound to its plan when compiled (JIT off: no plans)
    assert all(_specialised(ns[f"k{j}"]) == simd.AVAILABLE for j in range(len(names)))
    np.testing.assert_allclose(compiled(x).asnumpy(), want, rtol=1e-5, atol=1e-5)  # replayed


class _ConvPool(nn.Cell):
    """conv (+ BatchNorm) (+ ReLU) + max pooling, the pooling's size a parameter."""

    def __init__(self, bn, relu, pool, size):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, pad_mode="pad", padding=1)
        self.bn = nn.BatchNorm2d(5) if bn else None
        self.relu = nn.ReLU() if relu else None
        self.pool = nn.MaxPool2d(pool, pool)
        self.size = size

    def construct(self, x):
        y = self.conv(x)
        y = self.bn(y) if self.bn is not None else y
        y = self.relu(y) if self.relu is not None else y
        return self.pool(y)


@pytest.mark.parametrize(
    "bn, relu, size, batch",
    [(False, True, 8, 3), (False, False, 7, 1), (True, True, 9, 2), (True, False, 6, 64)],
)
def test_inference_convolution_takes_its_2x2_max_pooling(rng, bn, relu, size, batch):
    # odd sizes drop the last row and column, as the pooling does; batch 1 runs the
    # specialised kernel, batch 64 the threaded one
    npk.set_seed(2)
    net = _ConvPool(bn, relu, 2, size)
    if bn:  # a negative scale: the maximum must be taken after the affine step
        net.bn.gamma.set_data(T(rng.standard_normal(5)))
        net.bn.moving_mean.set_data(T(rng.standard_normal(5)))
    net.set_train(False)
    x = T(rng.standard_normal((batch, 3, size, size)))
    with npk.no_grad():
        want = net(x).asnumpy().copy()
        compiled = npk.jit(net)
        got = compiled(x).asnumpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert got.shape == (batch, 5, size // 2, size // 2)
        entry = npk.graph.compiled(compiled, x)
        names = [n.name for n in entry.program.graph.nodes]
        # (with a BatchNorm, one fused kernel computes its scale and shift)
        assert [n for n in names if not n.startswith("fused:")] == ["conv2d_maxpool"]
        assert entry.stats["conv_pool"] == 1
        np.testing.assert_allclose(compiled(x).asnumpy(), want, rtol=1e-5, atol=1e-5)


def test_convolution_keeps_a_pooling_it_cannot_take(rng):
    x = T(rng.standard_normal((2, 3, 9, 9)))

    def names(fn, *args):
        return [n.name for n in compile_fn(fn, args, {}).program.graph.nodes]

    with npk.no_grad():
        net = _ConvPool(False, True, 3, 9).set_train(False)  # 3x3 pooling: not fused
        assert names(net, x) == ["conv2d_relu", "max_pool2d_values"]
        conv = nn.Conv2d(3, 5, 3, pad_mode="pad", padding=1)

        # the convolution's output is read twice: it must be written
        def both(x):
            y = conv(x)
            return ops.max_pool2d(y, 2, 2).sum() + y.sum()

        got = names(both, x)
        assert "conv2d_maxpool" not in got and "max_pool2d_values" in got
    # a training step needs the convolution's output for the gradients
    net = _ConvPool(False, True, 2, 8).set_train()
    loss = nn.WithLossCell(net, lambda y, t: ((y - t) ** 2).mean())
    step = nn.TrainOneStepCell(loss, nn.SGD(net.trainable_params(), 0.1))
    got = names(step, T(rng.standard_normal((2, 3, 8, 8))), T(np.zeros((2, 5, 4, 4))))
    assert "conv2d_maxpool" not in got and "conv2d_relu" in got


@pytest.mark.parametrize("down", [False, True])
def test_training_block_fuses_batch_norm_residual_and_relu(rng, down):
    # relu(bn2(conv2(.)) + x) -> batch_norm_train_add_relu; with a downsampling shortcut
    # (computed after bn2) it is the shortcut's BatchNorm that takes bn2's output as its
    # residual
    x = T(rng.standard_normal((4, 4, 5, 5)))

    def run(mode):
        npk.set_context(mode=mode)
        try:
            npk.set_seed(5)
            net = _Residual(down)
            opt = nn.Momentum(net.trainable_params(), 0.05, 0.9)
            step = nn.TrainOneStepCell(nn.WithLossCell(net, _SquareLoss()), opt).set_train()
            losses = [step(x, x).item() for _ in range(3)]
            return losses, [p.asnumpy() for p in net.trainable_params()], step
        finally:
            npk.set_context(mode=npk.PYNATIVE_MODE)

    l0, p0, _ = run(npk.PYNATIVE_MODE)
    l1, p1, step = run(npk.GRAPH_MODE)
    np.testing.assert_allclose(l1, l0, rtol=1e-5)
    for a, b in zip(p0, p1):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    npk.set_context(mode=npk.GRAPH_MODE)
    try:
        names = [n.name for n in npk.graph.compiled(step, x, x).program.graph.nodes]
    finally:
        npk.set_context(mode=npk.PYNATIVE_MODE)
    assert names.count("batch_norm_train_add_relu") == 1
    assert names.count("batch_norm_train_relu") == 1
    assert "relu" not in names and "add" not in names


class _SquareLoss(nn.Cell):
    def construct(self, y, target):
        return ((y - target) ** 2).mean()


class _Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, pad_mode="pad", padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)
        self.flat = nn.Flatten()
        self.fc = nn.Dense(4 * 4 * 4, 3)

    def construct(self, x):
        return self.fc(self.flat(self.pool(self.relu(self.bn(self.conv(x))))))


def _train(mode, steps, x, y):
    npk.set_context(mode=mode)
    try:
        npk.set_seed(3)
        net = _Net()
        opt = nn.Momentum(net.trainable_params(), 0.02, 0.9)
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), opt).set_train()
        losses = [step(x, y).item() for _ in range(steps)]
        entry = npk.graph.compiled(step, x, y)  # None in PYNATIVE
        net.set_train(False)
        pred = net(x).asnumpy()
        return losses, net, pred, entry
    finally:
        npk.set_context(mode=npk.PYNATIVE_MODE)


def test_train_step_in_graph_mode_matches_pynative(rng):
    x = T(rng.standard_normal((6, 1, 8, 8)))
    y = npk.Tensor(rng.integers(0, 3, 6).astype(np.int32))
    l0, net0, p0, _ = _train(npk.PYNATIVE_MODE, 5, x, y)
    l1, net1, p1, entry = _train(npk.GRAPH_MODE, 5, x, y)
    np.testing.assert_allclose(l1, l0, rtol=1e-5, atol=1e-6)
    assert l1[-1] < l1[0]  # it trains
    for (n0, a), (n1, b) in zip(net0.parameters_and_names(), net1.parameters_and_names()):
        assert n0 == n1
        np.testing.assert_allclose(b.asnumpy(), a.asnumpy(), rtol=1e-5, atol=1e-6, err_msg=n0)
    np.testing.assert_allclose(p1, p0, rtol=1e-4, atol=1e-5)  # eval graph: BatchNorm folded
    assert entry is not None and entry.stats["ops"] > 15
    # BatchNorm and its ReLU ran as one kernel; the ReLU's gradient read the fused output
    assert entry.stats["relu_fused"] == 1
    names = [n.name for n in entry.program.graph.nodes]
    assert "batch_norm_train_relu" in names and "relu" not in names


# -- fusion decisions ---------------------------------------------------------------------
def _kernels(fn, *args):
    c = compile_fn(fn, args, {})
    return [n.name for n in c.program.graph.nodes], c


def test_elementwise_chain_becomes_one_kernel():
    b = T([1.0, 2.0, 3.0])
    names, c = _kernels(lambda x: ops.sigmoid(ops.relu(x + b) * 2.0 - 1.0), T(np.ones((4, 3))))
    assert names == ["fused:add+relu+mul+sub+sigmoid"]
    assert c.stats["ops"] == 5 and c.stats["fused"] == 1


def test_matmul_and_reductions_cut_chains():
    w = npk.Parameter(T(np.ones((3, 2))), name="w")
    bias = npk.Parameter(T([1.0, 2.0]), name="b")

    def f(x):
        return ops.relu(ops.matmul(x, w) + bias).sum() * 2.0

    names, _ = _kernels(f, T(np.ones((4, 3))))
    assert names == ["matmul", "fused:add+relu", "sum", "mul"]
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    jf = npk.jit(f)
    jf(T(x))
    ref = 2 * np.maximum(x @ np.ones((3, 2)) + [1.0, 2.0], 0).sum()
    np.testing.assert_allclose(jf(T(x)).item(), ref, rtol=1e-5)  # the bias loop (inner == 1)


def test_a_value_read_outside_its_group_closes_the_group():
    def f(x):
        a = ops.exp(x)
        s = a.sum()  # reads 'a' between the two elementwise ops
        return ops.relu(a * 2.0) * 3.0, s

    names, _ = _kernels(f, T(np.ones((4, 3))))
    assert names == ["fused:exp", "sum", "fused:mul+relu+mul"]


def test_constants_fold_and_dead_code_goes():
    def f(x):
        k = npk.Tensor(np.float32(2.0)) * 3.0 + 1.0  # constant: folded
        _unused = ops.exp(x)  # dead: dropped
        return x * k

    names, c = _kernels(f, T([1.0]))
    assert names == ["fused:mul"] and c.stats["folded"] == 2 and c.stats["dropped"] == 1


def test_fused_kernels_handle_channel_broadcast_and_casts(rng):
    scale = T(rng.standard_normal((1, 3, 1, 1)))
    shift = T(rng.standard_normal(3).reshape(1, 3, 1, 1))

    def f(x, m):
        y = ops.relu(x * scale + shift)
        return ops.where(m, y, ops.cast(m, npk.float32) - 1.0)

    x = rng.standard_normal((2, 3, 4, 5))
    m = rng.standard_normal((2, 3, 4, 5)) > 0
    names, _ = _kernels(f, T(x), npk.Tensor(m))
    assert len([n for n in names if n.startswith("fused:")]) == 1
    got = npk.jit(f)(T(x), npk.Tensor(m))
    ref = np.where(m, np.maximum(x * scale.asnumpy() + shift.asnumpy(), 0), m - 1.0)
    np.testing.assert_allclose(got.asnumpy(), ref, rtol=1e-5, atol=1e-6)


# -- things the tracer refuses --------------------------------------------------------------
def test_data_dependent_control_flow_names_the_line():
    def f(x):
        if x.sum() > 0:  # the line the error must name
            return x * 2.0
        return x

    with pytest.raises(GraphError) as err:
        npk.jit(f)(T([1.0]))
    msg = str(err.value)
    assert "test_jit.py:" in msg and "if x.sum() > 0" in msg and "PYNATIVE" in msg
    line = f.__code__.co_firstlineno + 1
    assert f"test_jit.py:{line}" in msg


def test_fallback_warns_and_runs_eagerly():
    def f(x):
        return x * 2.0 if x.sum().item() > 0 else x

    jf = npk.jit(f, fallback=True)
    with pytest.warns(UserWarning, match="Falling back to PYNATIVE"):
        assert jf(T([1.0])).asnumpy().tolist() == [2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jf(T([-1.0])).asnumpy().tolist() == [-1.0]  # no second warning, right answer


def test_in_place_assignment_is_refused():
    def f(x):
        y = x * 2.0
        y[0] = 5.0
        return y

    with pytest.raises(GraphError, match="in place"):
        npk.jit(f)(T([1.0, 2.0]))


def test_numpy_array_arguments_are_refused():
    with pytest.raises(GraphError, match="npukernel.Tensor"):
        npk.jit(lambda x: x)(np.ones(2))


# -- cells, phases, randomness ---------------------------------------------------------------
def test_graph_mode_cells_recompile_when_the_phase_changes(graph_mode):
    npk.set_seed(0)
    net = nn.SequentialCell([nn.Dense(4, 4), nn.Dropout(p=0.5)])
    x = T(np.ones((64, 4)))
    net.set_train(False)
    a, b = net(x).asnumpy(), net(x).asnumpy()
    np.testing.assert_array_equal(a, b)  # eval: dropout off
    net.set_train(True)
    c, d = net(x).asnumpy(), net(x).asnumpy()
    assert (c == 0).any() and not np.array_equal(c, d)  # a fresh mask on every replay
    assert net._compiled.compiles == 2


def test_model_train_in_graph_mode(graph_mode, rng):
    from npukernel.dataset import NumpySlicesDataset

    x = rng.standard_normal((96, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    ds = NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(32)
    npk.set_seed(0)
    net = nn.SequentialCell([nn.Dense(8, 16), nn.ReLU(), nn.Dense(16, 2)])
    model = npk.Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                      nn.Momentum(net.trainable_params(), 0.1, 0.9), metrics={"acc"})  # fmt: skip
    model.train(15, ds)
    assert model.eval(ds)["acc"] > 0.9


# -- tools -------------------------------------------------------------------------------
def test_debug_levels_print_ir_and_code(monkeypatch, capsys):
    monkeypatch.setenv("NPUKERNEL_DEBUG", "3")
    npk.jit(lambda x: ops.relu(x + 1.0) * 2.0)(T([1.0]))
    out = capsys.readouterr().out
    assert "compiled" in out and "IR as traced" in out and "IR after passes" in out
    assert "@njit" in out and "def replay" in out


def test_show_draws_every_kernel():
    view = show(lambda x: ops.matmul(x, x) + 1.0, T(np.ones((2, 2))))
    svg = view.svg()
    assert svg.startswith("<svg") and svg.count("<rect") == len(view.graph.nodes) == 2
    assert "matmul" in svg and "graph" in str(view)


def test_profiler_reports_compile_apart_from_steps():
    jf = npk.jit(lambda x: ops.relu(x) * 2.0)
    with npk.profiler.profile() as prof:
        jf(T([1.0, -1.0]))
        jf(T([1.0, -1.0]))
    ops_seen = set(prof.summary().index)
    assert any(o.startswith("compile:") for o in ops_seen)
    assert any(o.startswith("fused:") for o in ops_seen)  # per-kernel records while profiling


@pytest.mark.parametrize(
    "make_opt",
    [lambda ps: nn.Momentum(ps, 0.1, 0.9), lambda ps: nn.Adam(ps, 0.1), lambda ps: nn.SGD(ps, 0.1)],
    ids=["Momentum", "Adam", "SGD"],
)
def test_optimizer_in_a_graph_casts_gradients_to_the_parameter_dtype(rng, make_opt):
    # gradients handed to the optimizer in another dtype: eager casts them, and the
    # replayed host update must too (it receives the traced gradients as they are)
    x = T(rng.standard_normal((4, 3)))

    def run(compiled):
        npk.set_seed(6)
        net = nn.Dense(3, 2)
        opt = make_opt(net.trainable_params())
        grad_fn = npk.value_and_grad(lambda x: (net(x) ** 2).sum(), None, net.trainable_params())

        def step(x):
            loss, grads = grad_fn(x)
            opt(tuple(g.astype(npk.float64) for g in grads))
            return loss

        fn = npk.jit(step) if compiled else step
        for _ in range(3):
            fn(x)
        return [p.asnumpy() for p in net.trainable_params()]

    for eager, graph in zip(run(False), run(True)):
        assert graph.dtype == np.float32
        np.testing.assert_allclose(graph, eager, rtol=1e-5, atol=1e-6)


# -- threads ------------------------------------------------------------------------------
def test_threads_sharing_a_compiled_function_get_their_own_results(rng):
    """A server's worker threads (or a widget's) may replay one compiled graph at once.

    Each run takes its own pooled buffers: with one set shared, the threads overwrote each
    other's intermediates (1,137 of 1,200 results wrong).
    """
    import threading

    def f(x, w):
        h = ops.matmul(ops.tanh(x * 2.0 + 1.0), w)
        return ops.matmul(ops.sigmoid(h * 3.0 - 1.0), w).sum(axis=1)

    jf = npk.jit(f)
    w = T(rng.standard_normal((128, 128)) / 8)
    xs = [T(rng.standard_normal((32, 128))) for _ in range(4)]
    want = [f(x, w).asnumpy().copy() for x in xs]
    jf(xs[0], w)  # compiled here; the threads replay it
    assert jf.compiled(xs[0], w).program.plan.buffers  # intermediates share a pooled buffer
    start = threading.Barrier(len(xs))
    bad, errors = [], []

    def run(k: int) -> None:
        start.wait()
        try:
            for _ in range(100):
                if not np.allclose(jf(xs[k], w).asnumpy(), want[k], rtol=1e-4, atol=1e-4):
                    bad.append(k)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and bad == []
