import gc
import threading
import time
import timeit

import pytest

from npukernel import device
from npukernel.device import MemoryTracker, Storage
from npukernel.errors import DeviceError, DeviceOutOfMemory, ValueRangeError

MiB = 1 << 20


def test_allocate_free_used_peak():
    t = MemoryTracker(100 * MiB, name="npu:0")
    a = t.allocate(10 * MiB, "a")
    b = t.allocate(30 * MiB, "b")
    assert (t.used, t.peak, t.free_bytes) == (40 * MiB, 40 * MiB, 60 * MiB)
    t.free(b)
    assert (t.used, t.peak) == (10 * MiB, 40 * MiB)
    assert [buf.tag for buf in t.live_buffers()] == ["a"]
    t.reset_peak()
    assert t.peak == 10 * MiB
    t.free(a)
    assert t.used == 0 and t.live_buffers() == []
    with pytest.raises(DeviceError, match="already freed"):
        t.free(a)
    with pytest.raises(ValueRangeError):
        t.allocate(-1)


def test_out_of_memory_names_largest_buffers_and_tracker_survives():
    t = MemoryTracker(100 * MiB, name="npu:3")
    handles = [t.allocate(s * MiB, f"layer{s}.weight") for s in (1, 2, 3, 4, 5, 6, 40)]
    with pytest.raises(DeviceOutOfMemory) as info:
        t.allocate(50 * MiB, "activations")
    msg = str(info.value)
    print("\n" + msg)
    assert "device 'npu:3'" in msg
    assert "50.00 MiB (52428800 bytes) for 'activations'" in msg
    assert "61.00 MiB of 100.00 MiB" in msg
    for s in (40, 6, 5, 4, 3):
        assert f"layer{s}.weight: {s}.00 MiB" in msg
    assert "layer1.weight" not in msg and "layer2.weight" not in msg  # only the 5 largest
    assert msg.index("layer40") < msg.index("layer6") < msg.index("layer3")
    assert isinstance(info.value, MemoryError)
    # nothing changed, and freeing makes room
    assert t.used == 61 * MiB and len(t.live_buffers()) == 7
    t.free(handles[-1])
    h = t.allocate(50 * MiB, "activations")
    assert t.used == 71 * MiB and t.peak == 71 * MiB
    t.free(h)


def test_unlimited_tracker():
    t = MemoryTracker(None, name="cpu")
    t.free(t.allocate(1 << 50))
    assert t.peak == 1 << 50 and t.free_bytes is None
    assert "unlimited" in repr(t)


def test_storage_frees_on_del_and_gc(clean_devices):
    dev = clean_devices
    s = Storage(dev, 4 * MiB, "x")
    assert dev.memory.used == 4 * MiB and s.alive
    del s
    assert dev.memory.used == 0
    # a reference cycle is freed by the garbage collector
    a = Storage(dev, 2 * MiB, "cycle")
    holder = [a]
    holder.append(holder)
    del a, holder
    gc.collect()
    assert dev.memory.used == 0


def test_storage_release_is_idempotent_and_accepts_names(clean_devices):
    s = Storage("npu:0", 100, "named")
    assert s.device is clean_devices
    s.release()
    s.release()
    assert not s.alive and clean_devices.memory.used == 0
    assert "released" in repr(s)
    del s  # __del__ after release does nothing


def test_storage_oom_leaves_nothing_behind(clean_devices):
    dev = clean_devices
    dev.set_memory_limit(10 * MiB)
    keep = Storage(dev, 8 * MiB, "keep")
    with pytest.raises(DeviceOutOfMemory, match="keep: 8.00 MiB"):
        Storage(dev, 4 * MiB, "too-big")
    gc.collect()
    assert dev.memory.used == 8 * MiB
    del keep
    assert dev.memory.used == 0


def test_storage_threads():
    t = MemoryTracker(None, name="npu:0")

    class Dev:
        memory = t

    def work():
        for _ in range(2000):
            Storage(Dev, 3, "x")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert t.used == 0 and t.peak <= 12


def test_storage_is_cheap(clean_devices):
    n = 50_000
    env = {"Storage": Storage, "dev": clean_devices}
    per = (
        min(
            timeit.repeat(
                "Storage(dev, 4096, 'x')", globals=env, number=n, repeat=5, timer=time.thread_time
            )
        )
        / n
    )
    print(f"\nStorage create + free: {per * 1e6:.2f} us")
    assert clean_devices.memory.used == 0
    assert per < 10e-6  # target < 1.5 us; loose bound so a loaded CI box does not flake


def test_device_memory_limit_for_teaching(clean_devices):
    dev = clean_devices
    assert dev.memory.capacity == dev.profile.hbm_bytes
    dev.set_memory_limit(MiB)
    with pytest.raises(DeviceOutOfMemory, match="device 'npu:0'"):
        Storage(dev, 2 * MiB)
    dev.set_memory_limit(None)
    assert dev.memory.capacity == 32 << 30
    assert device.get("cpu").memory.capacity is None
