"""The virtual NPU: devices, chip profiles, the cost model, memory and data layouts.

This is the bottom layer of npukernel: it imports nothing from the rest of the package
except :mod:`npukernel.errors`.

Example:
    >>> from npukernel import device
    >>> npu = device.get("npu:0")
    >>> print(npu.profile.name, npu.memory.capacity // 2**30, "GiB")
    ascend910 32 GiB
"""

from npukernel.device import cost, formats, host_allocator, profiles
from npukernel.device.core import (
    MAX_RECORDS,
    RECORD_FIELDS,
    Device,
    attach_sink,
    default,
    detach_sink,
    devices,
    get,
    set_default,
    set_num_devices,
    set_profile,
    usage_all,
)
from npukernel.device.formats import from_5hd, from_fractal_nz, to_5hd, to_fractal_nz
from npukernel.device.memory import Buffer, MemoryTracker, Storage, format_bytes
from npukernel.device.profiles import ChipProfile

__all__ = [
    "MAX_RECORDS",
    "RECORD_FIELDS",
    "Buffer",
    "ChipProfile",
    "Device",
    "MemoryTracker",
    "Storage",
    "attach_sink",
    "cost",
    "default",
    "detach_sink",
    "devices",
    "format_bytes",
    "formats",
    "from_5hd",
    "from_fractal_nz",
    "get",
    "profiles",
    "set_default",
    "set_num_devices",
    "set_profile",
    "to_5hd",
    "to_fractal_nz",
    "usage_all",
]

host_allocator.tune()
