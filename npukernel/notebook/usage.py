"""NPU counters for Jupyter: what a kernel's ``usage_reply`` carries and how it reads.

The JupyterLab panel, the status bar and the ``%npu`` magic all show the same numbers,
read from :func:`npukernel.device.usage_all`. This module turns them into the ``npu``
field of a kernel's ``usage_reply`` and into short human strings. It imports no Jupyter
package, so the server extension and the tests can use it as well.

Example:
    >>> from npukernel.notebook.usage import npu_usage, status_text
    >>> reply = npu_usage({"interval_s": 0.5, "top": 3})
    >>> reply["default"]
    'npu:0'
    >>> status_text(reply).startswith("NPU 0 · ")
    True
"""

from __future__ import annotations

import math
from typing import Any

from npukernel import device

#: Format version of the ``npu`` field; bump on an incompatible change.
USAGE_VERSION = 1

#: Bounds on what a client may ask for (the reply is sent every second or so).
MAX_INTERVAL_S = 600.0
MAX_TOP = 50

GiB = 2**30


def _number(value: Any, default: float, lo: float, hi: float) -> float:
    """Return ``value`` clipped to ``[lo, hi]``, or ``default`` if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if not math.isfinite(value):
        return default
    return min(max(float(value), lo), hi)


def npu_usage(content: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the ``npu`` field of a ``usage_reply``: every device's live counters.

    Args:
        content: The request's content. ``interval_s`` (default 1.0) is the window
            utilisation is measured over and ``top`` (default 5) how many ops to list;
            bad values fall back to the defaults rather than failing the reply.

    Returns:
        ``{"version", "default", "devices": {name: Device.usage()}}``; JSON-serialisable.

    Example:
        >>> sorted(npu_usage()["devices"])
        ['cpu', 'npu:0']
    """
    content = content or {}
    interval_s = _number(content.get("interval_s"), 1.0, 0.01, MAX_INTERVAL_S)
    top = int(_number(content.get("top"), 5, 0, MAX_TOP))
    found = device.usage_all(interval_s=interval_s, top=top)
    return {"version": USAGE_VERSION, **found}


def format_gib(nbytes: float | None) -> str:
    """Return bytes as GiB with one decimal (``"?"`` for unknown or unlimited).

    Example:
        >>> format_gib(1.25 * 2**30), format_gib(None)
        ('1.2', '?')
    """
    if nbytes is None:
        return "?"
    return f"{nbytes / GiB:.1f}"


def short_bytes(nbytes: float) -> str:
    """Bytes in the largest binary unit that keeps the number >= 1 (the Lab panel's format).

    Example:
        >>> short_bytes(919 * 1024), short_bytes(1536 * 2**20), short_bytes(0)
        ('919 KiB', '1.5 GiB', '0 B')
    """
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while nbytes >= 1024 and i < len(units) - 1:
        nbytes /= 1024
        i += 1
    text = f"{nbytes:.0f}" if i == 0 or nbytes >= 100 else f"{nbytes:.1f}"
    return f"{text.removesuffix('.0')} {units[i]}"


def status_text(npu: dict[str, Any] | None) -> str:
    """The status-bar line for a kernel's default device: ``"NPU 0 · 1.2/32 GiB · 37%"``.

    Args:
        npu: The ``npu`` field of a usage reply (:func:`npu_usage`), or ``None`` for a
            kernel without one.

    Example:
        >>> status_text(None)
        'no NPU'
    """
    if not npu or not npu.get("devices"):
        return "no NPU"
    name = npu.get("default") or next(iter(npu["devices"]))
    dev = npu["devices"].get(name) or next(iter(npu["devices"].values()))
    mem = dev["memory"]
    label = "CPU" if dev["kind"] == "cpu" else f"NPU {dev['device'].partition(':')[2] or 0}"
    total = format_gib(mem["total"]) if mem["total"] is not None else "∞"
    total = total.removesuffix(".0")
    # Below 0.1 GiB the used part gets its own unit, so a small model does not read "0.0".
    used = format_gib(mem["used"]) if mem["used"] >= 0.1 * GiB else short_bytes(mem["used"])
    return f"{label} · {used}/{total} GiB · {dev['utilization'] * 100:.0f}%"
