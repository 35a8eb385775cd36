"""SIGKILL while checkpointing: the newest checkpoint is complete, and resuming from it
continues exactly as an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from npukernel.serialization import read_checkpoint_metadata
from npukernel.train import LambdaCallback, latest_checkpoint
from tests.train.helpers import blob_dataset, make_model

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 100  # 5 steps each: far more than the child gets through before it is killed
COMPARE = 15  # steps compared after the resume point


def losses_of(until, **train_kwargs):
    model, _, _ = make_model(seed=1, dropout=True)
    losses = {}

    def record(ctx):
        cb = ctx.original_args()
        losses[cb.cur_step_num] = cb.loss
        if cb.cur_step_num >= until:
            ctx.request_stop()

    model.train(EPOCHS, blob_dataset(n=80, batch=16),
                callbacks=[LambdaCallback(on_train_step_end=record)], **train_kwargs)  # fmt: skip
    return losses


def run_child(directory, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.train.sigkill_worker", str(directory), "12", str(EPOCHS), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def check_and_resume(directory, reference):
    latest = latest_checkpoint(directory)
    assert latest is not None
    step = read_checkpoint_metadata(latest)["global_step"]  # verifies every checksum
    resumed = losses_of(step + COMPARE, resume_from=directory)
    assert sorted(resumed) == list(range(step + 1, step + COMPARE + 1))
    assert all(resumed[s] == reference[s] for s in resumed)  # bit-identical
    return step


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the worker reads /proc/self/fd")
def test_sigkill_inside_a_checkpoint_write(tmp_path):
    child = run_child(tmp_path, "run-4_1.ckpt")  # dies writing step 16's checkpoint
    out, _ = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL and "finished" not in out
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".run-4_1.ckpt.")  # the torn write
    reference = losses_of(15 + COMPARE)
    assert check_and_resume(tmp_path, reference) == 15  # the last complete checkpoint


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path):
    reference = losses_of(120)
    rng = np.random.default_rng(0)
    for round_ in range(2):
        directory = tmp_path / f"round{round_}"
        child = run_child(directory)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(float(rng.uniform(0.0, 0.3)))
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=60) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
            child.stdout.close()
        step = check_and_resume(directory, reference)
        assert 12 <= step <= 120 - COMPARE
