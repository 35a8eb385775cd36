import numpy as np
import pytest

import npukernel as npk
from npukernel import nn
from npukernel.train import (
    Accuracy,
    Callback,
    LambdaCallback,
    LearningRateScheduler,
    LossMonitor,
    Model,
    ProgressBar,
    TimeMonitor,
)
from tests.train.helpers import blob_dataset, blobs, make_model, param_values


def test_train_eval_predict_on_a_dataset():
    model, net, _ = make_model()
    ds = blob_dataset()
    before = model.eval(ds)
    model.train(3, ds)
    after = model.eval(ds)
    assert set(after) == {"accuracy", "loss"}
    assert after["loss"] < before["loss"]
    assert after["accuracy"] > 0.9
    x, _ = blobs(5)
    out = model.predict(npk.Tensor(x))
    assert out.shape == (5, 3)
    assert model.predict(x).shape == (5, 3)  # numpy input is converted


def test_plain_iterables_and_metric_objects():
    model, net, opt = make_model(metrics=None)
    x, y = blobs(64)
    data = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model.train(2, data)
    model2 = Model(net, nn.SoftmaxCrossEntropyWithLogits(True, "mean"), opt,
                   metrics={"Accuracy": Accuracy()})  # fmt: skip
    assert 0 <= model2.eval(data)["Accuracy"] <= 1
    with pytest.raises(ValueError, match="metrics"):
        model.eval(data)
    with pytest.raises(ValueError, match="no batches"):
        model.train(2, iter(data))  # a one-shot iterator runs dry after epoch 1


def test_model_of_a_train_cell():
    npk.set_seed(0)
    net = nn.Dense(4, 3)
    opt = nn.SGD(net.trainable_params(), 0.1)
    step = nn.TrainOneStepCell(
        nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(True, "mean")), opt
    )
    model = Model(step)
    model.train(1, blob_dataset())
    assert model.history.sizes["step"] == 6
    assert int(opt.global_step.asnumpy().reshape(-1)[0]) == 6


def test_bad_arguments():
    model, _, _ = make_model()
    with pytest.raises(ValueError):
        model.train(0, blob_dataset())
    with pytest.raises(ValueError):
        model.train(2, blob_dataset(), initial_epoch=2)
    with pytest.raises(TypeError):
        model.train(1, 42)
    with pytest.raises(ValueError, match="optimizer"):
        Model(nn.Dense(4, 3), nn.MSELoss()).train(1, blob_dataset())
    with pytest.raises(ValueError, match="amp_level"):
        Model(nn.Dense(4, 3), amp_level="O9")
    with pytest.raises(TypeError, match="unexpected"):
        Model(nn.Dense(4, 3), colour="red")


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            calls = object.__getattribute__(self, "calls")
            return lambda ctx: calls.append((name, ctx.original_args().cur_step_num))
        return object.__getattribute__(self, name)


def test_callback_order_in_fit():
    model, _, _ = make_model()
    rec = Recorder()
    model.fit(2, blob_dataset(n=32), blob_dataset(n=16, shuffle=False), callbacks=[rec])
    names = [n for n, _ in rec.calls]
    train_epoch = ["on_train_epoch_begin", "on_train_step_begin", "on_train_step_end",
                   "on_train_step_begin", "on_train_step_end"]  # fmt: skip
    evaluation = ["on_eval_begin", "on_eval_epoch_begin", "on_eval_step_begin",
                  "on_eval_step_end", "on_eval_epoch_end", "on_eval_end"]  # fmt: skip
    expected = ["on_train_begin", *train_epoch, *evaluation, "on_train_epoch_end",
                *train_epoch, *evaluation, "on_train_epoch_end", "on_train_end"]  # fmt: skip
    assert names == expected
    assert [s for n, s in rec.calls if n == "on_train_step_end"] == [1, 2, 3, 4]


def test_legacy_hooks_and_run_context():
    seen = []

    class Legacy(Callback):
        def begin(self, ctx):
            seen.append("begin")

        def step_end(self, ctx):
            cb = ctx.original_args()
            seen.append((cb.cur_epoch_num, cb.cur_step_in_epoch, cb.batch_num, cb.mode))
            assert cb.train_network is not None and cb.optimizer is not None
            assert isinstance(cb.loss, float) and cb.learning_rate == pytest.approx(0.1)
            assert cb.batch_size == 16 and cb.step_time > 0 and cb.throughput > 0

        def end(self, ctx):
            seen.append("end")

    model, _, _ = make_model()
    model.train(1, blob_dataset(n=32), callbacks=Legacy())
    assert seen == ["begin", (1, 1, 2, "train"), (1, 2, 2, "train"), "end"]


def test_request_stop_and_lambda_callback():
    model, _, _ = make_model()
    stopper = LambdaCallback(
        on_train_step_end=lambda ctx: (
            ctx.request_stop() if ctx.original_args().cur_step_num == 3 else None
        )
    )
    model.train(5, blob_dataset(), callbacks=[stopper])
    assert model.history.sizes["step"] == 3
    assert list(model.history.epoch.values) == [1]  # epoch end still runs, as in MindSpore


def test_history_dataset_and_netcdf(tmp_path):
    import xarray as xr

    model, _, _ = make_model()
    losses = []
    cb = LambdaCallback(on_train_step_end=lambda ctx: losses.append(ctx.original_args().loss))
    model.fit(2, blob_dataset(n=48), blob_dataset(n=32, shuffle=False), callbacks=[cb])
    h = model.history
    assert isinstance(h, xr.Dataset)
    assert dict(h.sizes) == {"step": 6, "epoch": 2}
    np.testing.assert_array_equal(h.loss.values, losses)
    np.testing.assert_allclose(h.lr.values, 0.1)
    assert (h.throughput > 0).all() and (h.step_time > 0).all()
    np.testing.assert_array_equal(h.step_epoch.values, [1, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(h.epoch_loss.values, [np.mean(losses[:3]), np.mean(losses[3:])])
    assert {"eval_accuracy", "eval_loss"} <= set(h.data_vars)
    assert h.attrs["optimizer"] == "Momentum"
    from npukernel.train import History

    hist = History()
    model.train(1, blob_dataset(n=32), callbacks=[hist])
    path = hist.to_netcdf(tmp_path / "run.nc")
    back = xr.load_dataset(path)
    np.testing.assert_array_equal(back.loss.values, model.history.loss.values)
    assert hist.epoch == [1] and len(hist.history["net_output"]) == 1


def test_learning_rate_scheduler():
    model, _, opt = make_model()
    sched = LearningRateScheduler(lambda lr, step: lr * 0.5 if step % 2 == 0 else lr)
    model.train(1, blob_dataset(n=64), callbacks=[sched])
    np.testing.assert_allclose(model.history.lr.values, [0.1, 0.1, 0.05, 0.05], rtol=1e-6)
    assert float(opt.get_lr().asnumpy().reshape(-1)[0]) == pytest.approx(0.025)


def test_monitors_print(capsys):
    model, _, _ = make_model()
    model.fit(1, blob_dataset(n=64), blob_dataset(n=16, shuffle=False),
              callbacks=[LossMonitor(2), TimeMonitor()])  # fmt: skip
    out = capsys.readouterr().out
    assert "epoch: 1 step: 2, loss is" in out and "epoch: 1 step: 4, loss is" in out
    assert "step: 1," not in out
    assert "Eval result: epoch 1" in out
    assert "epoch time:" in out and "per step time:" in out and "samples/s" in out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_loss_monitor_stops_on_nan():
    model, _, _ = make_model(lr=1e30)
    with pytest.raises(ValueError, match="Invalid loss"):
        model.train(3, blob_dataset(), callbacks=[LossMonitor()])
    assert 1 <= model.history.sizes["step"] < 18  # the curve up to the failure is kept


def test_progress_bar():
    import io

    buf = io.StringIO()
    model, _, _ = make_model()
    model.train(2, blob_dataset(n=32), callbacks=[ProgressBar(file=buf)])
    text = buf.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "loss=" in text and "2/2" in text


def test_determinism_under_set_seed():
    def run():
        model, net, _ = make_model(seed=3, dropout=True, optimizer="adam")
        model.train(2, blob_dataset())
        return model.history.loss.values, param_values(net)

    (l1, p1), (l2, p2) = run(), run()
    assert np.array_equal(l1, l2)
    for k in p1:
        assert np.array_equal(p1[k], p2[k])


def test_progress_bar_is_default_on_a_terminal(monkeypatch, capsys):
    import sys

    model, _, _ = make_model()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    model.train(1, blob_dataset(n=32))
    assert "Epoch 1/1" in capsys.readouterr().err
    model.train(1, blob_dataset(n=32), callbacks=[LossMonitor()])  # lines printed: no bar
    captured = capsys.readouterr()
    assert "Epoch 1/1" not in captured.err and "loss is" in captured.out
