"""Compile the kernels a first session needs, so a newcomer's first cell does not wait.

numba compiles a kernel on first use and caches it on disk (``cache=True``). Running
this module once after installation (``make warm``, ``binder/postBuild``) exercises the
forward and backward passes of the usual layers in float32, so the cache is warm when
the tutorials start. It also writes the package's Python bytecode: an editable install
has none, and where ``PYTHONDONTWRITEBYTECODE`` is set (common in container images)
Python would compile every module again on each ``import npukernel`` (0.45-0.65 s here
instead of 0.23-0.28 s).

Example:
    $ python -m npukernel.warmup
"""

from __future__ import annotations

import os
import time

import numpy as np


def compile_bytecode(root: str | os.PathLike | None = None) -> bool:
    """Write ``__pycache__`` bytecode for every npukernel module; False if it could not.

    Python reads bytecode even under ``PYTHONDONTWRITEBYTECODE``; it only stops writing
    it. A read-only install (a system site-packages) is left as it is.

    Args:
        root: The package directory (default: npukernel's own).

    Example:
        >>> from npukernel.warmup import compile_bytecode
        >>> compile_bytecode()
        True
    """
    import compileall
    import io
    from contextlib import redirect_stdout
    from pathlib import Path

    root = Path(root) if root is not None else Path(__file__).resolve().parent
    with redirect_stdout(io.StringIO()):  # compileall reports a failure on stdout
        try:
            return bool(compileall.compile_dir(root, quiet=2))
        except OSError:
            return False


def warm(verbose: bool = True) -> float:
    """Run small float32 forward/backward passes of common layers; return seconds spent."""
    t0 = time.perf_counter()
    compile_bytecode()  # first: the imports below then read it

    import npukernel as npk
    from npukernel import ops

    rng = np.random.default_rng(0)

    def t(*shape: int) -> npk.Tensor:
        return npk.Tensor(rng.standard_normal(shape).astype(np.float32))

    x, w1, b1 = t(4, 1, 12, 12), t(3, 1, 3, 3), t(3)
    w2, b2 = t(3 * 5 * 5, 10), t(10)
    bn_g, bn_b = npk.Tensor(np.ones(3, np.float32)), npk.Tensor(np.zeros(3, np.float32))
    rm, rv = npk.Tensor(np.zeros(3, np.float32)), npk.Tensor(np.ones(3, np.float32))
    labels = npk.Tensor(np.array([1, 2, 3, 4], np.int32))

    def loss_fn(x, w1, b1, w2, b2, g, b):
        h = ops.conv2d(x, w1, b1, pad_mode="valid")
        h = ops.batch_norm(h, rm, rv, g, b, training=True)
        h = ops.max_pool2d(ops.relu(h), 2)
        h = ops.avg_pool2d(h, 1)
        logits = ops.matmul(ops.flatten(h), w2) + b2
        logits = ops.gelu(ops.sigmoid(ops.tanh(logits))) + ops.log_softmax(logits, -1)
        return ops.cross_entropy(logits, labels) + ops.mean(ops.softmax(logits, -1) ** 2)

    grads = npk.grad(loss_fn, grad_position=(1, 2, 3, 4, 5, 6))(x, w1, b1, w2, b2, bn_g, bn_b)
    # the elementwise updates an optimizer makes
    for p, g in zip((w1, b1, w2, b2), grads):
        _ = p - g * 0.1 + ops.sqrt(ops.abs(g)) / (ops.square(g) + 1e-8)
    ops.batch_norm(t(2, 3, 4, 4), rm, rv, bn_g, bn_b, training=False)
    ops.layer_norm(t(4, 8), 8)
    ops.argmax(t(4, 10), 1)
    ops.dropout(t(4, 10), 0.5)
    _warm_graph_mode(t, labels)
    elapsed = time.perf_counter() - t0
    if verbose:
        print(
            f"npukernel: kernels compiled/loaded in {elapsed:.1f} s (cached for the next session)"
        )
    return elapsed


def _warm_graph_mode(t, labels) -> None:  # noqa: ANN001
    """Compile a small train step and its inference graph (the usual fused kernels)."""
    import npukernel as npk
    from npukernel import nn

    net = nn.SequentialCell([nn.Conv2d(1, 3, 3, pad_mode="pad", padding=1), nn.BatchNorm2d(3),
                             nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Dense(3 * 6 * 6, 8),
                             nn.ReLU(), nn.Dense(8, 10)])  # fmt: skip
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = npk.jit(nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(
        net.trainable_params(), 0.01, 0.9)).set_train())  # fmt: skip
    x = t(4, 1, 12, 12)
    step(x, labels)
    step(x, labels)
    net.set_train(False)
    with npk.no_grad():
        npk.jit(net)(x)


if __name__ == "__main__":
    warm()
