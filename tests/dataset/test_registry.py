import json
import shutil

import numpy as np
import pytest

from npukernel.dataset import DatasetChecksumError, DatasetError, load, names
from npukernel.dataset.integrity import file_sha256
from npukernel.dataset.registry import DATA_DIR
from npukernel.errors import NpuError

EXPECTED = {
    # name: (n, train, test, image sample shape, classes, max pixel)
    "mnist5k": (5000, 4000, 1000, (28, 28, 1), [str(d) for d in range(10)], 255),
    "digits": (1797, 1438, 359, (8, 8, 1), [str(d) for d in range(10)], 16),
    "shapes": (3000, 2400, 600, (32, 32, 3), ["circle", "square", "triangle"], 255),
}


def test_names():
    assert names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_full(name):
    n, n_train, n_test, shape, classes, vmax = EXPECTED[name]
    ds = load(name)
    assert ds["image"].dims == ("sample", "height", "width", "channel")
    assert ds["image"].shape == (n, *shape)
    assert ds["image"].dtype == np.uint8
    assert int(ds["image"].max()) == vmax
    assert ds["label"].dims == ("sample",) and ds["label"].dtype == np.int32
    assert ds["class_name"].values.tolist() == classes
    assert set(np.unique(ds["label"].values)) == set(range(len(classes)))
    assert (ds["split"].values == "train").sum() == n_train
    assert (ds["split"].values == "test").sum() == n_test
    for key in ("source", "license", "builder", "sha256", "citation"):
        assert ds.attrs[key]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_split_is_stratified(name):
    n, n_train, n_test, *_ = EXPECTED[name]
    train, test = load(name, split="train"), load(name, split="test")
    assert train.sizes["sample"] == n_train and test.sizes["sample"] == n_test
    assert set(train["split"].values) == {"train"} and set(test["split"].values) == {"test"}
    assert not set(train["sample"].values) & set(test["sample"].values)
    counts = np.bincount(test["label"].values)
    assert counts.max() - counts.min() <= 0.05 * n_test  # every class is in the test split


def test_mnist_split_exact_counts():
    assert np.bincount(load("mnist5k", split="train")["label"].values).tolist() == [400] * 10
    assert np.bincount(load("mnist5k", split="test")["label"].values).tolist() == [100] * 10


def test_recorded_checksums_match_files():
    manifest = json.loads((DATA_DIR / "manifest.json").read_text())["datasets"]
    for name, entry in manifest.items():
        if entry["file"]:
            assert file_sha256(DATA_DIR / entry["file"]) == entry["sha256"], name
        assert load(name).attrs["sha256"] == entry["sha256"]


def test_shapes_boxes_match_pixels():
    ds = load("shapes", split="test")
    img, box = ds["image"].values.astype(int), ds["bbox"].values.astype(int)
    assert ds["bbox"].dims == ("sample", "coord")
    assert ds["coord"].values.tolist() == ["x0", "y0", "x1", "y1"]
    assert (box[:, 0] < box[:, 2]).all() and (box[:, 1] < box[:, 3]).all()
    assert box.min() >= 0 and box.max() <= 32
    for i in range(0, len(img), 37):
        x0, y0, x1, y1 = box[i]
        inside = img[i, y0:y1, x0:x1].reshape(-1, 3)
        corner = img[i, 0, 0] if (x0, y0) != (0, 0) else img[i, -1, -1]
        # the shape's colour differs from the background by >= 64 per channel (mod 256)
        far = np.abs(inside - corner).min(axis=1) > 40
        assert far.any()


def test_unknown_name_and_split():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'.*mnist5k"):
        load("cifar")
    with pytest.raises(DatasetError, match="split='valid'"):
        load("digits", split="valid")


@pytest.fixture
def data_copy(tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(DATA_DIR, dst)
    return dst


def test_corrupt_file_gives_clear_error(data_copy):
    path = data_copy / "digits.npz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetChecksumError, match=r"digits\.npz.*corrupt.*SHA-256") as info:
        load("digits", data_dir=data_copy)
    assert isinstance(info.value, NpuError)
    assert load("digits").sizes["sample"] == 1797  # the installed file is untouched


def test_missing_file(data_copy):
    (data_copy / "mnist5k.npz").unlink()
    with pytest.raises(DatasetError, match="mnist5k.npz.*missing"):
        load("mnist5k", data_dir=data_copy)


def test_generated_data_checked_against_manifest(data_copy):
    path = data_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["datasets"]["shapes"]["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    with pytest.raises(DatasetChecksumError, match="generated dataset"):
        load("shapes", data_dir=data_copy)


def test_load_returns_independent_copies():
    a = load("digits")
    a["image"].values[:] = 0
    assert int(load("digits")["image"].max()) == 16
