"""Build npukernel/dataset/data/digits.npz from scikit-learn's 8x8 digits.

    python datasets/build_digits.py

scikit-learn 1.9.1 ships ``sklearn/datasets/data/digits.csv.gz`` (1,797 rows: 64
pixel counts in 0..16, then the label). We fetch the manylinux cp311 wheel
(the member is the same in every wheel of that release) and keep the file order;
split: in each class a seeded random 20 % (rounded) are test (359 images). A file-order
split would put the last writers' digits only in the test set, which measures writer
shift rather than what a course wants to show; the random split matches the usual
scikit-learn ``train_test_split(stratify=y)`` practice.
"""

from __future__ import annotations

import gzip
import io

import numpy as np
from _common import DATA_DIR, stratified_random, update_manifest, wheel_member, write_npz

PACKAGE, VERSION = "scikit-learn", "1.9.1"
MEMBER = "sklearn/datasets/data/digits.csv.gz"
SPLIT_SEED = 20261127
MEMBER_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
PLATFORM = [
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
]


def main() -> None:
    raw = wheel_member(
        f"{PACKAGE}=={VERSION}", "scikit_learn-*.whl", MEMBER, MEMBER_SHA256, PLATFORM
    )
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    assert table.shape == (1797, 65) and table.min() >= 0 and table[:, :-1].max() <= 16
    image = table[:, :-1].astype(np.uint8).reshape(-1, 8, 8, 1)
    label = table[:, -1].astype(np.uint8)
    split = stratified_random(label, 0.2, seed=SPLIT_SEED)
    digest = write_npz(
        DATA_DIR / "digits.npz",
        {
            "image": image,
            "label": label,
            "split": split,
            "split_names": np.array(["train", "test"]),
            "class_names": np.array([str(d) for d in range(10)]),
        },
    )
    update_manifest(
        "digits",
        {
            "file": "digits.npz",
            "sha256": digest,
            "title": "Optical recognition of handwritten digits (8x8, values 0..16)",
            "source": f"PyPI wheel {PACKAGE}=={VERSION}, member {MEMBER} "
            f"(sha256 {MEMBER_SHA256}); originally the UCI ML repository",
            "license": "UCI dataset: CC BY 4.0; scikit-learn's packaging: BSD-3-Clause",
            "citation": "E. Alpaydin, C. Kaynak. Optical Recognition of Handwritten Digits, "
            "UCI Machine Learning Repository, 1998. https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits",
            "builder": "python datasets/build_digits.py",
            "split": f"stratified random: per class 20% (rounded) test, numpy default_rng({SPLIT_SEED}); 1438/359",
        },
    )


if __name__ == "__main__":
    main()
