"""``History``: the run's curves as an ``xarray.Dataset`` (loss, lr, throughput, metrics).

``Model`` always records one, so after ``model.train(...)`` the curves are on
``model.history``::

    <xarray.Dataset>
    Dimensions:           (step: 375, epoch: 3)
    Coordinates:
      * step              (step) int32 1 2 3 ... 375
      * epoch             (epoch) int32 1 2 3
    Data variables:
        loss              (step) float64 ...     training loss of each step
        lr                (step) float64 ...     learning rate used by each step
        step_time         (step) float64 ...     seconds in the train step
        throughput        (step) float64 ...     samples per second of the step
        step_epoch        (step) int32 ...       the epoch each step belongs to
        epoch_loss        (epoch) float64 ...    mean training loss of the epoch
        epoch_time        (epoch) float64 ...    wall time of the epoch
        epoch_throughput  (epoch) float64 ...    samples per second over the epoch
        eval_accuracy     (epoch) float64 ...    validation metrics (``fit``), NaN if none

Example:
    >>> from npukernel.train import History
    >>> h = History()
    >>> h.to_xarray().sizes["step"]
    0
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from npukernel.train.callback._callback import Callback, RunContext

if TYPE_CHECKING:
    import xarray as xr

_STEP_VARS = ("loss", "lr", "step_time", "throughput")
_EPOCH_VARS = ("epoch_loss", "epoch_time", "epoch_throughput")


def _float(value: Any) -> float:
    if value is None:
        return float("nan")
    if hasattr(value, "asnumpy"):
        value = value.asnumpy()
    arr = np.asarray(value, dtype=np.float64)
    return float(arr.reshape(-1)[0]) if arr.size else float("nan")


def _var_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class RunRecord:
    """Collects per-step and per-epoch values from ``cb_params`` (History's storage).

    Args:
        every: Record every this many global steps.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = max(int(every), 1)
        self.attrs: dict[str, Any] = {}
        self.clear()

    def clear(self) -> None:
        """Forget everything recorded."""
        self.steps: dict[str, list] = {k: [] for k in ("step", "step_epoch", *_STEP_VARS)}
        self.epochs: dict[str, list] = {k: [] for k in ("epoch", *_EPOCH_VARS)}
        self.evals: list[dict[str, Any]] = []

    def begin(self, cb: Any) -> None:
        """Note what the run is (stored as attributes)."""
        self.attrs.update(
            created=time.strftime("%Y-%m-%dT%H:%M:%S"),
            network=type(cb.get("network")).__name__,
            optimizer=type(cb.get("optimizer")).__name__,
            loss_fn=type(cb.get("loss_fn")).__name__,
            epoch_num=int(cb.get("epoch_num") or 0),
            batch_num=int(cb.get("batch_num") or -1),
        )

    def step(self, cb: Any) -> None:
        """Record the step just finished."""
        if cb.cur_step_num % self.every:
            return
        s = self.steps
        s["step"].append(int(cb.cur_step_num))
        s["step_epoch"].append(int(cb.cur_epoch_num))
        s["loss"].append(_float(cb.get("loss")))
        s["lr"].append(_float(cb.get("learning_rate")))
        s["step_time"].append(_float(cb.get("step_time")))
        s["throughput"].append(_float(cb.get("throughput")))

    def epoch(self, cb: Any) -> None:
        """Record the epoch just finished (with validation results, if any)."""
        e = self.epochs
        e["epoch"].append(int(cb.cur_epoch_num))
        for key in _EPOCH_VARS:
            e[key].append(_float(cb.get(key)))
        self.evals.append(dict(cb.get("eval_results") or {}))

    def to_xarray(self) -> xr.Dataset:
        """The record as an ``xarray.Dataset`` with dimensions ``step`` and ``epoch``."""
        import xarray as xr

        s, e = self.steps, self.epochs
        data: dict[str, Any] = {
            "step_epoch": ("step", np.asarray(s["step_epoch"], np.int32)),
            **{k: ("step", np.asarray(s[k], np.float64)) for k in _STEP_VARS},
            **{k: ("epoch", np.asarray(e[k], np.float64)) for k in _EPOCH_VARS},
        }
        names = sorted({k for ev in self.evals for k in ev})
        for name in names:
            values = [ev.get(name) for ev in self.evals]
            sample = next(np.asarray(v.asnumpy() if hasattr(v, "asnumpy") else v)
                          for v in values if v is not None)  # fmt: skip
            if sample.dtype.kind not in "biuf":
                continue
            var = _var_name(name if name.startswith("eval_") else f"eval_{name}")
            stacked = np.full((len(values), *sample.shape), np.nan)
            for i, v in enumerate(values):
                if v is not None:
                    stacked[i] = np.asarray(v.asnumpy() if hasattr(v, "asnumpy") else v, float)
            dims = ("epoch", *(f"{var}_dim_{i}" for i in range(sample.ndim)))
            data[var] = (dims, stacked)
        coords = {
            "step": np.asarray(s["step"], np.int32),
            "epoch": np.asarray(e["epoch"], np.int32),
        }
        ds = xr.Dataset(data, coords=coords, attrs=dict(self.attrs))
        units = {"step_time": "s", "epoch_time": "s", "throughput": "samples/s",
                 "epoch_throughput": "samples/s"}  # fmt: skip
        for key, unit in units.items():
            ds[key].attrs["units"] = unit
        return ds

    def to_netcdf(self, path: str | os.PathLike) -> str:
        """Write :meth:`to_xarray` to a netCDF file atomically; return the path."""
        from npukernel.serialization import atomic_write

        path = os.fspath(path)
        blob = self.to_xarray().to_netcdf(None, engine="scipy")
        atomic_write(path, lambda f: f.write(bytes(blob)))
        return path


class History(Callback):
    """Record the run's curves (MindSpore's ``History``, plus an xarray view).

    MindSpore's attributes are kept: ``epoch`` (epoch numbers) and ``history``
    (``{"net_output": [...], <metric>: [...]}`` per epoch). :meth:`to_xarray` gives
    everything per step and per epoch.

    Example:
        >>> h = History()
        >>> h.epoch, h.history
        ([], {})
    """

    def __init__(self) -> None:
        self.record = RunRecord()
        self.epoch: list[int] = []
        self.history: dict[str, list[Any]] = {}

    def on_train_begin(self, run_context: RunContext) -> None:
        """Start a new record."""
        self.record.clear()
        self.record.begin(run_context.original_args())
        self.epoch = []
        self.history = {}

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Record the step."""
        self.record.step(run_context.original_args())

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Record the epoch and its validation results."""
        cb = run_context.original_args()
        self.record.epoch(cb)
        self.epoch.append(int(cb.cur_epoch_num))
        self.history.setdefault("net_output", []).append(cb.get("loss"))
        for key, value in (cb.get("eval_results") or {}).items():
            self.history.setdefault(key, []).append(value)

    def to_xarray(self) -> xr.Dataset:
        """The curves as an ``xarray.Dataset`` (see the module docstring)."""
        return self.record.to_xarray()

    def to_netcdf(self, path: str | os.PathLike) -> str:
        """Write the curves to a netCDF file (atomically); return the path.

        Example:
            >>> import tempfile, os, xarray as xr
            >>> p = History().to_netcdf(os.path.join(tempfile.mkdtemp(), "run.nc"))
            >>> sorted(xr.open_dataset(p).sizes)
            ['epoch', 'step']
        """
        return self.record.to_netcdf(path)
