import numpy as np
import pytest

from npukernel.dataset import DatasetError, config, transforms, vision

RNG = np.random.default_rng(0)
HWC = RNG.integers(0, 256, (7, 5, 3), dtype=np.uint8)
BATCH = RNG.integers(0, 256, (4, 7, 5, 3), dtype=np.uint8)
GRAY = RNG.integers(0, 256, (7, 5), dtype=np.uint8)

# op, numpy reference on one HWC image
DETERMINISTIC = [
    (vision.Rescale(1 / 255, -0.5), lambda x: x.astype(np.float32) / 255 - 0.5),
    (
        vision.Normalize([10, 20, 30], [2, 4, 8]),
        lambda x: (x.astype(np.float32) - [10, 20, 30]) / np.float32([2, 4, 8]),
    ),
    (vision.HWC2CHW(), lambda x: x.transpose(2, 0, 1)),
    (vision.ToTensor(), lambda x: x.transpose(2, 0, 1).astype(np.float32) / 255),
    (transforms.TypeCast(np.int32), lambda x: x.astype(np.int32)),
    (vision.Resize((7, 5)), lambda x: x),
]


@pytest.mark.parametrize("op,ref", DETERMINISTIC, ids=lambda v: type(v).__name__)
def test_single_and_batched_match_reference(op, ref):
    single = op(HWC)
    np.testing.assert_allclose(single, ref(HWC), rtol=1e-6, atol=1e-6)
    batched = op.apply_batch(BATCH)
    np.testing.assert_allclose(batched, np.stack([ref(x) for x in BATCH]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(op(BATCH), batched)  # 4-D input is a batch


def test_output_dtypes_and_layouts():
    assert vision.Rescale(1, 0)(HWC).dtype == np.float32
    assert vision.Normalize([0.0] * 3, [1.0] * 3)(HWC).dtype == np.float32
    chw = vision.HWC2CHW()(HWC)
    assert chw.flags.c_contiguous and chw.shape == (3, 7, 5)
    assert vision.HWC2CHW()(GRAY).shape == (1, 7, 5)
    assert vision.ToTensor()(GRAY).shape == (1, 7, 5)


def test_normalize_chw_and_grayscale():
    chw = HWC.transpose(2, 0, 1)
    out = vision.Normalize([10, 20, 30], [2, 4, 8], is_hwc=False)(chw)
    ref = (chw.astype(np.float32) - np.float32([10, 20, 30])[:, None, None]) / np.float32(
        [2, 4, 8]
    )[:, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose(vision.Normalize(100, 50)(GRAY), (GRAY - 100.0) / 50, rtol=1e-6)
    with pytest.raises(DatasetError, match="3 channels"):
        vision.Normalize([1, 2], [1, 1])(HWC)
    with pytest.raises(DatasetError, match="std"):
        vision.Normalize([1], [0])


def bilinear_reference(img, oh, ow):
    """Half-pixel bilinear (OpenCV INTER_LINEAR), one pixel at a time."""
    h, w = img.shape[:2]
    out = np.zeros((oh, ow) + img.shape[2:])
    for i in range(oh):
        sy = min(max((i + 0.5) * h / oh - 0.5, 0), h - 1)
        y0 = int(np.floor(sy))
        y1, fy = min(y0 + 1, h - 1), sy - np.floor(sy)
        for j in range(ow):
            sx = min(max((j + 0.5) * w / ow - 0.5, 0), w - 1)
            x0 = int(np.floor(sx))
            x1, fx = min(x0 + 1, w - 1), sx - np.floor(sx)
            top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("size", [(3, 4), (14, 9), (7, 11)])
def test_resize_bilinear(size):
    img = HWC.astype(np.float32)
    np.testing.assert_allclose(vision.Resize(size)(img), bilinear_reference(img, *size), atol=1e-3)
    u8 = vision.Resize(size)(HWC)
    assert u8.dtype == np.uint8
    assert (
        np.abs(u8.astype(float) - bilinear_reference(HWC.astype(float), *size)).max() <= 0.5 + 1e-3
    )


def test_resize_nearest_and_aspect():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = vision.Resize((2, 2), vision.Inter.NEAREST)(img)
    assert out.tolist() == [[0, 2], [8, 10]]
    assert vision.Resize(14)(np.zeros((28, 56, 1), np.uint8)).shape == (14, 28, 1)
    assert vision.Resize(14)(np.zeros((56, 28), np.uint8)).shape == (28, 14)
    const = np.full((9, 9, 3), 77, np.uint8)
    assert (vision.Resize((5, 13))(const) == 77).all()


def test_random_crop_windows():
    img = np.arange(36, dtype=np.uint8).reshape(6, 6)
    config.set_seed(0)
    crops = [vision.RandomCrop(3)(img) for _ in range(50)]
    offsets = set()
    for c in crops:
        y, x = divmod(int(c[0, 0]), 6)
        np.testing.assert_array_equal(c, img[y : y + 3, x : x + 3])
        offsets.add((y, x))
    assert len(offsets) > 8 and max(offsets) <= (3, 3)
    padded = vision.RandomCrop(6, padding=2)(img)
    assert padded.shape == (6, 6) and (padded == 0).any()
    assert vision.RandomCrop((4, 8), pad_if_needed=True)(img).shape == (4, 8)
    with pytest.raises(DatasetError, match="larger than"):
        vision.RandomCrop(8)(img)
    edge = vision.RandomCrop(10, padding=2, padding_mode=vision.Border.EDGE)(img)
    assert edge[0, 0] == 0 and edge[-1, -1] == 35


def test_random_crop_batch_uses_one_window_per_sample():
    batch = np.stack([np.arange(36).reshape(6, 6) + 100 * k for k in range(8)]).astype(np.int32)
    out = vision.RandomCrop(3).apply_batch(batch, rng=np.random.default_rng(1))
    for k in range(8):
        y, x = divmod(int(out[k, 0, 0]) - 100 * k, 6)
        np.testing.assert_array_equal(out[k], batch[k, y : y + 3, x : x + 3])


def test_random_flip():
    assert (vision.RandomHorizontalFlip(1.0)(HWC) == HWC[:, ::-1]).all()
    assert (vision.RandomHorizontalFlip(0.0)(HWC) == HWC).all()
    batch = np.stack([HWC] * 200)
    out = vision.RandomHorizontalFlip(0.5).apply_batch(batch, rng=np.random.default_rng(0))
    flipped = np.array([(o == HWC[:, ::-1]).all() for o in out])
    assert all((o == HWC).all() for o in out[~flipped])
    assert 60 < flipped.sum() < 140


def test_eager_random_ops_follow_the_seed():
    config.set_seed(11)
    a = [vision.RandomCrop(3, padding=1)(HWC) for _ in range(3)]
    config.set_seed(11)
    b = [vision.RandomCrop(3, padding=1)(HWC) for _ in range(3)]
    assert all((x == y).all() for x, y in zip(a, b))


def test_one_hot_and_type_cast():
    assert transforms.OneHot(4)(np.array(2)).tolist() == [0, 0, 1, 0]
    out = transforms.OneHot(4)(np.array([0, 3]))
    assert out.tolist() == [[1, 0, 0, 0], [0, 0, 0, 1]]
    smooth = transforms.OneHot(4, smoothing_rate=0.2)(np.array(1))
    np.testing.assert_allclose(smooth, [0.05, 0.85, 0.05, 0.05], rtol=1e-6)
    assert smooth.dtype == np.float32
    with pytest.raises(DatasetError, match=r"in \[0, 4\)"):
        transforms.OneHot(4)(np.array(4))
    assert transforms.TypeCast("float16")(np.array([1])).dtype == np.float16
    with pytest.raises(DatasetError, match="dtype"):
        transforms.TypeCast("not-a-dtype")


def test_compose_matches_sequence():
    ops = [vision.Rescale(1 / 255, 0), vision.Normalize([0.5] * 3, [0.25] * 3), vision.HWC2CHW()]
    composed = transforms.Compose(ops)
    ref = HWC
    for op in ops:
        ref = op(ref)
    np.testing.assert_allclose(composed(HWC), ref)
    np.testing.assert_allclose(composed.apply_batch(BATCH), np.stack([composed(x) for x in BATCH]))
