import time
import timeit

import pandas as pd
import pytest
import xarray as xr

from npukernel import device, profiler
from npukernel.errors import ValueRangeError


@pytest.fixture
def npu():
    device.set_num_devices(1)
    device.set_profile("ascend910")
    dev = device.get("npu:0")
    dev.reset_counters()
    yield dev
    device.set_num_devices(1)
    dev.reset_counters()


def launch_some(dev):
    dev.record_launch("matmul", ((64, 128), (128, 32)), "float16", 2 * 64 * 128 * 32,
                      2 * (64 * 128 + 128 * 32 + 64 * 32), "cube", 4e-5)  # fmt: skip
    for _ in range(3):
        dev.record_launch("relu", ((64, 32),), "float16", 2048, 8192, "vector", 1e-5)


def test_profile_collects_only_inside_the_block(npu):
    launch_some(npu)
    with profiler.profile() as prof:
        launch_some(npu)
        device.get("cpu").record_launch("add", ((4,), (4,)), "float32", 4, 48, "vector", 1e-6)
    launch_some(npu)
    assert len(prof) == 5
    recs = prof.records
    assert [r["op"] for r in recs] == ["matmul", "relu", "relu", "relu", "add"]
    assert recs[-1]["device"] == "cpu"
    # start = end - cpu_time: the launch *ended* inside the block
    assert all(0 <= r["start_s"] + r["cpu_time_s"] <= prof.wall_s for r in recs)
    assert recs[0]["shapes"] == ((64, 128), (128, 32))
    assert recs[0]["npu_time_s"] > npu.profile.launch_overhead_s


def test_nested_profiles(npu):
    with profiler.profile() as outer:
        launch_some(npu)
        with profiler.profile() as inner:
            npu.record_launch("softmax", ((8, 10),), "float32", 400, 640, "vector", 1e-6)
        launch_some(npu)
    assert len(inner) == 1 and len(outer) == 9
    assert not device.core._SINKS  # everything detached


def test_profile_detaches_on_exception(npu):
    with pytest.raises(RuntimeError):
        with profiler.profile():
            raise RuntimeError("boom")
    assert not device.core._SINKS


def test_to_xarray(npu):
    with profiler.profile() as prof:
        launch_some(npu)
    ds = prof.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds.sizes["launch"] == 4
    for name in ("op", "device", "unit", "dtype", "shapes", "flops", "bytes", "cpu_time_s",
                 "npu_time_s", "start_s"):  # fmt: skip
        assert ds[name].dims == ("launch",)
    assert ds["op"].values.tolist() == ["matmul", "relu", "relu", "relu"]
    assert ds["shapes"].values[0] == "((64, 128), (128, 32))"
    assert int(ds["flops"].sum()) == 2 * 64 * 128 * 32 + 3 * 2048
    assert ds["npu_time_s"].attrs["units"] == "s"
    assert ds.attrs["chip_profiles"] == "npu:0=ascend910"


def test_to_dataframe_and_summary(npu):
    with profiler.profile() as prof:
        launch_some(npu)
    frame = prof.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    s = prof.summary()
    assert list(s.columns) == list(profiler.SUMMARY_COLUMNS)
    assert s.index.tolist() == ["matmul", "relu"]  # 40 us > 3 x 10 us
    relu = s.loc["relu"]
    assert relu["calls"] == 3 and relu["unit"] == "vector"
    assert relu["cpu_time_s"] == pytest.approx(3e-5)
    assert relu["cpu_gflops"] == pytest.approx(3 * 2048 / 3e-5 / 1e9)
    assert s["cpu_pct"].sum() == pytest.approx(100)
    assert prof.summary(sort_by="calls").index[0] == "relu"
    assert prof.summary(sort_by="op", top=1).index.tolist() == ["matmul"]
    with pytest.raises(ValueRangeError, match="'sort_by' must be one of"):
        prof.summary(sort_by="speed")


def test_text_and_html(npu):
    with profiler.profile() as prof:
        launch_some(npu)
    text = str(prof)
    print("\n" + text)
    assert text.startswith("profile: 4 launches")
    assert "matmul" in text and "NPU ms (est)" in text and "npu:0: ascend910" in text
    assert "<table" in prof._repr_html_()
    empty = profiler.profile()
    assert "no kernel launches" in empty.table() and empty.summary().empty
    assert empty.to_xarray().sizes["launch"] == 0
    assert "0 launches" in repr(empty)


def test_per_launch_overhead(npu):
    env = {"dev": npu, "shapes": ((64, 64), (64, 64))}
    stmt = "dev.record_launch('add', shapes, 'float32', 4096, 49152, 'vector', 2e-6)"
    n = 20_000
    off = min(timeit.repeat(stmt, globals=env, number=n, repeat=5, timer=time.thread_time)) / n
    with profiler.profile() as prof:
        on = min(timeit.repeat(stmt, globals=env, number=n, repeat=5, timer=time.thread_time)) / n
    print(
        f"\nper-launch recording: {off * 1e9:.0f} ns without a profile, "
        f"{on * 1e9:.0f} ns inside one"
    )
    assert len(prof) == 5 * n
    assert on < 10e-6


def test_the_lean_2d_matmul_records_what_apply_records(npu):
    # ops.matmul takes a shorter path for untaped 2-D float products (functional._matmul_2d);
    # its launch record, result and memory accounting must be the general path's
    import numpy as np

    import npukernel as npk
    from npukernel import ops
    from npukernel.ops.dispatch import apply
    from npukernel.ops.opdef import OPS

    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        a = npk.Tensor(rng.standard_normal((5, 7)).astype(dt))
        b = npk.Tensor(rng.standard_normal((7, 3)).astype(dt))
        with profiler.profile() as prof:
            lean = ops.matmul(a, b)
            general = apply(OPS["matmul"], a, b)
        assert lean.dtype == dt and np.array_equal(lean.asnumpy(), general.asnumpy())
        r1, r2 = prof.records
        for key in ("op", "shapes", "dtype", "flops", "bytes", "unit", "npu_time_s"):
            assert r1[key] == r2[key], key
        assert lean._storage.nbytes == lean.asnumpy().nbytes


def test_the_lean_2d_matmul_leaves_grads_tracing_and_errors_to_apply():
    import numpy as np

    import npukernel as npk
    from npukernel import ops
    from npukernel.errors import ShapeError

    w = npk.Parameter(npk.Tensor(np.ones((3, 2), np.float32)), name="w")
    x = npk.Tensor(np.full((4, 3), 2.0, np.float32))
    g = npk.grad(lambda w: ops.matmul(x, w).sum(), grad_position=0)(w)
    assert np.array_equal(g.asnumpy(), np.full((3, 2), 8.0, np.float32))  # taped
    compiled = npk.jit(lambda x, y: ops.matmul(x, y) * 2.0)
    y = np.ones((3, 2), np.float32)
    assert np.array_equal(compiled(x, npk.Tensor(y)).asnumpy(), np.full((4, 2), 12.0))  # traced
    with pytest.raises(ShapeError, match=r"For 'matmul', the inner dims must match"):
        ops.matmul(x, npk.Tensor(np.ones((2, 2), np.float32)))
