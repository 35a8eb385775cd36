"""Data-pipeline throughput: MNIST-5k, Rescale + Normalize + HWC2CHW, shuffle, batch 64.

    PYTHONPATH=. python benchmarks/data_pipeline.py [--epochs 20]

A LeNet-5 training step on batch 64 takes ~2-5 ms here, so the pipeline must hand
out a batch in well under 1 ms. Prints batches/s and microseconds per batch (median
over epochs) for the array-backed path and, for comparison, for a GeneratorDataset
whose map runs a plain Python callable per sample.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from npukernel.dataset import GeneratorDataset, config, from_xarray, load, vision


def ops():
    return [
        vision.Rescale(1 / 255, 0),
        vision.Normalize([0.1307], [0.3081]),
        vision.HWC2CHW(),
    ]


def time_epochs(ds, epochs: int) -> tuple[float, int]:
    it = ds.create_tuple_iterator(num_epochs=epochs, output_numpy=True)
    per_batch = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for batch in it:
            n, last = n + 1, batch
        per_batch.append((time.perf_counter() - start) / n)
    image = last[0]
    assert image.shape[1:] == (1, 28, 28) and image.dtype == np.float32
    return statistics.median(per_batch), n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    config.set_seed(0)
    data = load("mnist5k")
    vectorised = from_xarray(data).map(ops(), "image").shuffle(5000).batch(64)

    images, labels = data["image"].values, data["label"].values

    class Source:
        def __getitem__(self, i):
            return images[i], labels[i]

        def __len__(self):
            return len(labels)

    chained = ops()

    def per_sample(img):
        for op in chained:
            img = op(img)
        return img

    python = GeneratorDataset(Source(), ["image", "label"]).map(per_sample, "image").batch(64)
    for name, ds, epochs in (
        ("array-backed, vectorised map", vectorised, args.epochs),
        ("GeneratorDataset, per-sample map", python, max(2, args.epochs // 10)),
    ):
        t, n = time_epochs(ds, epochs)
        print(
            f"{name:34s} {n} batches/epoch: {1 / t:9.0f} batches/s, {t * 1e6:7.1f} us/batch, "
            f"{64 / t:11.0f} images/s"
        )


if __name__ == "__main__":
    main()
