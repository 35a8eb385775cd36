"""``mindspore.dataset`` as the LeNet quick start uses it: ``npukernel.dataset`` plus
``MnistDataset``, which reads a small class-balanced slice of mnist5k instead of the MNIST
files the quick start downloads."""

import os

from npukernel.dataset import GeneratorDataset, NumpySlicesDataset, from_xarray, load

__all__ = ["GeneratorDataset", "MnistDataset", "NumpySlicesDataset"]

EVERY = {"train": 30, "test": 15}  # 134 training images (4 batches of 32), 67 test images


def MnistDataset(dataset_dir, num_samples=None, shuffle=None):  # noqa: N802 - MindSpore's name
    """Columns ``image`` (28, 28, 1) uint8 and ``label`` of the split named by the last path part."""
    split = os.path.basename(os.path.normpath(dataset_dir))
    data = load("mnist5k", split=split).isel(
        sample=slice(0, num_samples and num_samples * EVERY[split], EVERY[split])
    )
    return from_xarray(data, columns=("image", "label"), shuffle=bool(shuffle))
