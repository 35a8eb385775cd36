"""Turn a :class:`~npukernel.profiler.Profile` into the plain data a profile view draws.

Three views of one profiled block, all JSON-serialisable:

- ``ops``: per-op totals (the profiler's summary), measured CPU vs estimated NPU time;
- ``timeline``: launches as ``[start_s, cpu_time_s, npu_start_s, npu_time_s, unit, op]``,
  the NPU lane laid end to end as if the chip ran the same launches back to back;
- ``roofline``: the chip profile's roofs (HBM bandwidth slope, Cube and Vector peaks) and
  one point per op at its arithmetic intensity (FLOP/byte) and achieved FLOP/s.

Kept apart from the widget so it can be tested, and reused, without a browser.

Example:
    >>> from npukernel import profiler
    >>> data = profile_data(profiler.profile())
    >>> data["ops"], data["timeline"]
    ([], [])
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from npukernel.device import core
from npukernel.device.cost import UNITS
from npukernel.errors import DeviceError
from npukernel.profiler import Profile

#: Colours by execution unit (the same ones the Lab panel uses).
UNIT_COLORS: dict[str, str] = {
    "cube": "#c7000b",
    "vector": "#1f77b4",
    "scalar": "#2ca02c",
    "dma": "#9467bd",
}

#: Most launches drawn on the timeline; longer runs keep the longest launches.
MAX_TIMELINE = 3000


def _ops(prof: Profile, sort_by: str, top: int | None) -> list[dict[str, Any]]:
    frame = prof.summary(sort_by=sort_by, top=top)
    rows = []
    for op, row in frame.iterrows():
        rows.append({
            "op": str(op), "unit": str(row["unit"]), "calls": int(row["calls"]),
            "cpu_time_s": float(row["cpu_time_s"]), "npu_time_s": float(row["npu_time_s"]),
            "flops": int(row["flops"]), "bytes": int(row["bytes"]),
            "cpu_pct": float(row["cpu_pct"]),
        })  # fmt: skip
    return rows


def _timeline(raw: list[tuple], t0: float, limit: int) -> list[list[Any]]:
    npu_clock = 0.0
    rows = []
    for rec in raw:
        rows.append([rec[0] - t0, rec[8], npu_clock, rec[9], rec[7], rec[2]])
        npu_clock += rec[9]
    if len(rows) > limit:  # keep the longest launches, drawn in time order
        keep = sorted(range(len(rows)), key=lambda i: -rows[i][1])[:limit]
        rows = [rows[i] for i in sorted(keep)]
    return rows


def _roofline(prof: Profile, ops: list[dict[str, Any]]) -> dict[str, Any]:
    raw = list(prof._raw)
    names = Counter(r[1] for r in raw)
    try:
        dev = core.get(names.most_common(1)[0][0]) if names else core.default()
    except DeviceError:
        dev = core.default()
    chip = dev.profile
    cube_dtypes = Counter(r[4] for r in raw if r[7] == "cube")
    dtype = cube_dtypes.most_common(1)[0][0] if cube_dtypes else "float16"
    try:
        cube_peak = chip.peak_flops(dtype)
        vector_peak = chip.vector_flops(dtype)
    except Exception:  # a dtype the chip model does not know
        dtype = "float32"
        cube_peak, vector_peak = chip.peak_flops(dtype), chip.vector_flops(dtype)
    points = []
    for row in ops:
        if row["flops"] <= 0 or row["bytes"] <= 0:
            continue
        points.append({
            "op": row["op"], "unit": row["unit"], "intensity": row["flops"] / row["bytes"],
            "npu_flops_s": row["flops"] / row["npu_time_s"] if row["npu_time_s"] > 0 else 0.0,
            "cpu_flops_s": row["flops"] / row["cpu_time_s"] if row["cpu_time_s"] > 0 else 0.0,
        })  # fmt: skip
    return {
        "device": dev.name,
        "chip": chip.name,
        "dtype": str(dtype),
        "hbm_bandwidth": float(chip.hbm_bandwidth),
        "roofs": {"cube": float(cube_peak), "vector": float(vector_peak)},
        "points": points,
    }


def profile_data(
    prof: Profile,
    sort_by: str = "cpu_time_s",
    top: int | None = 20,
    max_launches: int = MAX_TIMELINE,
) -> dict[str, Any]:
    """Everything a profile view shows, as plain JSON-ready data.

    Args:
        prof: A finished (or running) profile.
        sort_by: Summary column to order the op table by.
        top: How many ops to list (``None``: all).
        max_launches: Most launches on the timeline.

    Returns:
        ``{"headline", "ops", "timeline", "roofline", "units", "colors", "totals"}``.

    Example:
        >>> from npukernel import device, profiler
        >>> with profiler.profile() as prof:
        ...     device.get("npu").record_launch("relu", ((8,),), "float32", 8, 64, "vector", 1e-6)
        >>> profile_data(prof)["ops"][0]["op"]
        'relu'
    """
    raw = list(prof._raw)
    ops = _ops(prof, sort_by, top)
    return {
        "headline": prof._headline(),
        "ops": ops,
        "timeline": _timeline(raw, prof._t0 or 0.0, max_launches),
        "roofline": _roofline(prof, _ops(prof, "cpu_time_s", None)),
        "units": list(UNITS),
        "colors": UNIT_COLORS,
        "totals": {
            "launches": len(raw),
            "wall_s": prof.wall_s,
            "cpu_time_s": float(sum(r[8] for r in raw)),
            "npu_time_s": float(sum(r[9] for r in raw)),
        },
    }
