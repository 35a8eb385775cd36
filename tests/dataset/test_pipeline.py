import importlib.util

import numpy as np
import pytest
import xarray as xr

from npukernel.dataset import (
    DatasetError,
    DictIterator,
    GeneratorDataset,
    NumpySlicesDataset,
    TupleIterator,
    config,
    from_xarray,
    load,
    transforms,
    vision,
)


def values(ds, column=0):
    return [np.asarray(row[column]).tolist() for row in ds.create_tuple_iterator(output_numpy=True)]


def arange_ds(n=10, **kw):
    return NumpySlicesDataset({"x": np.arange(n), "y": np.arange(n) * 10}, shuffle=False, **kw)


class RandomAccess:
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return np.full((2,), i), i * 10

    def __len__(self):
        return self.n


def gen_fn(n=10):
    def gen():
        for i in range(n):
            yield np.full((2,), i), i * 10

    return gen


# every kind of source, unshuffled, with the same content: x = [i, i], y = 10 i
SOURCES = {
    "slices": lambda: NumpySlicesDataset(
        {"x": np.repeat(np.arange(10), 2).reshape(10, 2), "y": np.arange(10) * 10}, shuffle=False
    ),
    "random_access": lambda: GeneratorDataset(RandomAccess(10), ["x", "y"], shuffle=False),
    "generator": lambda: GeneratorDataset(gen_fn(), ["x", "y"]),
    "xarray": lambda: from_xarray(
        xr.Dataset(
            {
                "x": (("sample", "k"), np.repeat(np.arange(10), 2).reshape(10, 2)),
                "y": ("sample", np.arange(10) * 10),
            }
        ),
        columns=("x", "y"),
    ),
}


@pytest.fixture(params=sorted(SOURCES))
def source(request):
    return SOURCES[request.param]()


def first(ds):
    return [row[0][0] if np.ndim(row[0]) else row[0] for row in values_rows(ds)]


def values_rows(ds):
    return [
        [np.asarray(v).tolist() for v in row] for row in ds.create_tuple_iterator(output_numpy=True)
    ]


def test_sources_agree(source):
    rows = values_rows(source)
    assert rows == [[[i, i], 10 * i] for i in range(10)]
    assert source.get_col_names() == ["x", "y"]
    assert source.get_dataset_size() == 10


@pytest.mark.parametrize("drop", [False, True])
def test_batch(source, drop):
    ds = source.batch(4, drop_remainder=drop)
    batches = list(ds.create_tuple_iterator(output_numpy=True))
    sizes = [len(b[1]) for b in batches]
    assert sizes == ([4, 4] if drop else [4, 4, 2])
    assert ds.get_dataset_size() == len(sizes)
    assert ds.get_batch_size() == 4
    assert batches[0][0].shape == (4, 2)
    assert batches[1][1].tolist() == [40, 50, 60, 70]


def test_repeat_take_skip(source):
    assert [r[1] for r in values_rows(source.repeat(2))] == [10 * i for i in range(10)] * 2
    assert [r[1] for r in values_rows(source.take(3))] == [0, 10, 20]
    assert [r[1] for r in values_rows(source.skip(7))] == [70, 80, 90]
    assert [r[1] for r in values_rows(source.skip(8).repeat(2).take(3))] == [80, 90, 80]
    assert source.repeat(3).get_dataset_size() == 30
    assert source.skip(20).get_dataset_size() == 0
    assert source.take(-1).get_dataset_size() == 10


def test_infinite_repeat():
    ds = arange_ds(3).repeat()
    assert [r[0] for r in values_rows(ds.take(7))] == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(DatasetError, match="forever"):
        ds.get_dataset_size()
    assert arange_ds(3).repeat(-1).batch(2).take(4).get_dataset_size() == 4


def test_project_rename_map_columns(source):
    ds = source.rename("x", "image").project(["y", "image"])
    assert ds.get_col_names() == ["y", "image"]
    row = next(ds.create_dict_iterator(output_numpy=True))
    assert set(row) == {"y", "image"}
    two = source.map(lambda x: (x.sum(), x * 2), input_columns="x", output_columns=["s", "d"])
    assert two.get_col_names() == ["s", "d", "y"]
    assert values_rows(two)[3] == [6, [6, 6], 30]
    with pytest.raises(DatasetError, match="unknown column"):
        source.project("z")
    with pytest.raises(DatasetError, match="return 2 value"):
        list(
            source.map(lambda x: (x, x), input_columns="x").create_tuple_iterator(output_numpy=True)
        )


def test_shuffle_is_a_permutation_and_deterministic(source):
    config.set_seed(123)
    ds = source.shuffle(100)
    a, b = [r[1] for r in values_rows(ds)], [r[1] for r in values_rows(ds)]
    assert sorted(a) == sorted(b) == [10 * i for i in range(10)]
    assert a != b  # each epoch reshuffles
    config.set_seed(123)
    assert [r[1] for r in values_rows(ds)] == a  # the same seed replays the same order
    config.set_seed(124)
    assert [r[1] for r in values_rows(ds)] != a


def test_small_buffer_shuffle_is_local():
    config.set_seed(0)
    order = [r[0] for r in values_rows(arange_ds(1000).shuffle(4))]
    assert sorted(order) == list(range(1000))
    assert order != list(range(1000))
    # a buffer of 4 can hold an item back, but never move it forward by more than 3
    assert all(v <= i + 3 for i, v in enumerate(order))


def test_source_shuffle_default_follows_mindspore():
    config.set_seed(5)
    assert NumpySlicesDataset({"x": np.arange(50)}).get_col_names() == ["x"]
    shuffled = [r[0] for r in values_rows(NumpySlicesDataset({"x": np.arange(50)}))]
    assert sorted(shuffled) == list(range(50)) and shuffled != list(range(50))
    assert [r[0] for r in values_rows(GeneratorDataset(gen_fn(5), ["x", "y"]))][0] == [0, 0]
    with pytest.raises(DatasetError, match="random-access"):
        GeneratorDataset(gen_fn(), ["x", "y"], shuffle=True)


def test_split_sizes_and_disjointness():
    config.set_seed(7)
    ds = NumpySlicesDataset({"x": np.arange(100)})  # shuffled source
    train, val, test = ds.split([0.7, 0.2, 0.1])
    sizes = [p.get_dataset_size() for p in (train, val, test)]
    assert sizes == [70, 20, 10]
    parts = [{r[0] for r in values_rows(p)} for p in (train, val, test)]
    assert set().union(*parts) == set(range(100))
    assert sum(len(p) for p in parts) == 100
    # the parts are fixed across epochs, the order within a shuffled part is not
    again = [{r[0] for r in values_rows(p)} for p in (train, val, test)]
    assert again == parts
    a, b = values_rows(train), values_rows(train)
    assert a != b
    counts = arange_ds(10).split([3, 7], randomize=False)
    assert [r[0] for r in values_rows(counts[0])] == [0, 1, 2]
    with pytest.raises(DatasetError, match="sum to the dataset size"):
        arange_ds(10).split([3, 4])
    with pytest.raises(DatasetError, match="random-access"):
        GeneratorDataset(gen_fn(), ["x", "y"]).split([0.5, 0.5])


def test_split_rounding_goes_to_first_part():
    parts = arange_ds(10).split([0.33, 0.33, 0.34])
    assert [p.get_dataset_size() for p in parts] == [
        4,
        3,
        3,
    ]  # round: 3, 3, 3; the missing row goes to the first


def test_map_per_sample_equals_batched():
    images = np.random.default_rng(0).integers(0, 256, (37, 6, 5, 3), dtype=np.uint8)
    ops = [
        vision.Rescale(1 / 255, 0),
        vision.Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4]),
        vision.HWC2CHW(),
    ]
    base = NumpySlicesDataset({"image": images}, shuffle=False)
    batched = values(base.map(ops).batch(8), 0)  # vectorised path
    plain = values(base.map([lambda im, op=op: op(im) for op in ops]).batch(8), 0)  # per sample
    rows = values(
        GeneratorDataset(lambda: ((im,) for im in images), ["image"]).map(ops).batch(8), 0
    )
    for a, b, c in zip(batched, plain, rows):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)
    assert len(batched) == 5


def test_random_map_per_sample_equals_batched():
    images = np.random.default_rng(1).integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    ops = [vision.RandomCrop(6, padding=2), vision.RandomHorizontalFlip()]
    base = NumpySlicesDataset({"image": images}, shuffle=False)
    config.set_seed(3)
    batched = np.concatenate(values(base.map(ops).batch(6), 0))  # vectorised path
    config.set_seed(3)
    unbatched = np.stack(values(base.map(ops), 0))  # adding .batch() changes nothing
    config.set_seed(3)
    per_sample = GeneratorDataset(lambda: ((im,) for im in images), ["image"]).map(ops)
    rows = np.stack(values(per_sample, 0))  # op.apply once per row
    np.testing.assert_array_equal(batched, unbatched)
    np.testing.assert_array_equal(batched, rows)
    config.set_seed(4)
    assert not np.array_equal(batched, np.concatenate(values(base.map(ops).batch(6), 0)))


def test_map_after_batch_sees_whole_batches():
    ds = arange_ds(10).batch(4).map(lambda x: x.sum(), input_columns="x")
    assert [r[0] for r in values_rows(ds)] == [6, 22, 17]
    ds = arange_ds(6).batch(3).map(transforms.OneHot(6), input_columns="x")
    assert values_rows(ds)[0][0] == np.eye(6, dtype=int)[:3].tolist()


def test_ops_after_batch():
    config.set_seed(0)
    ds = arange_ds(10).batch(2).shuffle(10).repeat(2).skip(1).take(6)
    rows = values_rows(ds)
    assert len(rows) == 6 and all(len(r[0]) == 2 for r in rows)
    assert all(r[0][1] == r[0][0] + 1 for r in rows)  # batches stay intact


def test_ragged_batch_error():
    ds = GeneratorDataset(lambda: ((np.zeros(i + 1),) for i in range(4)), ["x"]).batch(2)
    with pytest.raises(DatasetError, match="different shapes"):
        list(ds.create_tuple_iterator(output_numpy=True))


def test_iterators_and_epochs():
    ds = arange_ds(5).batch(2)
    it = ds.create_tuple_iterator(num_epochs=2, output_numpy=True)
    assert isinstance(it, TupleIterator)
    epoch1 = [b[0].tolist() for b in it]
    epoch2 = [b[0].tolist() for b in it]
    assert epoch1 == epoch2 == [[0, 1], [2, 3], [4]]
    assert list(it) == []  # two epochs, then done
    d = ds.create_dict_iterator(num_epochs=1, output_numpy=True)
    assert isinstance(d, DictIterator)
    row = next(d)
    assert list(row) == ["x", "y"] and isinstance(row["x"], np.ndarray)
    plain = [batch for batch in ds]  # plain iteration: one epoch
    assert len(plain) == 3 and isinstance(plain[0], list)


@pytest.mark.skipif(
    importlib.util.find_spec("npukernel.tensor") is None, reason="npukernel.tensor not yet built"
)
def test_tensor_output():
    from npukernel.tensor import Tensor

    row = next(arange_ds(4).batch(2).create_tuple_iterator())
    assert all(isinstance(v, Tensor) for v in row)


def test_output_shapes_and_types():
    ds = arange_ds(5).map(vision.Rescale(0.5, 0), input_columns="x").batch(2)
    assert ds.output_shapes() == [[2], [2]]
    assert ds.output_types() == [np.dtype(np.float32), np.dtype(np.int64)]


def test_generator_dataset_size_counted_once():
    calls = []

    def gen():
        calls.append(1)
        yield from ((i,) for i in range(7))

    ds = GeneratorDataset(gen, ["x"]).batch(3)
    assert ds.get_dataset_size() == 3
    assert ds.get_dataset_size() == 3 and len(calls) == 1


def test_numpy_slices_inputs():
    assert NumpySlicesDataset(np.zeros((4, 2))).get_col_names() == ["column_0"]
    assert NumpySlicesDataset(([1, 2], [3, 4]), column_names=["a", "b"]).get_col_names() == [
        "a",
        "b",
    ]
    with pytest.raises(DatasetError, match="same length"):
        NumpySlicesDataset({"a": [1, 2], "b": [1]})
    with pytest.raises(DatasetError, match="num_samples"):
        NumpySlicesDataset({"a": [1]}, num_samples=-2)
    assert NumpySlicesDataset({"a": np.arange(10)}, num_samples=4).get_dataset_size() == 4


def test_xarray_round_trip_keeps_labels_and_provenance():
    src = load("digits", split="test")
    config.set_seed(0)
    back = from_xarray(src, columns=("image", "label")).shuffle(1000).to_xarray()
    assert back["image"].dims == src["image"].dims
    assert back.attrs["sha256"] == src.attrs["sha256"]
    assert back["class_name"].values.tolist() == src["class_name"].values.tolist()
    # the sample coordinate travels with the rows through the shuffle
    by_sample = src.set_index(sample="sample").sel(sample=back["sample"].values)
    np.testing.assert_array_equal(by_sample["image"].values, back["image"].values)
    np.testing.assert_array_equal(by_sample["label"].values, back["label"].values)
    mapped = from_xarray(src).map(vision.HWC2CHW(), "image").batch(50).to_xarray()
    assert mapped["image"].shape == (359, 1, 8, 8)
    assert mapped["image"].dims[0] == "sample"


def test_errors_are_actionable():
    with pytest.raises(DatasetError, match="batch_size"):
        arange_ds().batch(0)
    with pytest.raises(DatasetError, match="buffer_size"):
        arange_ds().shuffle(1)
    with pytest.raises(DatasetError, match="lack the dimension|not in the dataset"):
        from_xarray(load("digits"), columns=("image", "class_name"))
    with pytest.raises(DatasetError, match="non-negative int"):
        config.set_seed(-1)
