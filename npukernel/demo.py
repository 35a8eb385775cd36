"""A one-minute tour: train a small MLP on the virtual NPU and show what the chip did.

Run with ``python -m npukernel.demo`` (``make run`` before JupyterLab exists). It loads
scikit-learn's 8×8 digits (shipped with npukernel), trains a 64-128-10 MLP with plain
``npukernel.ops`` and ``value_and_grad``, and prints the device, its chip profile and the
top operators by measured CPU time next to the estimated Ascend 910 time.
"""

from __future__ import annotations

import time

import numpy as np


def main(epochs: int = 15, batch: int = 64, lr: float = 0.1) -> float:
    """Train, print the report, return the test accuracy."""
    import npukernel as npk
    from npukernel import dataset, ops

    npk.set_seed(0)
    ds = dataset.load("digits")
    images = ds["image"].values.reshape(len(ds.sample), -1).astype(np.float32) / 16.0
    labels = ds["label"].values.astype(np.int32)
    train = (ds["split"] == "train").values
    x_tr, y_tr, x_te, y_te = images[train], labels[train], images[~train], labels[~train]

    rng = npk.random.generator()

    def param(*shape: int) -> npk.Parameter:
        scale = np.sqrt(2.0 / shape[0])
        return npk.Parameter(rng.standard_normal(shape).astype(np.float32) * scale)

    params = [param(64, 128), npk.Parameter(np.zeros(128, np.float32)), param(128, 10),
              npk.Parameter(np.zeros(10, np.float32))]  # fmt: skip
    velocity = [np.zeros_like(p.asnumpy()) for p in params]

    def forward(x: npk.Tensor) -> npk.Tensor:
        h = ops.relu(ops.matmul(x, params[0]) + params[1])
        return ops.matmul(h, params[2]) + params[3]

    def loss_fn(x: npk.Tensor, y: npk.Tensor) -> npk.Tensor:
        return ops.cross_entropy(forward(x), y)

    step = npk.value_and_grad(loss_fn, grad_position=None, weights=params)
    dev = npk.device.get("npu:0")
    print(
        f"Training a 64-128-10 MLP on digits ({len(x_tr)} train / {len(x_te)} test) on {dev.name}"
    )
    t0 = time.perf_counter()
    with npk.profiler.profile() as prof:
        for epoch in range(epochs):
            order = rng.permutation(len(x_tr))
            total = 0.0
            for i in range(0, len(order), batch):
                idx = order[i : i + batch]
                loss, grads = step(npk.Tensor(x_tr[idx]), npk.Tensor(y_tr[idx]))
                for p, g, v in zip(params, grads, velocity):
                    v *= 0.9
                    v += g.asnumpy()
                    p.asnumpy()[...] -= lr * v
                total += loss.item() * len(idx)
            if epoch % 5 == 4 or epoch == epochs - 1:
                print(f"  epoch {epoch + 1:2d}  loss {total / len(x_tr):.4f}")
    elapsed = time.perf_counter() - t0
    with npk.no_grad():
        pred = ops.argmax(forward(npk.Tensor(x_te)), 1).asnumpy()
    accuracy = float((pred == y_te).mean())
    print(f"Test accuracy {accuracy:.1%} after {elapsed:.1f} s\n")
    print(dev.profile.describe())
    print()
    print("Top operators (measured on this CPU vs estimated on the chip):")
    print(prof.table())
    return accuracy


if __name__ == "__main__":
    main()
