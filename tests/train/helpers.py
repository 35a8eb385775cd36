"""Small networks and datasets shared by the training tests."""

import numpy as np

import npukernel as npk
from npukernel import nn
from npukernel.dataset import NumpySlicesDataset
from npukernel.train import Model


def blobs(n=96, seed=0):
    """Three Gaussian clusters in 4-D: (x float32 (n, 4), y int32 (n,))."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centers = np.array([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]], np.float32)
    x = (centers[y] + 0.5 * rng.standard_normal((n, 4))).astype(np.float32)
    return x, y


def blob_dataset(n=96, batch=16, shuffle=True, seed=0):
    x, y = blobs(n, seed)
    return NumpySlicesDataset({"x": x, "y": y}, shuffle=shuffle).batch(batch)


class MLP(nn.Cell):
    def __init__(self, hidden=16, dropout=False):
        super().__init__()
        self.fc1 = nn.Dense(4, hidden)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(p=0.2) if dropout else None
        self.fc2 = nn.Dense(hidden, 3)

    def construct(self, x):
        x = self.relu(self.fc1(x))
        if self.drop is not None:
            x = self.drop(x)
        return self.fc2(x)


def make_model(seed=0, optimizer="momentum", metrics=("accuracy", "loss"), dropout=False, lr=0.1):
    """A fresh MLP + loss + optimizer + Model, initialised from ``npk.set_seed(seed)``."""
    npk.set_seed(seed)
    net = MLP(dropout=dropout)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    if optimizer == "momentum":
        opt = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=0.9)
    elif optimizer == "adam":
        opt = nn.Adam(net.trainable_params(), learning_rate=lr / 10)
    else:
        opt = nn.SGD(net.trainable_params(), learning_rate=lr)
    return Model(net, loss, opt, metrics=set(metrics) if metrics else None), net, opt


def param_values(*objs):
    out = {}
    for obj in objs:
        for p in obj.get_parameters():
            out[p.name] = p.asnumpy().copy()
    return out
