"""``npukernel.dataset``: shipped datasets and a MindSpore-style data pipeline.

Example:
    >>> from npukernel.dataset import load, from_xarray, vision
    >>> ds = from_xarray(load("mnist5k", split="train"), shuffle=True)
    >>> ds = ds.map([vision.Rescale(1 / 255, 0), vision.HWC2CHW()], "image").batch(64)
    >>> image, label = next(ds.create_tuple_iterator(output_numpy=True))
    >>> image.shape, image.dtype
    ((64, 1, 28, 28), dtype('float32'))
"""

from npukernel.dataset import config, transforms, vision
from npukernel.dataset.core import Dataset
from npukernel.dataset.errors import DatasetChecksumError, DatasetError
from npukernel.dataset.iterators import DictIterator, TupleIterator
from npukernel.dataset.registry import load, names
from npukernel.dataset.sources import GeneratorDataset, NumpySlicesDataset
from npukernel.dataset.xarray_io import from_xarray

__all__ = [
    "Dataset",
    "DatasetChecksumError",
    "DatasetError",
    "DictIterator",
    "GeneratorDataset",
    "NumpySlicesDataset",
    "TupleIterator",
    "config",
    "from_xarray",
    "load",
    "names",
    "transforms",
    "vision",
]
