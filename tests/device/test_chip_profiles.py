import dataclasses

import pytest

from npukernel.device import profiles
from npukernel.device.profiles import ChipProfile, GiB
from npukernel.errors import DeviceError, DTypeError


def rel(a, b):
    return abs(a - b) / b


def test_ascend910_published_figures():
    p = profiles.get("ascend910")
    assert p.ai_cores == 32
    assert p.cube_fp16_macs_per_cycle == 16 * 16 * 16
    assert p.cube_int8_macs_per_cycle == 16 * 32 * 16
    assert rel(p.peak_flops("float16"), 256e12) < 0.03
    assert rel(p.peak_flops("int8"), 512e12) < 0.03
    assert rel(p.clock_hz, 1e9) < 0.03
    assert p.hbm_bytes == 32 * GiB
    assert p.power_w == 310
    assert p.vector_bytes_per_cycle == 256
    assert "hbm_bandwidth" in p.assumed and "launch_overhead_s" in p.assumed


def test_ascend910b_official_config():
    p = profiles.get("ascend910b")
    assert (p.ai_cores, p.vector_cores, p.clock_hz) == (20, 40, 1.8e9)
    assert p.hbm_bytes == 64 * GiB
    assert (p.ub_bytes, p.l1_bytes, p.l0c_bytes) == (192 * 1024, 512 * 1024, 128 * 1024)
    # ASCEND.md sanity check: 20 x 4096 x 2 x 1.8 GHz ~ 295 TFLOPS fp16.
    assert rel(p.peak_flops("fp16"), 295e12) < 0.01


def test_ascend310_published_figures():
    p = profiles.get("ascend310")
    assert rel(p.peak_flops("float16"), 8e12) < 0.03
    assert rel(p.peak_flops("int8"), 16e12) < 0.03
    assert p.power_w == 8
    assert {"ai_cores", "clock_hz", "hbm_bytes"} <= p.assumed


def test_host_cpu_matches_design_note():
    p = profiles.get("host_cpu")
    assert rel(p.peak_flops("float32"), 230e9) < 0.03


def test_dtype_rates():
    p = profiles.get("ascend910")
    fp16 = p.peak_flops("float16")
    assert p.peak_flops("bfloat16") == fp16
    assert p.peak_flops("int8") == 2 * fp16
    assert p.peak_flops("float32") == fp16 * p.cube_fp32_ratio
    assert p.vector_flops("float16") == 2 * p.vector_flops("float32")
    # one op per element per cycle: 256 B / 4 B = 64 lanes per core
    assert p.vector_flops("float32") == 64 * p.vector_cores * p.clock_hz
    with pytest.raises(DTypeError, match="'dtype' must be one of"):
        p.peak_flops("float7")


def test_profiles_are_data_and_frozen():
    p = profiles.get("ascend910")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.ai_cores = 1


def test_replace_configures_assumptions():
    p = profiles.get("ascend910")
    q = p.replace(hbm_bandwidth=1.6e12, cube_fp32_ratio=0.5)
    assert q.hbm_bandwidth == 1.6e12 and q.peak_flops("float32") == p.peak_flops("float16") / 2
    assert "hbm_bandwidth" not in q.assumed and "clock_hz" in q.assumed
    assert p.hbm_bandwidth == 1.2e12  # the original is untouched


def test_registry():
    assert {"ascend910", "ascend910b", "ascend310", "host_cpu"} <= set(profiles.names())
    mine = profiles.register(profiles.get("ascend910").replace(name="test-910-half"))
    assert profiles.get("test-910-half") is mine
    assert profiles.get(mine) is mine
    with pytest.raises(DeviceError, match=r"'name' must be one of \[.*'ascend910'.*got 'tpu'"):
        profiles.get("tpu")
    with pytest.raises(DeviceError):
        profiles.register("ascend910")


def test_describe_is_a_readable_table():
    text = str(profiles.get("ascend910"))
    assert text.startswith("Chip profile 'ascend910'")
    assert "256.0 TFLOPS" in text and "512.0 TOPS" in text and "32 GiB" in text
    assert "HBM bandwidth             1200 GB/s *" in text
    assert "* assumption or unverified" in text
    assert isinstance(profiles.get("ascend910b").describe(), str)


def test_custom_profile_from_scratch():
    p = ChipProfile(
        name="toy",
        ai_cores=1,
        clock_hz=1e9,
        vector_cores=1,
        hbm_bytes=1 << 20,
        hbm_bandwidth=1e9,
        l2_bytes=0,
        ub_bytes=0,
        l1_bytes=0,
        l0a_bytes=0,
        l0b_bytes=0,
        l0c_bytes=0,
        power_w=1,
    )
    assert p.peak_flops("float16") == 2 * 4096 * 1e9
    assert "toy" in p.describe()
