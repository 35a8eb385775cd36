"""Resuming: a run continued from a checkpoint gives bit-identical losses."""

import numpy as np
import pytest

from npukernel.errors import CheckpointError
from npukernel.serialization import load_checkpoint, load_param_into_net
from npukernel.train import CheckpointConfig, LambdaCallback, ModelCheckpoint
from tests.train.helpers import blob_dataset, make_model, param_values

EPOCHS = 3  # 5 steps per epoch


def run(callbacks=(), stop_at=None, optimizer="momentum", dropout=True, **train_kwargs):
    """Build everything from the seed, train; return ({global step: loss}, net, opt)."""
    model, net, opt = make_model(seed=1, dropout=dropout, optimizer=optimizer)
    ds = blob_dataset(n=80, batch=16, shuffle=True)
    losses = {}

    def record(ctx):
        cb = ctx.original_args()
        losses[cb.cur_step_num] = cb.loss
        if cb.cur_step_num == stop_at:
            ctx.request_stop()

    model.train(
        EPOCHS, ds, callbacks=[LambdaCallback(on_train_step_end=record), *callbacks], **train_kwargs
    )
    return losses, net, opt


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("stop_at", [7, 10])  # mid-epoch, and at an epoch boundary
def test_resume_is_bit_identical(tmp_path, optimizer, stop_at):
    reference, ref_net, ref_opt = run(optimizer=optimizer)
    assert len(reference) == 5 * EPOCHS
    ckpt = ModelCheckpoint("run", tmp_path, CheckpointConfig(save_checkpoint_steps=1))
    first, _, _ = run([ckpt], stop_at=stop_at, optimizer=optimizer)
    assert max(first) == stop_at
    resumed, net, opt = run(optimizer=optimizer, resume_from=tmp_path)
    assert sorted(resumed) == list(range(stop_at + 1, 5 * EPOCHS + 1))
    for step, loss in resumed.items():
        assert loss == reference[step], step  # exact float equality
    final, expected = param_values(net, opt), param_values(ref_net, ref_opt)
    for name in expected:
        assert np.array_equal(final[name], expected[name]), name


def test_resume_from_a_file_records_history(tmp_path):
    reference, _, _ = run()
    ckpt = ModelCheckpoint(
        "run", tmp_path, CheckpointConfig(save_checkpoint_steps=1, keep_checkpoint_max=20)
    )
    run([ckpt], stop_at=12)
    model, _, _ = make_model(seed=1, dropout=True)
    model.train(EPOCHS, blob_dataset(n=80, batch=16), resume_from=tmp_path / "run-2_4.ckpt")
    h = model.history
    assert list(h.step.values) == list(range(10, 16))
    np.testing.assert_array_equal(h.loss.values, [reference[s] for s in range(10, 16)])
    assert list(h.epoch.values) == [2, 3]


def unshuffled_run(epochs, callbacks=(), **train_kwargs):
    model, net, opt = make_model(seed=1, optimizer="adam")
    losses = {}

    def record(ctx):
        losses[ctx.original_args().cur_step_num] = ctx.original_args().loss

    data = list(blob_dataset(n=80, shuffle=False).create_tuple_iterator(output_numpy=True))
    model.train(epochs, data, callbacks=[LambdaCallback(on_train_step_end=record), *callbacks],
                **train_kwargs)  # fmt: skip
    return losses, net, opt


def test_mindspore_style_manual_resume(tmp_path):
    """load_checkpoint + load_param_into_net(net and optimizer) + initial_epoch, as in MindSpore.

    Without shuffling or dropout the data and randomness do not depend on the epoch, so
    this is exact too.
    """
    reference, _, _ = unshuffled_run(2)
    unshuffled_run(1, [ModelCheckpoint("run", tmp_path)])
    losses = {}
    model, net, opt = make_model(seed=1, optimizer="adam")
    params = load_checkpoint(tmp_path / "run-1_5.ckpt")
    assert load_param_into_net(net, params)[0] == []
    assert load_param_into_net(opt, params)[0] == []
    rec = LambdaCallback(
        on_train_step_end=lambda c: losses.__setitem__(
            c.original_args().cur_step_num, c.original_args().loss
        )
    )
    data = list(blob_dataset(n=80, shuffle=False).create_tuple_iterator(output_numpy=True))
    model.train(2, data, callbacks=[rec], initial_epoch=1)
    assert losses == {s: reference[s] for s in range(6, 11)}


def test_resume_errors(tmp_path):
    model, _, _ = make_model()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        model.train(1, blob_dataset(), resume_from=tmp_path)
    ckpt = ModelCheckpoint("run", tmp_path)
    model.train(1, blob_dataset(), callbacks=[ckpt])
    with pytest.raises(Exception, match="already at epoch 1"):
        make_model()[0].train(1, blob_dataset(), resume_from=tmp_path)
