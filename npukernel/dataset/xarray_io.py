"""xarray at the edges: ``from_xarray`` feeds a pipeline, ``to_xarray`` collects one.

The pipeline itself runs on the numpy arrays underneath; xarray keeps the labels,
splits and provenance (coordinates and attributes) that travel with the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from npukernel.dataset import config
from npukernel.dataset.core import Dataset, EpochContext
from npukernel.dataset.errors import DatasetError
from npukernel.dataset.sources import ArraySource

if TYPE_CHECKING:  # xarray takes about a second to import: only functions that build one do
    import xarray as xr


class XarraySource(ArraySource):
    """An :class:`ArraySource` that remembers where its columns came from."""

    def __init__(
        self, ds: xr.Dataset, columns: Sequence[str], sample_dim: str, shuffle: bool
    ) -> None:
        arrays = {c: ds[c].transpose(sample_dim, ...).values for c in columns}
        super().__init__(arrays, shuffle)
        self.sample_dim = sample_dim
        self.dims = {c: ds[c].transpose(sample_dim, ...).dims for c in columns}
        self.sample_coords = {k: v.values for k, v in ds.coords.items() if v.dims == (sample_dim,)}
        self.other_coords = {k: v for k, v in ds.coords.items() if sample_dim not in v.dims}
        self.attrs = dict(ds.attrs)


def from_xarray(
    ds: xr.Dataset,
    columns: Sequence[str] = ("image", "label"),
    shuffle: bool = False,
    sample_dim: str | None = None,
) -> Dataset:
    """A pipeline over variables of an ``xarray.Dataset``, one row per sample.

    Args:
        ds: the labelled data, e.g. from :func:`npukernel.dataset.load`.
        columns: the variables that become columns, in order.
        shuffle: shuffle every epoch (you can also call ``.shuffle``).
        sample_dim: the dimension that indexes samples; default: the first
            dimension of the first column.

    Raises:
        DatasetError: for a missing variable or one without the sample dimension.

    Example:
        >>> from npukernel.dataset import load, from_xarray
        >>> ds = from_xarray(load("digits", split="train")).batch(32)
        >>> ds.get_col_names()
        ['image', 'label']
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in ds.variables]
    if missing:
        raise DatasetError(
            f"For 'from_xarray', variable(s) {missing} not in the dataset; "
            f"it has {list(ds.data_vars)}."
        )
    sample_dim = sample_dim or ds[columns[0]].dims[0]
    lacking = [c for c in columns if sample_dim not in ds[c].dims]
    if lacking:
        raise DatasetError(
            f"For 'from_xarray', variable(s) {lacking} lack the dimension '{sample_dim}'."
        )
    return XarraySource(ds, columns, sample_dim, shuffle)


def _root(dataset: Dataset) -> Dataset:
    while dataset.children:
        dataset = dataset.children[0]
    return dataset


def _collect(dataset: Dataset) -> tuple[dict[str, Any], np.ndarray | None]:
    """One epoch as whole columns, and the source row of each sample when known."""
    names = dataset.get_col_names()
    ctx = EpochContext(dataset, config.next_entropy())
    if dataset._indexed():
        idx = np.concatenate(list(dataset._index_stream(ctx)) or [np.empty(0, np.intp)])
        parts = [dataset._gather(idx[s : s + 4096], ctx) for s in range(0, max(len(idx), 1), 4096)]
        return {n: np.concatenate([p[n] for p in parts]) for n in names}, idx
    rows = list(dataset._rows(ctx))
    if not rows:
        raise DatasetError("For 'to_xarray', the dataset is empty.")
    join = np.concatenate if dataset._batched() else np.stack
    return {n: join([np.asarray(r[n]) for r in rows]) for n in names}, None


def to_xarray(dataset: Dataset) -> xr.Dataset:
    """Implementation of :meth:`Dataset.to_xarray`."""
    import xarray as xr

    cols, idx = _collect(dataset)
    src = _root(dataset)
    xsrc = src if isinstance(src, XarraySource) else None
    sample = xsrc.sample_dim if xsrc else "sample"
    data_vars = {}
    for name, values in cols.items():
        dims = None
        if xsrc and name in xsrc.dims and xsrc.columns[name].shape[1:] == values.shape[1:]:
            dims = xsrc.dims[name]
        data_vars[name] = (
            dims or (sample, *(f"{name}_dim_{i}" for i in range(1, values.ndim))),
            values,
        )
    coords: dict[str, Any] = {}
    if xsrc:
        coords.update(xsrc.other_coords)
        if idx is not None:
            coords.update({k: (sample, v[idx]) for k, v in xsrc.sample_coords.items()})
    return xr.Dataset(data_vars, coords=coords, attrs=dict(xsrc.attrs) if xsrc else {})
