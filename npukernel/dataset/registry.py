"""The datasets shipped with npukernel: ``names()`` and ``load(name, split)``.

Files live in ``npukernel/dataset/data/`` next to ``manifest.json``, which records
each file's SHA-256 and provenance. ``load`` checks the digest before using a file
(and checks generated data the same way), so corruption is an error that names the
file, never a silently wrong training run. Builders and dataset cards are in the
repository's ``datasets/`` folder.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from npukernel.dataset.errors import DatasetChecksumError, DatasetError
from npukernel.dataset.integrity import arrays_sha256, file_sha256

if TYPE_CHECKING:
    import xarray as xr

DATA_DIR = Path(__file__).resolve().parent / "data"
_PROVENANCE = {
    "title": "title",
    "source": "source",
    "license": "license",
    "citation": "citation",
    "builder": "builder",
    "split": "split_rule",
}


def _manifest(data_dir: Path) -> dict[str, dict[str, Any]]:
    path = data_dir / "manifest.json"
    try:
        return json.loads(path.read_text())["datasets"]
    except FileNotFoundError as exc:
        raise DatasetError(f"For 'load', the dataset manifest '{path}' is missing.") from exc
    except (ValueError, KeyError) as exc:
        raise DatasetChecksumError(
            f"For 'load', the dataset manifest '{path}' is corrupt: {exc}."
        ) from exc


def names() -> list[str]:
    """Names of the shipped datasets.

    Example:
        >>> from npukernel.dataset import names
        >>> names()
        ['digits', 'mnist5k', 'shapes']
    """
    return sorted(_manifest(DATA_DIR))


@functools.lru_cache(maxsize=8)
def _read_file(path: str, mtime_ns: int, size: int, expected: str) -> dict[str, np.ndarray]:
    actual = file_sha256(path)
    if actual != expected:
        raise DatasetChecksumError(
            f"For 'load', the data file '{path}' is corrupt or was changed: its SHA-256 is "
            f"{actual}, but the manifest records {expected}. Reinstall npukernel, or rebuild "
            "the file with its builder in the repository's datasets/ folder."
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:  # pragma: no cover - the digest matched
        raise DatasetChecksumError(f"For 'load', cannot read '{path}': {exc}.") from exc


@functools.lru_cache(maxsize=4)
def _generate(generator: str, params_json: str, expected: str) -> dict[str, np.ndarray]:
    if generator != "npukernel.dataset.shapes.generate":
        raise DatasetError(f"For 'load', unknown generator '{generator}' in the manifest.")
    from npukernel.dataset.shapes import generate

    arrays = generate(**json.loads(params_json))
    actual = arrays_sha256(arrays)
    if actual != expected:
        raise DatasetChecksumError(
            f"For 'load', the generated dataset ({generator} with {params_json}) has SHA-256 "
            f"{actual}, but the manifest records {expected}: this numpy generates different "
            "data. Please report it with your numpy version."
        )
    return arrays


def _arrays(name: str, entry: dict[str, Any], data_dir: Path) -> dict[str, np.ndarray]:
    if entry.get("file") is None:
        params = json.dumps(entry["params"], sort_keys=True)
        return _generate(entry["generator"], params, entry["sha256"])
    path = data_dir / entry["file"]
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise DatasetError(f"For 'load', the data file '{path}' of '{name}' is missing.") from exc
    return _read_file(str(path), stat.st_mtime_ns, stat.st_size, entry["sha256"])


def load(name: str, split: str | None = None, *, data_dir: str | Path | None = None) -> xr.Dataset:
    """Load a shipped dataset as an ``xarray.Dataset``.

    Variables: ``image`` (sample, height, width, channel) uint8 — HWC, as
    MindSpore's datasets yield images — and ``label`` (sample) int32; ``shapes``
    adds ``bbox`` (sample, coord) float32 ``[x0, y0, x1, y1]`` in pixels (x1, y1
    exclusive). Coordinates: ``sample`` (row in the original file), ``split``
    ("train"/"test") and ``class_name`` (class). Attributes: provenance (``source``,
    ``license``, ``citation``, ``builder``, ``sha256``, ...).

    Args:
        name: one of :func:`names`.
        split: ``"train"``, ``"test"``, or ``None`` for all samples.
        data_dir: read files from here instead of the installed package (tests).

    Raises:
        DatasetError: for an unknown name or split, or a missing file.
        DatasetChecksumError: when a file (or generated data) fails its checksum.

    Example:
        >>> from npukernel.dataset import load
        >>> ds = load("mnist5k", split="train")
        >>> ds["image"].shape, str(ds.attrs["license"])[:5]
        ((4000, 28, 28, 1), 'MNIST')
    """
    import xarray as xr  # imported on use: it takes about a second to import

    directory = Path(data_dir) if data_dir is not None else DATA_DIR
    manifest = _manifest(directory)
    if name not in manifest:
        raise DatasetError(
            f"For 'load', unknown dataset '{name}'; available: {', '.join(sorted(manifest))}."
        )
    entry = manifest[name]
    arrays = _arrays(name, entry, directory)
    split_names = arrays["split_names"]
    if split is not None and split not in split_names:
        raise DatasetError(
            f"For 'load', '{name}' has splits {split_names.tolist()}, but got split={split!r}."
        )
    keep = (
        np.flatnonzero(split_names[arrays["split"]] == split)
        if split
        else np.arange(len(arrays["label"]))
    )
    data_vars: dict[str, Any] = {
        "image": (("sample", "height", "width", "channel"), arrays["image"][keep]),
        "label": (("sample",), arrays["label"][keep].astype(np.int32)),
    }
    coords: dict[str, Any] = {
        "sample": keep,
        "split": ("sample", split_names[arrays["split"][keep]]),
        "class_name": ("class", arrays["class_names"]),
    }
    if "bbox" in arrays:
        data_vars["bbox"] = (("sample", "coord"), arrays["bbox"][keep].astype(np.float32))
        coords["coord"] = ["x0", "y0", "x1", "y1"]
    attrs = {"name": name, "sha256": entry["sha256"]}
    attrs.update({attr: entry[k] for k, attr in _PROVENANCE.items() if k in entry})
    if entry.get("file"):
        attrs["file"] = entry["file"]
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
