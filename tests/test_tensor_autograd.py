"""Tensor basics and autodiff semantics (MindSpore's grad/value_and_grad)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import npukernel as npk
from npukernel import ops
from npukernel.errors import DeviceError, DeviceOutOfMemory, DTypeError, NpuError, ShapeError


def test_tensor_construction_and_dtypes():
    assert npk.Tensor([1.0, 2.0]).dtype == npk.float32  # Python floats -> float32
    assert npk.Tensor([1, 2]).dtype == npk.int64
    assert npk.Tensor(np.zeros(3, np.float64)).dtype == npk.float64
    assert npk.Tensor([1, 2], npk.float16).dtype == npk.float16
    assert npk.Tensor(True).dtype == npk.bool_
    t = npk.Tensor(shape=(2, 3), dtype=npk.float32)
    assert t.shape == (2, 3) and float(t.sum().item()) == 0.0
    with pytest.raises(DTypeError):
        npk.Tensor(["a", "b"])
    with pytest.raises(DTypeError):
        npk.Tensor([1], dtype="complex64")


def test_tensor_methods_and_operators():
    x = npk.Tensor([[1.0, -2.0], [3.0, 4.0]])
    a = x.asnumpy()
    np.testing.assert_allclose((x + 1).asnumpy(), a + 1)
    np.testing.assert_allclose((2 - x).asnumpy(), 2 - a)
    np.testing.assert_allclose((x * x / 2).asnumpy(), a * a / 2)
    np.testing.assert_allclose((x**2).asnumpy(), a**2)
    np.testing.assert_allclose((x @ x).asnumpy(), a @ a)
    np.testing.assert_allclose((-x).asnumpy(), -a)
    np.testing.assert_array_equal((x > 0).asnumpy(), a > 0)
    np.testing.assert_allclose(x.T.asnumpy(), a.T)
    np.testing.assert_allclose(x.reshape(4).asnumpy(), a.reshape(4))
    np.testing.assert_allclose(x[:, 1].asnumpy(), a[:, 1])
    np.testing.assert_allclose(x[::-1, ::2].asnumpy(), a[::-1, ::2])
    assert x.sum().item() == 6.0 and x.max().item() == 4.0
    assert x.argmax(axis=1).tolist() == [0, 1]
    assert x.astype(npk.int32).dtype == npk.int32
    assert (x + np.ones(2, np.float32)).shape == (2, 2)
    assert (np.ones(2, np.float32) + x).shape == (2, 2)
    # python scalars are weak: they keep the tensor's dtype
    assert (npk.Tensor([1.0], npk.float16) * 3).dtype == npk.float16
    assert (npk.Tensor([1, 2]) / 2).dtype == npk.float32
    assert repr(x).startswith("Tensor(shape=[2, 2], dtype=float32")


def test_views_share_storage_and_memory_is_released():
    dev = npk.device.get("npu:0")
    gc.collect()
    before = dev.memory.used
    x = npk.Tensor(np.zeros((256, 256), np.float32))
    assert dev.memory.used - before == 256 * 256 * 4
    v = x.reshape(-1)
    t = x.T
    assert dev.memory.used - before == 256 * 256 * 4  # views are free
    y = x + 1
    assert dev.memory.used - before == 2 * 256 * 256 * 4
    del x, v, t, y
    gc.collect()
    assert dev.memory.used == before


def test_out_of_memory_names_buffers_and_process_stays_usable():
    dev = npk.device.get("npu:0")
    dev.set_memory_limit(dev.memory.used + 8 * 2**20)
    try:
        keep = npk.Tensor(np.zeros((1024, 1024), np.float32))  # 4 MiB
        with pytest.raises(DeviceOutOfMemory) as info:
            _ = keep + keep + keep  # the second 4 MiB result does not fit
        assert "npu:0" in str(info.value) and "MiB" in str(info.value)
        del keep, info  # the traceback holds the intermediate result, as in any framework
        gc.collect()
        assert (npk.Tensor([1.0]) + 1).item() == 2.0  # still usable
    finally:
        dev.set_memory_limit(None)


def test_devices_and_to():
    npk.device.set_num_devices(2)
    try:
        x = npk.Tensor([1.0, 2.0])
        y = x.to("npu:1")
        assert y.device.name == "npu:1" and x.device.name == "npu:0"
        with pytest.raises(DeviceError, match="one device"):
            _ = x + y
        c = x.to("cpu")
        assert (c * 2).device.name == "cpu"
        g = npk.grad(lambda t: (t.to("npu:1") * 3).sum())(x)
        assert g.device.name == "npu:0" and g.tolist() == [3.0, 3.0]
        npk.set_context(device="cpu")
        assert npk.Tensor([1]).device.name == "cpu"
    finally:
        npk.set_context(device="npu:0")
        npk.device.set_num_devices(1)


def test_grad_accumulates_through_shared_subgraphs_and_broadcasting():
    def f(x, b):
        h = x * b  # b broadcasts over rows
        return (h * h + h).sum() + (x @ x.T).sum()

    x = npk.Tensor(np.arange(6, dtype=np.float64).reshape(2, 3) / 5)
    b = npk.Tensor(np.array([0.5, -1.0, 2.0]))
    gx, gb = npk.grad(f, grad_position=(0, 1))(x, b)
    xa, ba = x.asnumpy(), b.asnumpy()
    h = xa * ba
    dh = 2 * h + 1
    want_gx = dh * ba + np.ones((2, 2)) @ xa * 2
    want_gb = (dh * xa).sum(0)
    np.testing.assert_allclose(gx.asnumpy(), want_gx)
    np.testing.assert_allclose(gb.asnumpy(), want_gb)
    assert gb.shape == (3,)


def test_value_and_grad_signatures():
    w = npk.Parameter(npk.Tensor([1.0, 2.0]), name="w")
    b = npk.Parameter(npk.Tensor([0.5]), name="b")

    def f(x):
        loss = ((x * w).sum() + b.sum()) ** 2
        return loss, x * 2

    x = npk.Tensor([3.0, 4.0])
    (loss, aux), (gx, (gw, gb)) = npk.value_and_grad(f, 0, [w, b], has_aux=True)(x)
    s = 3 + 8 + 0.5
    assert loss.item() == pytest.approx(s * s)
    assert aux.tolist() == [6.0, 8.0]
    np.testing.assert_allclose(gx.asnumpy(), 2 * s * w.asnumpy())
    np.testing.assert_allclose(gw.asnumpy(), 2 * s * x.asnumpy())
    np.testing.assert_allclose(gb.asnumpy(), [2 * s])
    only_w = npk.grad(lambda x: (x * w).sum(), grad_position=None, weights=[w])(x)
    assert isinstance(only_w, tuple) and only_w[0].tolist() == [3.0, 4.0]
    # an input the value does not depend on gets zeros
    g0, g1 = npk.grad(lambda x, y: (x * 2).sum(), grad_position=(0, 1))(x, x)
    assert g1.tolist() == [0.0, 0.0]
    with pytest.raises(NpuError):
        npk.grad(lambda x: x, grad_position=None, weights=None)
    with pytest.raises(ShapeError):
        npk.grad(lambda x: x.sum(), grad_position=3)(x)


def test_no_grad_and_backward():
    w = npk.Parameter(npk.Tensor([2.0]), name="w")
    with npk.no_grad():
        y = w * 3
    assert not y.requires_grad
    z = (w * w * 3).sum()
    z.backward()
    assert w.grad.tolist() == [12.0]
    z2 = (w * 1).sum()
    z2.backward()
    assert w.grad.tolist() == [13.0]  # accumulates like torch


def test_setitem_rules():
    x = npk.Tensor([1.0, 2.0, 3.0])
    x[1] = 5.0
    assert x.tolist() == [1.0, 5.0, 3.0]
    w = npk.Parameter(npk.Tensor([1.0]), name="w")
    y = w * 2
    with pytest.raises(NpuError, match="in place"):
        y[0] = 1.0


def test_profiler_sees_every_launch_with_costs():
    x = ops.randn((64, 128))
    w = ops.randn((128, 32))
    with npk.profiler.profile() as prof:
        y = ops.relu(x @ w).sum()
    names = [r["op"] for r in prof.records]
    assert names == ["matmul", "relu", "sum"]
    mm = prof.records[0]
    assert mm["flops"] == 2 * 64 * 128 * 32 and mm["unit"] == "cube"
    assert mm["npu_time_s"] > 0 and mm["cpu_time_s"] > 0
    assert y.shape == ()


def test_float16_computes_in_float32_and_stores_half():
    x = npk.Tensor(np.linspace(-2, 2, 7), npk.float16)
    y = ops.sigmoid(x)
    assert y.dtype == npk.float16
    np.testing.assert_allclose(
        y.asnumpy(), 1 / (1 + np.exp(-x.asnumpy().astype(np.float32))), rtol=1e-3
    )
    assert (x @ x).dtype == npk.float16
