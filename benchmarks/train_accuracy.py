"""Training to accuracy with ``npukernel.train.Model``: LeNet-5 on MNIST-5k, an MLP on digits.

Run from the repository root::

    .venv/bin/python benchmarks/train_accuracy.py [--models lenet,mlp] [--epochs N] [--seed S]

For each model prints the epochs, the wall time of training (and of the evaluation),
the training throughput and the held-out accuracy. The recipes here are the ones the
acceptance tests (``tests/train/test_accuracy.py``) run; the tests assert the accuracy,
this script reports the time.

* **LeNet-5 on MNIST-5k**: 4,000 training / 1,000 held-out images
  (``npukernel.dataset.load("mnist5k")``), Rescale + Normalize + HWC2CHW, batch 32,
  15 epochs of Momentum(0.9, weight decay 5e-4) with a cosine learning-rate decay from
  0.02, softmax cross-entropy (97.8 % with seed 0, 97.5 % with seed 1).
* **MLP on digits**: 1,438 / 359 8x8 images (``load("digits")``), each pixel
  standardised with the training set's per-pixel mean and std (an MLP has no
  convolution to share statistics across pixels: this alone takes held-out accuracy
  from ~93 % to ~98 %), 64-128-10, batch 32, 15 epochs of Momentum(0.9) with a cosine
  decay from 0.1.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import npukernel as npk
from npukernel import nn
from npukernel.dataset import from_xarray, load, vision
from npukernel.train import Accuracy, Model


class LeNet5(nn.Cell):
    """LeNet-5 for 1x28x28 input (conv1 padded by 2, as the classic 32x32 network)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, pad_mode="pad", padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid")
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(16 * 5 * 5, 120)
        self.fc2 = nn.Dense(120, 84)
        self.fc3 = nn.Dense(84, num_classes)

    def construct(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = self.flatten(x)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


class MLP(nn.Cell):
    """64-128-10 with ReLU, on flattened 8x8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(64, 128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(128, 10)

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


class PixelStandardize:
    """``(image * scale - mean[pixel]) / (std[pixel] + eps)`` with statistics of ``images``."""

    def __init__(self, images: np.ndarray, scale: float, eps: float = 0.1) -> None:
        x = images.astype(np.float32) * scale
        self.scale = np.float32(scale)
        self.mean = x.mean(axis=0)
        self.inv_std = (1.0 / (x.std(axis=0) + eps)).astype(np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return (image.astype(np.float32) * self.scale - self.mean) * self.inv_std


LENET = dict(dataset="mnist5k", net=LeNet5, epochs=15, batch=32, lr=0.02, weight_decay=5e-4,
             scale=1 / 255, per_pixel=False)  # fmt: skip
MLP_DIGITS = dict(
    dataset="digits", net=MLP, epochs=15, batch=32, lr=0.1, scale=1 / 16, per_pixel=True
)
RECIPES: dict[str, dict[str, Any]] = {"lenet": LENET, "mlp": MLP_DIGITS}


def pipeline(recipe: dict[str, Any], split: str, shuffle: bool) -> Any:
    data = load(recipe["dataset"], split=split)
    shift = recipe.get("shift", 0) if split == "train" else 0
    augment: list[Any] = [vision.RandomCrop(data.sizes["height"], padding=shift)] if shift else []
    if recipe["per_pixel"]:
        train_images = load(recipe["dataset"], split="train").image.values
        ops: list[Any] = [PixelStandardize(train_images, recipe["scale"])]
    else:
        ops = [vision.Rescale(recipe["scale"], 0.0), vision.Normalize([0.1307], [0.3081])]
    ops = augment + ops + [vision.HWC2CHW()]
    return from_xarray(data, shuffle=shuffle).map(ops, "image").batch(recipe["batch"])


def run(name: str, epochs: int | None = None, seed: int = 0, callbacks: Any = None) -> dict:
    """Train one recipe from ``npk.set_seed(seed)``; return accuracy, timings and history."""
    recipe = RECIPES[name]
    epochs = epochs or recipe["epochs"]
    npk.set_seed(seed)
    train_ds = pipeline(recipe, "train", shuffle=True)
    test_ds = pipeline(recipe, "test", shuffle=False)
    net = recipe["net"]()
    steps = epochs * train_ds.get_dataset_size()
    lr = nn.cosine_decay_lr(0.0, recipe["lr"], steps, train_ds.get_dataset_size(), epochs)
    opt = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=0.9,
                      weight_decay=recipe.get("weight_decay", 0.0))  # fmt: skip
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    model = Model(net, loss, opt, metrics={"accuracy": Accuracy()})
    start = time.perf_counter()
    model.train(epochs, train_ds, callbacks=callbacks)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = model.eval(test_ds)["accuracy"]
    eval_s = time.perf_counter() - start
    samples = steps * recipe["batch"]
    return {"model": name, "epochs": epochs, "accuracy": accuracy, "train_s": train_s,
            "eval_s": eval_s, "img_per_s": samples / train_s, "history": model.history}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="mlp,lenet")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'model':8} {'epochs':>6} {'train s':>8} {'eval s':>7} {'img/s':>7} {'accuracy':>9}")
    for name in args.models.split(","):
        r = run(name.strip(), args.epochs, args.seed)
        print(f"{r['model']:8} {r['epochs']:6d} {r['train_s']:8.1f} {r['eval_s']:7.2f} "
              f"{r['img_per_s']:7.0f} {r['accuracy']:9.4f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
