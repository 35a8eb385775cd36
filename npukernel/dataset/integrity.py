"""SHA-256 digests of shipped files and of generated arrays."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x"); open(p, "wb").write(b"abc")
        3
        >>> file_sha256(p)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """Hex SHA-256 of named arrays: name, dtype, shape and C-order bytes, in name order.

    The digest depends only on the values, so a generated dataset can be checked
    against a recorded digest exactly like a file.

    Example:
        >>> import numpy as np
        >>> a = {"x": np.zeros(2, np.uint8)}
        >>> arrays_sha256(a) == arrays_sha256({"x": np.zeros(2, np.uint8)})
        True
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
