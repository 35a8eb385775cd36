"""Ctrl-C during training: stop after the step (or roll it back), checkpoint, return."""

import logging
import os
import signal

import numpy as np
import pytest

from npukernel.serialization import load_checkpoint, read_checkpoint_metadata
from npukernel.train import (
    Callback,
    CheckpointConfig,
    LambdaCallback,
    ModelCheckpoint,
    latest_checkpoint,
)
from tests.train.helpers import blob_dataset, make_model, param_values


class Ends(Callback):
    def __init__(self):
        self.ended = False

    def on_train_end(self, run_context):
        self.ended = True


def interrupt_at(step):
    def hook(ctx):
        if ctx.original_args().cur_step_num == step:
            raise KeyboardInterrupt

    return LambdaCallback(on_train_step_end=hook)


def reference_after(steps):
    """Network and optimizer values after ``steps`` uninterrupted steps."""
    model, net, opt = make_model()
    stop = LambdaCallback(
        on_train_step_end=lambda c: (
            c.request_stop() if c.original_args().cur_step_num == steps else None
        )
    )
    model.train(5, blob_dataset(), callbacks=[stop])
    return param_values(net, opt)


def global_step(params):
    return int(params["global_step"].asnumpy().reshape(-1)[0])


def test_keyboard_interrupt_in_callback_saves_default_checkpoint(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    model, net, opt = make_model()
    ends = Ends()
    with caplog.at_level(logging.WARNING, "npukernel.train"):
        model.train(5, blob_dataset(), callbacks=[interrupt_at(8), ends])  # returns, no traceback
    assert model.interrupted and ends.ended
    path = tmp_path / "interrupted.ckpt"
    assert str(path) in caplog.text and "epoch 2, step 2" in caplog.text
    params = load_checkpoint(path)
    assert global_step(params) == 8
    assert read_checkpoint_metadata(path)["global_step"] == 8
    for name, value in param_values(net, opt).items():
        np.testing.assert_array_equal(params[name].asnumpy(), value)
    assert model.history.sizes["step"] == 8


def test_keyboard_interrupt_goes_through_model_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, _, _ = make_model()
    ckpt = ModelCheckpoint("run", tmp_path / "ck", CheckpointConfig(save_checkpoint_steps=100))
    model.train(5, blob_dataset(), callbacks=[ckpt, interrupt_at(9)])
    assert not (tmp_path / "interrupted.ckpt").exists()
    assert latest_checkpoint(tmp_path / "ck") == str(tmp_path / "ck" / "run-2_3.ckpt")
    assert global_step(load_checkpoint(tmp_path / "ck" / "run-2_3.ckpt")) == 9


def test_sigint_during_a_step_finishes_the_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, net, opt = make_model()
    fc1 = net.fc1
    calls = {"n": 0}
    original = type(fc1).construct

    def forward(self, x):
        calls["n"] += self is fc1
        if self is fc1 and calls["n"] == 4:  # the 4th training step
            os.kill(os.getpid(), signal.SIGINT)  # handled here, inside the step
        return original(self, x)

    monkeypatch.setattr(type(fc1), "construct", forward)
    ends = Ends()
    model.train(5, blob_dataset(), callbacks=[ends])
    monkeypatch.undo()
    assert model.interrupted and ends.ended
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    params = load_checkpoint(tmp_path / "interrupted.ckpt")
    assert global_step(params) == 4  # the interrupted step was completed, then training stopped
    expected = reference_after(4)
    for name, value in param_values(net, opt).items():
        np.testing.assert_array_equal(value, expected[name])


def test_second_interrupt_rolls_the_step_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, net, opt = make_model()
    real_update = type(opt)._update
    state = {"step": 0, "updates": 0}

    def update(self, i, p, g, lr):
        real_update(self, i, p, g, lr)
        if int(self.global_step.asnumpy().reshape(-1)[0]) == 5:  # during the 6th step
            state["updates"] += 1
            if state["updates"] == 2:  # half of the parameters already updated
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(type(opt), "_update", update)
    model.train(5, blob_dataset())
    monkeypatch.undo()
    assert model.interrupted
    expected = reference_after(5)
    for name, value in param_values(net, opt).items():  # the torn step was rolled back
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    assert global_step(load_checkpoint(tmp_path / "interrupted.ckpt")) == 5
    assert model.history.sizes["step"] == 5


def test_no_checkpoint_when_disabled(tmp_path, monkeypatch, caplog):
    from npukernel.train import Model

    monkeypatch.chdir(tmp_path)
    model, net, opt = make_model()
    model = Model(net, model._loss_fn, opt, interrupt_checkpoint=None)
    with caplog.at_level(logging.WARNING, "npukernel.train"):
        model.train(2, blob_dataset(), callbacks=[interrupt_at(2)])
    assert os.listdir(tmp_path) == [] and "no checkpoint written" in caplog.text


@pytest.mark.parametrize("where", ["on_train_begin", "on_train_epoch_begin"])
def test_interrupt_before_any_step(tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    model, _, _ = make_model()

    def boom(ctx):
        raise KeyboardInterrupt

    model.train(2, blob_dataset(), callbacks=[LambdaCallback(**{where: boom})])
    assert model.interrupted and os.listdir(tmp_path) == []
