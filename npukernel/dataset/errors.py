"""Errors of the data layer, all under ``npukernel.errors.NpuError``."""

from __future__ import annotations

from npukernel.errors import NpuError


class DatasetError(NpuError, ValueError):
    """A dataset name, column, split or pipeline argument is wrong.

    Example:
        >>> from npukernel.dataset import load
        >>> load("cifar10")  # doctest: +SKIP
        DatasetError: For 'load', unknown dataset 'cifar10'; available: digits, mnist5k, shapes.
    """


class DatasetChecksumError(DatasetError):
    """A shipped data file does not match the SHA-256 recorded in the manifest.

    The message names the file, the expected and the actual digest, so a corrupt or
    hand-edited file is found at once instead of training on garbage.
    """
