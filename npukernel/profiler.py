"""Profile a block of code: every kernel launch on every device, measured and estimated.

::

    import npukernel
    with npukernel.profiler.profile() as prof:
        net(x)
    print(prof)                      # per-op table: calls, CPU time, estimated NPU time
    prof.summary(sort_by="npu_time_s")
    ds = prof.to_xarray()            # one row per launch, dim "launch"

Each launch row says which unit ran it (cube / vector / scalar / dma), what it did
(FLOPs, bytes), how long the CPU kernel took, and how long the device's chip profile
says a real NPU would take (:mod:`npukernel.device.cost`).

Mechanism: entering a profile attaches a list to ``npukernel.device.core``; while any
profile is active, ``Device.record_launch`` appends each record tuple to every attached
list (so nested profiles each see their own block), and when none is active it pays one
truthiness check. Launches from all threads are collected.

Overhead per launch (thread CPU time on the reference 2-vCPU machine;
``tests/test_profiler.py`` prints it): ``Device.record_launch`` costs about 0.75-0.8 us
with no profile active and about 0.95-1.1 us inside one (the append to the profile's
list). The tuples become dicts, DataFrames or xarray only when you ask for them.

pandas and xarray are imported when a table is asked for, not at import time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from npukernel.device import core
from npukernel.errors import DeviceError, ValueRangeError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

#: Columns of :meth:`Profile.summary`.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "unit",
    "calls",
    "cpu_time_s",
    "npu_time_s",
    "flops",
    "bytes",
    "cpu_gflops",
    "npu_gflops",
    "cpu_pct",
)


class Profile:
    """The launch records of one profiled block (use :func:`profile` to make one).

    Attributes:
        wall_s: Wall time of the block (so far, while it runs).

    Example:
        >>> from npukernel import device
        >>> with profile() as prof:
        ...     device.get("npu").record_launch("relu", ((8, 8),), "float32", 64, 512,
        ...                                     "vector", 1e-6)
        >>> prof.records[0]["op"], prof.records[0]["unit"]
        ('relu', 'vector')
    """

    def __init__(self) -> None:
        self._raw: list[tuple] = []
        self._t0: float | None = None
        self._t1: float | None = None

    # -- context manager ----------------------------------------------------------------

    def __enter__(self) -> Profile:
        if self._t0 is None:
            self._t0 = time.perf_counter()
        self._t1 = None
        core.attach_sink(self._raw)
        return self

    def __exit__(self, *exc_info: object) -> None:
        core.detach_sink(self._raw)
        self._t1 = time.perf_counter()

    @property
    def wall_s(self) -> float:
        """Seconds from entering the block to leaving it (or to now, inside it)."""
        if self._t0 is None:
            return 0.0
        return (self._t1 if self._t1 is not None else time.perf_counter()) - self._t0

    def __len__(self) -> int:
        return len(self._raw)

    # -- records ------------------------------------------------------------------------

    @property
    def records(self) -> list[dict[str, Any]]:
        """One dict per launch; keys as ``device.RECORD_FIELDS``, ``start_s`` from entry.

        Example:
            >>> with profile() as prof:
            ...     pass
            >>> prof.records
            []
        """
        t0 = self._t0 or 0.0
        out = []
        for rec in list(self._raw):
            row = dict(zip(core.RECORD_FIELDS, rec))
            row["start_s"] = rec[0] - t0
            out.append(row)
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """Return the launches as a pandas DataFrame (one row per launch).

        Example:
            >>> list(profile().to_dataframe().columns)[:3]
            ['start_s', 'device', 'op']
        """
        import pandas as pd

        frame = pd.DataFrame(self.records, columns=list(core.RECORD_FIELDS))
        frame["shapes"] = frame["shapes"].map(str)
        return frame.astype(
            {"flops": "int64", "bytes": "int64", "cpu_time_s": "float64", "npu_time_s": "float64"}
        )

    def to_xarray(self) -> xr.Dataset:
        """Return the launches as an xarray Dataset with dimension ``"launch"``.

        Variables: ``op``, ``device``, ``unit``, ``dtype``, ``shapes`` (str), ``flops``,
        ``bytes``, ``cpu_time_s``, ``npu_time_s``, ``start_s`` (seconds from entry).

        Example:
            >>> profile().to_xarray().sizes["launch"]
            0
        """
        import numpy as np
        import xarray as xr

        frame = self.to_dataframe()
        data = {}
        for name in ("op", "device", "unit", "dtype", "shapes"):
            data[name] = ("launch", frame[name].to_numpy(dtype=str))
        for name in ("flops", "bytes", "cpu_time_s", "npu_time_s", "start_s"):
            data[name] = ("launch", frame[name].to_numpy())
        units = {"cpu_time_s": "s", "npu_time_s": "s", "start_s": "s", "bytes": "B"}
        ds = xr.Dataset(data, coords={"launch": np.arange(len(frame))})
        for name, unit in units.items():
            ds[name].attrs["units"] = unit
        ds["npu_time_s"].attrs["long_name"] = "estimated NPU time (roofline model)"
        ds["cpu_time_s"].attrs["long_name"] = "measured CPU kernel time"
        ds.attrs["wall_s"] = self.wall_s
        ds.attrs["chip_profiles"] = ", ".join(
            f"{name}={prof}" for name, prof in _chip_profiles(set(frame["device"])).items()
        )
        return ds

    # -- summaries ----------------------------------------------------------------------

    def summary(self, sort_by: str = "cpu_time_s", top: int | None = 20) -> pd.DataFrame:
        """Per-op totals, sorted descending, as a DataFrame indexed by op.

        Columns: ``unit``, ``calls``, ``cpu_time_s`` (measured), ``npu_time_s``
        (estimated), ``flops``, ``bytes``, ``cpu_gflops`` (achieved on the CPU),
        ``npu_gflops`` (at the estimated time), ``cpu_pct`` (share of measured time).

        Args:
            sort_by: A column name to sort by (descending).
            top: Keep the first ``top`` ops; ``None`` keeps all.

        Raises:
            ValueRangeError: if ``sort_by`` is not a column.

        Example:
            >>> list(profile().summary().columns) == list(SUMMARY_COLUMNS)
            True
        """
        import pandas as pd

        if sort_by not in SUMMARY_COLUMNS and sort_by != "op":
            raise ValueRangeError(
                f"For 'Profile.summary', 'sort_by' must be one of "
                f"{['op', *SUMMARY_COLUMNS]}, but got {sort_by!r}."
            )
        frame = self.to_dataframe()
        if frame.empty:
            return pd.DataFrame(columns=list(SUMMARY_COLUMNS), index=pd.Index([], name="op"))
        grouped = frame.groupby("op", sort=False).agg(
            unit=("unit", "first"),
            calls=("op", "size"),
            cpu_time_s=("cpu_time_s", "sum"),
            npu_time_s=("npu_time_s", "sum"),
            flops=("flops", "sum"),
            bytes=("bytes", "sum"),
        )
        cpu = grouped["cpu_time_s"].where(grouped["cpu_time_s"] > 0)
        npu = grouped["npu_time_s"].where(grouped["npu_time_s"] > 0)
        grouped["cpu_gflops"] = (grouped["flops"] / cpu / 1e9).fillna(0.0)
        grouped["npu_gflops"] = (grouped["flops"] / npu / 1e9).fillna(0.0)
        total = grouped["cpu_time_s"].sum()
        grouped["cpu_pct"] = 100.0 * grouped["cpu_time_s"] / total if total > 0 else 0.0
        if sort_by == "op":
            grouped = grouped.sort_index()
        else:
            grouped = grouped.sort_values(sort_by, ascending=False, kind="stable")
        return grouped if top is None else grouped.head(top)

    def table(self, sort_by: str = "cpu_time_s", top: int | None = 20) -> str:
        """Return the summary as a readable text table with a totals line.

        Example:
            >>> print(profile().table())  # doctest: +ELLIPSIS
            profile: 0 launches ...
        """
        frame = self.summary(sort_by=sort_by, top=top)
        head = self._headline()
        if frame.empty:
            return head + "\n(no kernel launches)"
        columns = {  # header: (values, format)
            "unit": (frame["unit"], "{}"),
            "calls": (frame["calls"], "{:,}"),
            "CPU ms": (frame["cpu_time_s"] * 1e3, "{:,.3f}"),
            "NPU ms (est)": (frame["npu_time_s"] * 1e3, "{:,.4f}"),
            "CPU %": (frame["cpu_pct"], "{:.1f}"),
            "MFLOP": (frame["flops"] / 1e6, "{:,.3f}"),
            "MB": (frame["bytes"] / 1e6, "{:,.3f}"),
            "CPU GFLOP/s": (frame["cpu_gflops"], "{:,.2f}"),
            "NPU GFLOP/s (est)": (frame["npu_gflops"], "{:,.1f}"),
        }
        shown = frame[[]].assign(**{h: v.map(f.format) for h, (v, f) in columns.items()})
        body = shown.to_string()
        return f"{head}\n{body}"

    def _headline(self) -> str:
        raw = list(self._raw)
        cpu = sum(r[8] for r in raw)
        npu = sum(r[9] for r in raw)
        profiles = _chip_profiles({r[1] for r in raw})
        chips = ", ".join(f"{d}: {p}" for d, p in profiles.items()) or "no devices"
        return (
            f"profile: {len(raw)} launches in {self.wall_s * 1e3:,.3f} ms wall; "
            f"CPU kernels {cpu * 1e3:,.3f} ms measured; NPU {npu * 1e3:,.3f} ms estimated "
            f"({chips})"
        )

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Profile: {len(self._raw)} launches, {self.wall_s * 1e3:.1f} ms wall>"

    def _repr_html_(self) -> str:
        import html

        frame = self.summary()
        body = (
            "<p>(no kernel launches)</p>"
            if frame.empty
            else frame.to_html(float_format=lambda v: f"{v:.4g}")
        )
        return f"<div><p><b>{html.escape(self._headline())}</b></p>{body}</div>"


def _chip_profiles(names: set[str]) -> dict[str, str]:
    found = {}
    for name in sorted(names):
        try:
            found[name] = core.get(name).profile.name
        except DeviceError:  # removed by set_num_devices since the launch
            found[name] = "?"
    return found


def profile() -> Profile:
    """Return a new :class:`Profile`; used as a context manager, it records the block.

    Profiles nest: each one sees the launches made while it is active.

    Example:
        >>> from npukernel import device
        >>> with profile() as outer:
        ...     with profile() as inner:
        ...         device.get("cpu").record_launch("add", ((4,), (4,)), "float32",
        ...                                         4, 48, "vector", 1e-7)
        >>> len(outer), len(inner)
        (1, 1)
    """
    return Profile()
