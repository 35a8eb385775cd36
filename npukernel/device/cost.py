"""Roofline cost model: how long a real NPU would take for one kernel launch.

For a launch that does ``flops`` operations and moves ``bytes_moved`` bytes to and from
HBM on execution ``unit``::

    time = launch_overhead + max(flops / peak(unit, dtype), bytes_moved / hbm_bandwidth)

with these peaks (all cores, from the :class:`~npukernel.device.profiles.ChipProfile`):

========  ==============================================================================
unit      peak
========  ==============================================================================
cube      2 * MACs/cycle * cores * clock; fp16/bf16 full rate, int8 at the int8 MAC
          rate (2x), fp32 at ``cube_fp32_ratio`` of fp16 [assumption]
vector    ``vector_bytes_per_cycle / itemsize`` elements per cycle per vector core,
          one operation per element per cycle (a simplification: a fused multiply-add
          or a transcendental counts as what the kernel's FLOP count says)
scalar    ``scalar_ops_per_cycle`` per core [assumption: a small in-order unit]
dma       bandwidth only (``flops`` is ignored)
========  ==============================================================================

What the model leaves out, on purpose: overlap between launches (each launch pays its own
overhead), on-chip reuse beyond what ``bytes_moved`` says, L2 hits, tiling waste when a
shape is not a multiple of 16, and Cube/Vector overlap inside one kernel. It answers
"is this op compute- or memory-bound, and roughly how fast could it be", not "what will
the profiler on a real 910 print".

Speed: :func:`estimate` runs on every kernel launch, so the per-(unit, dtype) constants
``(launch_overhead, 1/peak, 1/bandwidth)`` are computed once per profile and cached in a
dict on the (frozen) profile object; the hot path is one dict lookup and two multiplies.

Example:
    >>> from npukernel.device import profiles
    >>> p = profiles.get("ascend910")
    >>> t = estimate(p, flops=2 * 1024**3, bytes_moved=3 * 2 * 1024**2, unit="cube",
    ...              dtype="float16")
    >>> round(t * 1e6, 1)  # 2 GFLOP of fp16 GEMM: compute-bound, ~8.4 us + 5 us launch
    13.4
"""

from __future__ import annotations

from typing import Any

from npukernel.device.profiles import ChipProfile
from npukernel.errors import ValueRangeError

#: The execution units a kernel launch can name.
UNITS: tuple[str, ...] = ("cube", "vector", "scalar", "dma")

_Constants = tuple[float, float, float]


def unit_peak(profile: ChipProfile, unit: str, dtype: Any) -> float:
    """Peak throughput of ``unit`` for ``dtype`` in op/s (``inf`` for ``"dma"``).

    Raises:
        ValueRangeError: if ``unit`` is not one of :data:`UNITS`.
        DTypeError: if ``dtype`` is unknown.

    Example:
        >>> from npukernel.device import profiles
        >>> unit_peak(profiles.get("ascend910"), "cube", "int8") / 1e12
        512.0
    """
    if unit == "cube":
        return profile.peak_flops(dtype)
    if unit == "vector":
        return profile.vector_flops(dtype)
    if unit == "scalar":
        return profile.scalar_ops()
    if unit == "dma":
        return float("inf")
    raise ValueRangeError(
        f"For 'cost.estimate', 'unit' must be one of {list(UNITS)}, but got {unit!r}."
    )


def table(profile: ChipProfile) -> dict[tuple[str, Any], _Constants]:
    """The per-profile cache behind :func:`estimate`: ``(unit, dtype) -> constants``.

    It lives on the profile object (profiles are frozen, so it never goes stale) and
    fills as new (unit, dtype) pairs are costed. ``Device.record_launch`` reads it
    directly to save a function call per launch.

    Example:
        >>> from npukernel.device import profiles
        >>> isinstance(table(profiles.get("ascend910")), dict)
        True
    """
    found = profile.__dict__.get("_cost_table")
    if found is None:
        found = profile.__dict__.setdefault("_cost_table", {})
    return found


def constants(profile: ChipProfile, unit: str, dtype: Any) -> _Constants:
    """Return (and cache) ``(launch_overhead_s, 1/peak, 1/hbm_bandwidth)``.

    Example:
        >>> from npukernel.device import profiles
        >>> constants(profiles.get("ascend910"), "dma", "float32")[1]
        0.0
    """
    found = table(profile).get((unit, dtype))
    if found is None:
        peak = unit_peak(profile, unit, dtype)
        found = (profile.launch_overhead_s, 1.0 / peak, 1.0 / profile.hbm_bandwidth)
        table(profile)[(unit, dtype)] = found
    return found


def estimate(profile: ChipProfile, flops: int, bytes_moved: int, unit: str, dtype: Any) -> float:
    """Estimated NPU seconds for one launch (see the module docstring for the model).

    Args:
        profile: The chip.
        flops: Operations the kernel does (MAC = 2).
        bytes_moved: Bytes read from plus written to HBM.
        unit: ``"cube"``, ``"vector"``, ``"scalar"`` or ``"dma"``.
        dtype: Compute dtype name, e.g. ``"float16"``.

    Returns:
        Seconds, including the profile's launch overhead.

    Example:
        >>> from npukernel.device import profiles
        >>> p = profiles.get("ascend910")
        >>> estimate(p, 0, 0, "vector", "float32") == p.launch_overhead_s
        True
    """
    try:
        launch, inv_peak, inv_bw = profile._cost_table[unit, dtype]  # type: ignore[attr-defined]
    except (AttributeError, KeyError):
        launch, inv_peak, inv_bw = constants(profile, unit, dtype)
    t_compute = flops * inv_peak
    t_memory = bytes_moved * inv_bw
    return launch + (t_compute if t_compute > t_memory else t_memory)


def bound(profile: ChipProfile, flops: int, bytes_moved: int, unit: str, dtype: Any) -> str:
    """Say which roof limits a launch: ``"compute"`` or ``"memory"``.

    Example:
        >>> from npukernel.device import profiles
        >>> bound(profiles.get("ascend910"), 10**6, 10**9, "vector", "float32")
        'memory'
    """
    _, inv_peak, inv_bw = constants(profile, unit, dtype)
    return "compute" if flops * inv_peak >= bytes_moved * inv_bw else "memory"
