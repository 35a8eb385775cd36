"""The curves a training monitor keeps: per-step and per-epoch values, as lists.

Kept apart from the widget (no Jupyter imports) so the bookkeeping, the throttling and
the xarray export can be tested alone.

Example:
    >>> c = Curves()
    >>> c.add_step(1, loss=2.3, lr=0.01)
    >>> c.add_epoch(1, step=1, loss=2.3, eval_accuracy=0.5)
    >>> ds = c.to_xarray()
    >>> ds.sizes["step"], float(ds["eval_accuracy"][0])
    (1, 0.5)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

#: Per-step variables (dimension ``step``).
STEP_VARS: tuple[str, ...] = ("loss", "lr", "step_time", "throughput")


def as_float(value: Any) -> float:
    """A loss or metric (float, numpy value, Tensor, None) as a Python float (NaN if none).

    Example:
        >>> as_float(None), as_float(np.float32(0.5))
        (nan, 0.5)
    """
    if value is None:
        return math.nan
    if hasattr(value, "asnumpy"):
        value = value.asnumpy()
    arr = np.asarray(value, dtype=np.float64)
    return float(arr.reshape(-1)[0]) if arr.size else math.nan


def thin(xs: list[float], ys: list[float], most: int) -> tuple[list[float], list[float]]:
    """Keep at most ``most`` points, evenly spaced, always with the newest one.

    Example:
        >>> thin(list(range(10)), list(range(10)), 4)
        ([0, 3, 6, 9], [0, 3, 6, 9])
    """
    n = len(xs)
    if n <= most:
        return list(xs), list(ys)
    idx = np.unique(np.linspace(0, n - 1, most).round().astype(int))
    return [xs[i] for i in idx], [ys[i] for i in idx]


class Curves:
    """Per-step losses and rates and per-epoch losses and metrics of one run."""

    def __init__(self) -> None:
        self.step: list[int] = []
        self.values: dict[str, list[float]] = {k: [] for k in STEP_VARS}
        self.epoch: list[int] = []
        self.epoch_step: list[int] = []  # the global step each epoch ended at
        self.epoch_values: dict[str, list[float]] = {}

    def add_step(self, step: int, **values: Any) -> None:
        """Record one step: ``loss``, ``lr``, ``step_time``, ``throughput`` (any subset)."""
        unknown = set(values) - set(STEP_VARS)
        if unknown:
            raise ValueError(
                f"For 'add_step', values must be among {list(STEP_VARS)}, but got {sorted(unknown)}."
            )
        self.step.append(int(step))
        for key in STEP_VARS:
            self.values[key].append(as_float(values.get(key)))

    def add_epoch(self, epoch: int, step: int | None = None, **values: Any) -> None:
        """Record one epoch: ``loss`` (mean training loss) and any ``eval_<metric>``."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        self.epoch_step.append(
            int(step if step is not None else (self.step[-1] if self.step else 0))
        )
        for key, value in values.items():
            column = self.epoch_values.setdefault(key, [math.nan] * n)
            column.append(as_float(value))
        for column in self.epoch_values.values():
            if len(column) < n + 1:
                column.append(math.nan)

    def last(self, key: str) -> float:
        """The newest finite per-step value of ``key`` (NaN if none)."""
        for value in reversed(self.values.get(key, [])):
            if math.isfinite(value):
                return value
        return math.nan

    def to_xarray(self) -> xr.Dataset:
        """The run as an ``xarray.Dataset`` with dimensions ``step`` and ``epoch``.

        Variables: ``loss``, ``lr``, ``step_time``, ``throughput`` (per step) and
        ``epoch_<name>`` / ``eval_<name>`` (per epoch), ``epoch_step``.
        """
        import xarray as xr

        data: dict[str, Any] = {
            k: ("step", np.asarray(v, np.float64)) for k, v in self.values.items()
        }
        data["epoch_step"] = ("epoch", np.asarray(self.epoch_step, np.int64))
        for key, column in self.epoch_values.items():
            name = key if key.startswith(("eval_", "epoch_")) else f"epoch_{key}"
            data[name] = ("epoch", np.asarray(column, np.float64))
        coords = {
            "step": np.asarray(self.step, np.int64),
            "epoch": np.asarray(self.epoch, np.int64),
        }
        ds = xr.Dataset(data, coords=coords)
        ds["step_time"].attrs["units"] = "s"
        ds["throughput"].attrs["units"] = "samples/s"
        return ds
