import pytest

from npukernel import device


@pytest.fixture
def clean_devices():
    """Give each test one ascend910 NPU with fresh counters; restore afterwards."""

    def reset():
        device.set_num_devices(1)
        device.set_profile("ascend910")
        device.set_default("npu:0")
        for dev in device.devices():
            dev.set_memory_limit(None)
            dev.reset_counters()

    reset()
    yield device.get("npu:0")
    reset()
