"""The host allocator keeps freed kernel buffers, so a repeated step stops page-faulting."""

import resource
import sys

import numpy as np
import pytest

import npukernel as npk
from npukernel import nn
from npukernel.device import host_allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_a_repeated_train_step_stops_page_faulting():
    # glibc's defaults: a LeNet-5 b64 step page-faulted ~840 times (0.2 ms relu calls);
    # with the thresholds tuned at import, ~6.
    assert host_allocator.tune()
    npk.set_seed(0)
    net = nn.SequentialCell([nn.Conv2d(1, 6, 5, pad_mode="valid"), nn.ReLU(),
                             nn.MaxPool2d(2, 2), nn.Flatten(), nn.Dense(6 * 12 * 12, 10)])  # fmt: skip
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(
        nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.01, 0.9)
    )
    x = npk.Tensor(np.random.default_rng(0).random((64, 1, 28, 28), np.float32))
    y = npk.Tensor(np.zeros(64, np.int32))
    for _ in range(3):
        step(x, y)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step(x, y)
    per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    assert per_step < 60, f"{per_step} page faults per step"
