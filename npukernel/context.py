"""Global settings: execution mode and default device (MindSpore's ``set_context``).

Example:
    >>> import npukernel as npk
    >>> npk.set_context(mode=npk.PYNATIVE_MODE, device="npu:0")
    >>> npk.get_context("mode") == npk.PYNATIVE_MODE
    True
"""

from __future__ import annotations

from typing import Any

from npukernel import device as _device
from npukernel.errors import NpuError, ValueRangeError

#: MindSpore's values: GRAPH_MODE = 0, PYNATIVE_MODE = 1.
GRAPH_MODE = 0
PYNATIVE_MODE = 1

_settings: dict[str, Any] = {"mode": PYNATIVE_MODE}


def set_context(**kwargs: Any) -> None:
    """Set global options.

    Args:
        **kwargs: ``mode`` (``PYNATIVE_MODE`` or ``GRAPH_MODE``), ``device`` (``"npu:0"``,
            ``"cpu"``; MindSpore's ``device_target="Ascend"|"CPU"`` and ``device_id`` are
            accepted too), ``num_devices``, ``chip`` (a chip profile name such as
            ``"ascend310"``).

    Raises:
        NpuError: for an unknown option; ValueRangeError for a bad mode.
    """
    for key, value in kwargs.items():
        if key == "mode":
            if value not in (GRAPH_MODE, PYNATIVE_MODE):
                raise ValueRangeError(
                    f"For 'set_context', 'mode' must be GRAPH_MODE (0) or PYNATIVE_MODE (1), but got {value!r}."
                )
            _settings["mode"] = value
        elif key == "device":
            _device.set_default(value)
        elif key == "device_target":
            target = str(value).lower()
            idx = kwargs.get("device_id", 0)
            _device.set_default("cpu" if target == "cpu" else f"npu:{idx}")
        elif key == "device_id":
            if "device_target" not in kwargs:
                _device.set_default(f"npu:{value}")
        elif key == "num_devices":
            _device.set_num_devices(value)
        elif key == "chip":
            _device.set_profile(value)
        else:
            raise NpuError(
                f"For 'set_context', unknown option '{key}'. Known: mode, device, "
                "device_target, device_id, num_devices, chip."
            )


def get_context(key: str) -> Any:
    """Read one option set by :func:`set_context` (``"mode"`` or ``"device"``)."""
    if key == "mode":
        return _settings["mode"]
    if key in ("device", "device_target"):
        return _device.default().name
    raise NpuError(f"For 'get_context', unknown option '{key}'.")
