"""TrainingMonitor through its traitlets (dummy comm), by hand and as a Model callback."""

import math
import time

import numpy as np
import pytest

pytest.importorskip("anywidget")

from npukernel.notebook import TrainingMonitor  # noqa: E402
from npukernel.notebook.curves import Curves, thin  # noqa: E402
from tests.train.helpers import blob_dataset, make_model  # noqa: E402


class Recorder:
    """A display handle stand-in: remembers what the monitor displayed and updated."""

    def __init__(self):
        self.bundles = []

    def update(self, bundle, raw=False):
        self.bundles.append(bundle)


def test_by_hand_history_is_xarray():
    mon = TrainingMonitor(total_steps=20, png=False)
    for step in range(1, 21):
        mon.add_step(step, loss=1.0 / step, lr=0.1, throughput=100.0)
        if step % 10 == 0:
            mon.add_epoch(step // 10, total=2, loss=0.5, eval_accuracy=0.4 + step / 100)
    mon.finish()
    ds = mon.history
    assert dict(ds.sizes) == {"step": 20, "epoch": 2}
    assert ds["loss"].values[-1] == pytest.approx(0.05)
    assert list(ds["eval_accuracy"].values) == pytest.approx([0.5, 0.6])
    assert list(ds["epoch_step"].values) == [10, 20]
    assert ds.attrs["status"] == "done"


def test_updates_are_throttled_however_fast_the_steps():
    mon = TrainingMonitor(min_interval_s=0.2, png=False)
    started = time.perf_counter()
    for step in range(1, 5001):
        mon.add_step(step, loss=1.0)
    elapsed = time.perf_counter() - started
    assert mon.view.updates <= elapsed / 0.2 + 2
    mon.flush()
    assert mon.view.series["loss"][0][-1] == 5000  # the newest point is always sent
    assert len(mon.view.series["loss"][0]) <= 500  # thinned for the browser
    assert mon.history.sizes["step"] == 5000  # ... but all kept


def test_json_safe_stats():
    mon = TrainingMonitor(png=False)
    mon.add_step(1, loss=float("nan"))
    mon.flush()
    assert mon.view.stats["loss"] is None
    assert mon.view.series["loss"][1] == [None]
    assert mon.view.stats["device"] == "npu:0"


def test_as_a_model_callback_with_validation(monkeypatch):
    model, _, _ = make_model(seed=0)
    mon = TrainingMonitor(title="blobs", min_interval_s=0.0)
    shown = Recorder()
    monkeypatch.setattr(mon, "show", lambda: setattr(mon, "_handle", shown))
    model.fit(2, blob_dataset(n=64, batch=16), blob_dataset(n=32, batch=16, shuffle=False),
              callbacks=[mon])  # fmt: skip
    ds = mon.history
    assert ds.sizes["step"] == 8 and ds.sizes["epoch"] == 2
    assert np.isfinite(ds["loss"]).all() and np.isfinite(ds["lr"]).all()
    assert "eval_accuracy" in ds and "eval_loss" in ds
    stats = mon.view.stats
    assert stats["status"] == "done" and stats["epoch"] == 2 and stats["epochs"] == 2
    assert stats["step"] == 8 and stats["total_steps"] == 8
    assert stats["memory_used"] > 0 and stats["memory_total"] == 32 * 2**30
    assert set(mon.view.series["metrics"]) >= {"accuracy"}
    # The saved notebook keeps a static image of the final curves.
    final = shown.bundles[-1]
    assert final["image/png"] and "application/vnd.jupyter.widget-view+json" in final


def test_interrupt_is_reported_with_the_checkpoint(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    model, _, _ = make_model(seed=0)
    mon = TrainingMonitor(png=False)
    monkeypatch.setattr(mon, "show", lambda: None)

    from npukernel.train import LambdaCallback

    def interrupt(ctx):
        if ctx.original_args().cur_step_num == 2:
            raise KeyboardInterrupt  # what a kernel interrupt raises between steps

    model.train(3, blob_dataset(n=64, batch=16),
                callbacks=[mon, LambdaCallback(on_train_step_end=interrupt)])  # fmt: skip
    assert mon.status == "interrupted"
    assert mon.view.stats["status"] == "interrupted"
    assert mon.checkpoint and mon.view.stats["checkpoint"] == mon.checkpoint


def test_thin_keeps_ends():
    xs, ys = thin(list(range(1000)), [float(i) for i in range(1000)], 7)
    assert xs[0] == 0 and xs[-1] == 999 and len(xs) <= 7


def test_curves_reject_unknown_step_values():
    with pytest.raises(ValueError, match="add_step"):
        Curves().add_step(1, accuracy=0.5)


def test_png_of_final_curves():
    from npukernel.notebook.monitor_png import curves_png

    c = Curves()
    for s in range(1, 30):
        c.add_step(s, loss=math.exp(-s / 10))
    c.add_epoch(1, step=29, loss=0.3, eval_loss=0.35, eval_accuracy=0.9)
    png = curves_png(c, title="t")
    assert png.startswith(b"\x89PNG") and len(png) > 2000
