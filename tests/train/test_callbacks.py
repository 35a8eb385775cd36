import json
import os

import numpy as np
import pytest
import xarray as xr

from npukernel.serialization import load_checkpoint
from npukernel.train import (
    CheckpointConfig,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    SummaryCollector,
    latest_checkpoint,
)
from tests.train.helpers import blob_dataset, make_model, param_values


def test_summary_collector_writes_netcdf(tmp_path):
    model, _, _ = make_model()
    collector = SummaryCollector(
        tmp_path / "summary", collect_freq=2, custom_lineage_data={"lr": 0.1}
    )
    model.fit(2, blob_dataset(n=96), blob_dataset(n=32, shuffle=False), callbacks=[collector])
    files = os.listdir(tmp_path / "summary")
    assert files == [os.path.basename(collector.summary_file)]
    assert files[0].startswith("summary.") and files[0].endswith(".nc")
    ds = xr.load_dataset(collector.summary_file)
    assert list(ds.step.values) == [2, 4, 6, 8, 10, 12]
    assert list(ds.epoch.values) == [1, 2]
    np.testing.assert_array_equal(ds.loss.values, model.history.loss.values[1::2])
    assert "eval_accuracy" in ds and ds.attrs["lineage_lr"] == 0.1 and ds.attrs["collect_freq"] == 2
    with pytest.raises(ValueError):
        SummaryCollector(tmp_path, collect_freq=0)


def test_early_stopping_stops_on_train_loss():
    model, _, _ = make_model(lr=0.0)  # nothing improves
    stop = EarlyStopping(monitor="loss", patience=1)
    model.train(10, blob_dataset(shuffle=False), callbacks=[stop])
    assert (
        stop.stopped_epoch == 2
    )  # epoch 1 sets the best; epoch 2 is the first without improvement
    assert list(model.history.epoch.values) == [1, 2]


def test_early_stopping_on_eval_metric_restores_best_weights():
    model, net, _ = make_model(lr=0.5)
    snapshots = {}
    keep = LambdaCallback(
        on_train_epoch_end=lambda ctx: snapshots.__setitem__(
            ctx.original_args().cur_epoch_num, param_values(net)
        )
    )
    # eval_loss goes up after the net overfits a tiny, shifted validation set
    stop = EarlyStopping(monitor="eval_loss", patience=2, restore_best_weights=True, min_delta=0.0)
    valid = blob_dataset(n=16, shuffle=False, seed=7)
    model.fit(30, blob_dataset(n=16, batch=16, seed=3), valid, callbacks=[keep, stop])
    h = model.history
    assert stop.stopped_epoch == h.epoch.values[-1] < 30
    best_epoch = int(h.epoch[np.argmin(h.eval_loss.values)])
    assert stop.best == pytest.approx(float(h.eval_loss.min()))
    for name, value in param_values(net).items():
        np.testing.assert_array_equal(value, snapshots[best_epoch][name])


def test_early_stopping_modes_and_missing_monitor(caplog):
    assert EarlyStopping(monitor="accuracy").mode == "max"
    assert EarlyStopping(monitor="eval_loss").mode == "min"
    with pytest.raises(ValueError):
        EarlyStopping(mode="up")
    model, _, _ = make_model()
    stop = EarlyStopping(monitor="accuracy")
    model.train(2, blob_dataset(n=32), callbacks=[stop])  # no validation: skipped
    assert stop.stopped_epoch == 0 and "not available" in caplog.text


def test_model_checkpoint_files_latest_and_keep_max(tmp_path):
    model, net, opt = make_model()
    cfg = CheckpointConfig(
        save_checkpoint_steps=2,
        keep_checkpoint_max=3,
        append_info=["epoch_num", "step_num", {"tag": "x"}],
    )
    ckpt = ModelCheckpoint("net", tmp_path, cfg)
    model.train(
        3, blob_dataset(n=80), callbacks=[ckpt]
    )  # 5 steps/epoch; saves at 2, 4, ..., 14, + 15
    names = sorted(f for f in os.listdir(tmp_path) if f.endswith(".ckpt"))
    assert names == ["net-3_2.ckpt", "net-3_4.ckpt", "net-3_5.ckpt"]
    with open(tmp_path / "latest.json") as f:
        latest = json.load(f)
    assert latest["checkpoint"] == "net-3_5.ckpt" and latest["global_step"] == 15
    assert (
        latest_checkpoint(tmp_path) == ckpt.latest_ckpt_file_name == str(tmp_path / "net-3_5.ckpt")
    )
    params = load_checkpoint(ckpt.latest_ckpt_file_name)
    expected = set(param_values(net)) | set(param_values(opt))
    assert expected <= set(params)
    assert {"moments.fc1.weight", "global_step", "learning_rate"} <= set(params)
    assert int(params["global_step"].asnumpy().reshape(-1)[0]) == 15
    assert int(params["step_num"].asnumpy().reshape(-1)[0]) == 15 and params["tag"] == "x"
    for name, value in param_values(net, opt).items():
        np.testing.assert_array_equal(params[name].asnumpy(), value)
    # a second callback with the same prefix does not overwrite: prefix becomes net_1
    assert ModelCheckpoint("net", tmp_path).prefix == "net_1"


def test_model_checkpoint_saved_network_and_seconds(tmp_path):
    model, net, _ = make_model()
    cfg = CheckpointConfig(save_checkpoint_steps=0, save_checkpoint_seconds=3600, saved_network=net)
    ckpt = ModelCheckpoint(directory=tmp_path, config=cfg)
    model.train(1, blob_dataset(n=32), callbacks=[ckpt])
    assert sorted(os.listdir(tmp_path)) == ["CKP-1_2.ckpt", "latest.json"]
    assert set(load_checkpoint(tmp_path / "CKP-1_2.ckpt")) == set(param_values(net))
    with pytest.raises(ValueError):
        CheckpointConfig(save_checkpoint_steps=0, save_checkpoint_seconds=0)


def test_latest_checkpoint_skips_damaged_files(tmp_path):
    model, _, _ = make_model()
    ckpt = ModelCheckpoint(directory=tmp_path, config=CheckpointConfig(keep_checkpoint_max=10))
    model.train(1, blob_dataset(n=48), callbacks=[ckpt])
    newest = tmp_path / "CKP-1_3.ckpt"
    assert latest_checkpoint(tmp_path) == str(newest)
    newest.write_bytes(newest.read_bytes()[:-3])  # damage the newest
    (tmp_path / ".CKP-1_4.ckpt.abcd.tmp").write_bytes(b"half")  # a killed writer's leftover
    os.utime(tmp_path / "CKP-1_2.ckpt")
    assert latest_checkpoint(tmp_path) == str(tmp_path / "CKP-1_2.ckpt")
    assert latest_checkpoint(tmp_path / "empty_does_not_exist") is None
