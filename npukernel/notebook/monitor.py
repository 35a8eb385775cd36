"""``TrainingMonitor``: live training curves in the notebook, as a ``Model.train`` callback.

::

    monitor = TrainingMonitor()
    model.fit(5, train_ds, valid_ds, callbacks=[monitor])   # the widget appears here
    monitor.history                                          # xarray.Dataset of the run

What it shows, updated in place (no ``clear_output`` flicker) at most ``1 / min_interval_s``
times a second however fast the steps are: train loss per step and validation loss per
epoch, validation metrics, learning rate, throughput, ETA, and the device's memory and
utilisation. **Stopping** is a kernel interrupt (■ in JupyterLab): ``Model.train`` turns it
into a checkpoint and a clean return (a button would not work: a click on a widget is
not delivered while its cell is still running). When the run ends, the output also gets
a static PNG of the final curves, so a saved notebook shows them without a kernel.

By hand, without ``Model``: ``monitor.add_step(step, loss=..)``, ``monitor.add_epoch(..)``.

Example:
    >>> monitor = TrainingMonitor(total_steps=10)
    >>> for step in range(1, 11):
    ...     monitor.add_step(step, loss=1.0 / step)
    >>> monitor.flush(); monitor.history.sizes["step"]
    10
"""

from __future__ import annotations

import base64
import math
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from npukernel import device
from npukernel.notebook.curves import Curves, as_float, thin
from npukernel.train import Callback, RunContext

#: Most points per curve sent to the browser (the full run stays in ``history``).
MAX_POINTS = 500


def _finite(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]  # JSON has no NaN


class MonitorView(anywidget.AnyWidget):
    """The browser side of :class:`TrainingMonitor`: curves and a line of figures."""

    _esm = Path(__file__).with_name("static") / "monitor.js"
    _css = Path(__file__).with_name("static") / "widgets.css"

    title = traitlets.Unicode("Training").tag(sync=True)
    series = traitlets.Dict({}).tag(sync=True)
    stats = traitlets.Dict({}).tag(sync=True)
    updates = traitlets.Int(0).tag(sync=True)


class TrainingMonitor(Callback):
    """Live loss/metric curves, learning rate, throughput, ETA and device use.

    Args:
        title: Shown above the curves.
        min_interval_s: Least time between two browser updates (0.25: 4 per second).
        total_steps: Steps of the whole run for the ETA, when used by hand (``Model``
            provides ``epoch_num * batch_num``).
        png: Attach a static PNG of the final curves to the output when the run ends.

    Attributes:
        view: The widget (an anywidget); the monitor displays it on first use.
        curves: Everything recorded (:class:`~npukernel.notebook.curves.Curves`).

    Example:
        >>> monitor = TrainingMonitor(title="LeNet-5", min_interval_s=0.5)
        >>> monitor.view.title
        'LeNet-5'
    """

    def __init__(
        self,
        title: str = "Training",
        min_interval_s: float = 0.25,
        total_steps: int | None = None,
        png: bool = True,
    ) -> None:
        self.view = MonitorView(title=title)
        self.min_interval_s = float(min_interval_s)
        self.total_steps = total_steps
        self.png = png
        self.curves = Curves()
        self.status = "ready"
        self.checkpoint: str | None = None
        self._epoch = (0, 0)  # current, total
        self._t0: float | None = None
        self._last_push = -math.inf
        self._dirty = False
        self._handle: Any = None

    # -- display ---------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        self.show()

    def show(self) -> None:
        """Display the widget (once; later calls do nothing)."""
        if self._handle is None:
            from IPython.display import display

            self._handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict[str, Any]:
        data = self.view._repr_mimebundle_()
        data = data[0] if isinstance(data, tuple) else dict(data or {})
        data["text/plain"] = f"TrainingMonitor({self.view.title!r}, {self.status})"
        return data

    # -- by hand ---------------------------------------------------------------------------

    def add_step(self, step: int, **values: Any) -> None:
        """Record a step (``loss``, ``lr``, ``step_time``, ``throughput``); maybe redraw."""
        if self._t0 is None:
            self._t0 = time.perf_counter()
            self.status = "running"
        self.curves.add_step(step, **values)
        self._dirty = True
        self._maybe_push()

    def add_epoch(self, epoch: int, total: int | None = None, **values: Any) -> None:
        """Record an epoch (``loss``, ``eval_<metric>`` ...) and redraw."""
        self.curves.add_epoch(epoch, **values)
        self._epoch = (int(epoch), int(total or self._epoch[1]))
        self._dirty = True
        self.flush()

    def flush(self) -> None:
        """Send what is recorded to the browser now."""
        self._push()

    @property
    def history(self) -> Any:
        """The run as an ``xarray.Dataset`` (dimensions ``step`` and ``epoch``)."""
        ds = self.curves.to_xarray()
        ds.attrs.update(title=self.view.title, status=self.status)
        if self.checkpoint:
            ds.attrs["checkpoint"] = self.checkpoint
        return ds

    # -- Model.train hooks -------------------------------------------------------------------

    def on_train_begin(self, run_context: RunContext) -> None:
        """Reset, learn the run's size, and show the widget."""
        cb = run_context.original_args()
        epochs, batches = cb.get("epoch_num") or 0, cb.get("batch_num")
        self.total_steps = int(epochs * batches) if epochs and batches else self.total_steps
        self.curves = Curves()
        self._epoch = (int(cb.get("initial_epoch") or 0), int(epochs))
        self._t0 = time.perf_counter()
        self.status = "running"
        self.checkpoint = None
        self.show()
        self.flush()

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Record the step; redraw if ``min_interval_s`` has passed."""
        cb = run_context.original_args()
        self._epoch = (int(cb.get("cur_epoch_num") or 0), self._epoch[1])
        self.add_step(
            int(cb.cur_step_num),
            loss=cb.get("loss"),
            lr=cb.get("learning_rate"),
            step_time=cb.get("step_time"),
            throughput=cb.get("throughput"),
        )

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Record the epoch's mean loss and validation results; redraw."""
        cb = run_context.original_args()
        values = {"loss": cb.get("epoch_loss")}
        for key, value in (cb.get("eval_results") or {}).items():
            name = key if key.startswith("eval_") else f"eval_{key}"
            if math.isfinite(as_float(value)):
                values[name] = value
        self.add_epoch(int(cb.cur_epoch_num), step=int(cb.cur_step_num), **values)

    def on_train_end(self, run_context: RunContext) -> None:
        """Final redraw; note an interrupt and its checkpoint; attach the static PNG."""
        cb = run_context.original_args()
        if cb.get("interrupted"):
            self.status = "interrupted"
            self.checkpoint = cb.get("last_checkpoint")
        else:
            self.status = "done"
        self.finish()

    def finish(self) -> None:
        """Mark the run finished (by hand: call it at the end) and attach the PNG."""
        if self.status == "running":
            self.status = "done"
        self.flush()
        if self.png and self._handle is not None and self.curves.step:
            from npukernel.notebook.monitor_png import curves_png

            png = curves_png(self.curves, title=self._summary())
            self._handle.update({**self._bundle(), "image/png": base64.b64encode(png).decode()},
                                raw=True)  # fmt: skip

    # -- sending -----------------------------------------------------------------------------

    def _maybe_push(self) -> None:
        if time.perf_counter() - self._last_push >= self.min_interval_s:
            self._push()

    def _push(self) -> None:
        c = self.curves
        series: dict[str, Any] = {}
        for key in ("loss", "lr"):
            xs, ys = thin(c.step, c.values[key], MAX_POINTS)
            series[key] = [xs, _finite(ys)]
        metrics = {}
        for key, column in c.epoch_values.items():
            if key == "eval_loss":
                series["eval_loss"] = [list(c.epoch_step), _finite(column)]
            elif key.startswith("eval_"):
                metrics[key.removeprefix("eval_")] = [list(c.epoch), _finite(column)]
        series["metrics"] = metrics
        with self.view.hold_sync():
            self.view.series = series
            self.view.stats = self._stats()
            self.view.updates += 1
        self._last_push = time.perf_counter()
        self._dirty = False

    def _stats(self) -> dict[str, Any]:
        c = self.curves
        step = c.step[-1] if c.step else 0
        elapsed = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        times = [t for t in c.values["step_time"][-50:] if math.isfinite(t)]
        per_step = sum(times) / len(times) if times else (elapsed / step if step else math.nan)
        eta = (self.total_steps - step) * per_step if self.total_steps and step else math.nan
        thr = [t for t in c.values["throughput"][-20:] if math.isfinite(t)]
        dev = device.default()
        use = dev.usage(interval_s=1.0, top=0)
        stats = {
            "status": self.status,
            "epoch": self._epoch[0],
            "epochs": self._epoch[1],
            "step": step,
            "total_steps": self.total_steps or 0,
            "loss": c.last("loss"),
            "lr": c.last("lr"),
            "throughput": sum(thr) / len(thr) if thr else math.nan,
            "elapsed_s": elapsed,
            "eta_s": max(eta, 0.0) if self.status == "running" else 0.0,
            "device": dev.name,
            "memory_used": use["memory"]["used"],
            "memory_total": use["memory"]["total"],
            "utilization": use["utilization"],
            "checkpoint": self.checkpoint or "",
        }
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in stats.items()}  # fmt: skip

    def _summary(self) -> str:
        s = self.view.stats
        loss = s.get("loss")
        loss_text = f"loss {loss:.4f}" if isinstance(loss, float) else ""
        return (f"{self.view.title}: {self.status}, epoch {s.get('epoch')}/{s.get('epochs')}, "
                f"step {s.get('step')}, {loss_text}, {s.get('elapsed_s', 0):.1f} s")  # fmt: skip
