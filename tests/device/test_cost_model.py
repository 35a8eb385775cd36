import math
import time
import timeit

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npukernel.device import cost, profiles
from npukernel.errors import DTypeError, ValueRangeError

P910 = profiles.get("ascend910")


def test_compute_bound_gemm():
    # 4096^3 fp16 GEMM: 137 GFLOP vs 100 MB -> far above the ridge point.
    n = 4096
    flops, nbytes = 2 * n**3, 3 * n * n * 2
    t = cost.estimate(P910, flops, nbytes, "cube", "float16")
    assert cost.bound(P910, flops, nbytes, "cube", "float16") == "compute"
    assert math.isclose(t, P910.launch_overhead_s + flops / P910.peak_flops("float16"))


def test_memory_bound_elementwise():
    # relu over 64M fp32: 1 op per 8 bytes -> bandwidth-bound.
    n = 64 * 2**20
    t = cost.estimate(P910, n, 8 * n, "vector", "float32")
    assert cost.bound(P910, n, 8 * n, "vector", "float32") == "memory"
    assert math.isclose(t, P910.launch_overhead_s + 8 * n / P910.hbm_bandwidth)


def test_dtype_and_unit_rates():
    f, b = 10**12, 0
    fp16 = cost.estimate(P910, f, b, "cube", "float16")
    int8 = cost.estimate(P910, f, b, "cube", "int8")
    fp32 = cost.estimate(P910, f, b, "cube", "float32")
    lo = P910.launch_overhead_s
    assert math.isclose(fp16 - lo, 2 * (int8 - lo))
    assert math.isclose(fp32 - lo, (fp16 - lo) / P910.cube_fp32_ratio)
    assert cost.estimate(P910, f, b, "vector", "float32") > fp32
    assert cost.estimate(P910, f, b, "scalar", "float32") > cost.estimate(
        P910, f, b, "vector", "float32"
    )
    assert cost.estimate(P910, f, 0, "dma", "float32") == lo  # dma ignores flops


def test_dtype_spellings_agree():
    a = cost.estimate(P910, 10**9, 10**6, "cube", "float16")
    assert a == cost.estimate(P910, 10**9, 10**6, "cube", "fp16")
    assert a == cost.estimate(P910, 10**9, 10**6, "cube", np.float16)
    assert a == cost.estimate(P910, 10**9, 10**6, "cube", np.dtype("float16"))


def test_errors():
    with pytest.raises(ValueRangeError, match="'unit' must be one of"):
        cost.estimate(P910, 1, 1, "tensorcore", "float16")
    with pytest.raises(DTypeError):
        cost.estimate(P910, 1, 1, "vector", "float3")


@given(
    flops=st.integers(0, 10**15),
    nbytes=st.integers(0, 10**12),
    extra=st.integers(1, 10**12),
    unit=st.sampled_from(cost.UNITS),
    dtype=st.sampled_from(["float16", "float32", "int8", "bfloat16", "float64"]),
)
def test_monotonic_and_roofline(flops, nbytes, extra, unit, dtype):
    t = cost.estimate(P910, flops, nbytes, unit, dtype)
    assert t >= P910.launch_overhead_s
    assert cost.estimate(P910, flops + extra, nbytes, unit, dtype) >= t
    assert cost.estimate(P910, flops, nbytes + extra, unit, dtype) >= t
    peak = cost.unit_peak(P910, unit, dtype)
    roof = max(flops / peak, nbytes / P910.hbm_bandwidth)
    assert math.isclose(t, P910.launch_overhead_s + roof, rel_tol=1e-12)


def test_bigger_chip_is_not_slower():
    b = profiles.get("ascend910b")
    s = profiles.get("ascend310")
    work = (2 * 1024**3, 6 * 1024**2, "cube", "float16")
    assert cost.estimate(s, *work) > cost.estimate(P910, *work)
    assert cost.estimate(b, *work) < cost.estimate(P910, *work)


def test_replaced_profile_gets_its_own_constants():
    slow = P910.replace(hbm_bandwidth=1e9)
    n = 10**9
    assert cost.estimate(slow, 0, n, "dma", "float32") > cost.estimate(P910, 0, n, "dma", "float32")


def test_estimate_is_fast():
    n = 100_000
    stmt = "estimate(p, 4096, 49152, 'vector', 'float32')"
    env = {"estimate": cost.estimate, "p": P910}
    per_call = min(timeit.repeat(stmt, globals=env, number=n, repeat=5, timer=time.thread_time)) / n
    print(f"\ncost.estimate: {per_call * 1e9:.0f} ns per call")
    assert per_call < 5e-6  # target < 1 us; loose bound so a loaded CI box does not flake
