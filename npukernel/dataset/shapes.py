"""The ``shapes`` dataset: RGB images of one circle, square or triangle, with its box.

Generated, not stored: 3,000 noisy 32x32 images take 6-8 MB even compressed, but
they regenerate in well under a second. Determinism does not rest on floating
point: every random number comes from ``Generator.random`` (PCG64, a stable bit
stream; float32 for the noise) and is turned into integers at once; the geometry
is integer arithmetic on pixel centres in half-pixel units. ``npukernel.dataset.load`` checks the
result against the SHA-256 recorded in the manifest.
"""

from __future__ import annotations

import numpy as np

CLASS_NAMES = ("circle", "square", "triangle")
DEFAULTS = {"n": 3000, "n_test": 600, "size": 32, "seed": 20240611}


def _balanced_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    keys = rng.random(n)
    return (np.arange(n) % len(CLASS_NAMES))[np.argsort(keys, kind="stable")].astype(np.uint8)


def _masks(
    labels: np.ndarray, x0: np.ndarray, y0: np.ndarray, s: np.ndarray, size: int
) -> np.ndarray:
    """Shape masks (N, size, size); each shape lies in the square [x0, x0+s) x [y0, y0+s)."""
    centre = 2 * np.arange(size) + 1  # pixel centres, half-pixel units
    X = centre[None, None, :]
    Y = centre[None, :, None]
    bx, by, ss = (v[:, None, None].astype(np.int64) for v in (x0, y0, s))
    dx = X - (2 * bx + ss)  # offset from the square's centre
    dy = Y - (2 * by + ss)
    circle = dx * dx + dy * dy <= ss * ss
    square = (np.abs(dx) <= ss) & (np.abs(dy) <= ss)
    top = Y - 2 * by  # triangle: apex at the top centre, base on the bottom edge
    triangle = (top >= 0) & (top <= 2 * ss) & (2 * np.abs(dx) <= top)
    lab = labels[:, None, None]
    return np.where(lab == 0, circle, np.where(lab == 1, square, triangle))


def _tight_boxes(masks: np.ndarray) -> np.ndarray:
    """``[x0, y0, x1, y1]`` per mask, x1/y1 exclusive."""
    cols = masks.any(axis=1)
    rows = masks.any(axis=2)
    w = masks.shape[2]
    h = masks.shape[1]
    x0 = cols.argmax(axis=1)
    x1 = w - cols[:, ::-1].argmax(axis=1)
    y0 = rows.argmax(axis=1)
    y1 = h - rows[:, ::-1].argmax(axis=1)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.uint8)


def generate(
    n: int = 3000, n_test: int = 600, size: int = 32, seed: int = 20240611
) -> dict[str, np.ndarray]:
    """Generate the shapes dataset.

    Per image: a random background colour; a shape of side 8..size*5/8 px at a random
    position, in a colour that differs from the background by 64..191 per channel
    (mod 256); then triangular noise in [-8, 8] on every channel, clipped.

    Args:
        n: images in all; the last ``n_test`` are the test split. Each split has the
            three classes as evenly as its size allows, in random order.
        n_test: size of the test split.
        size: image height and width.
        seed: the generator seed.

    Returns:
        ``image`` (n, size, size, 3) uint8, ``label`` (n,) uint8, ``bbox`` (n, 4) uint8
        ``[x0, y0, x1, y1]`` (pixels; x1, y1 exclusive), ``split`` (n,) uint8 codes
        into ``split_names``, and ``class_names``.

    Example:
        >>> d = generate(n=6, n_test=3)
        >>> d["image"].shape, d["bbox"].shape
        ((6, 32, 32, 3), (6, 4))
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    labels = np.concatenate([_balanced_labels(rng, n - n_test), _balanced_labels(rng, n_test)])
    u = rng.random((n, 9))
    smax = size * 5 // 8
    s = 8 + (u[:, 0] * (smax - 8 + 1)).astype(np.int64)
    x0 = (u[:, 1] * (size - s + 1)).astype(np.int64)
    y0 = (u[:, 2] * (size - s + 1)).astype(np.int64)
    bg = (u[:, 3:6] * 256).astype(np.int64)
    fg = (bg + 64 + (u[:, 6:9] * 128).astype(np.int64)) % 256
    masks = _masks(labels, x0, y0, s, size)
    image = np.empty((n, size, size, 3), np.uint8)
    for start in range(0, n, 500):  # bounded memory for the noise draws
        sl = slice(start, min(n, start + 500))
        m = masks[sl, :, :, None]
        clean = np.where(m, fg[sl, None, None, :], bg[sl, None, None, :]).astype(np.int16)
        noise = (rng.random((2, *clean.shape), dtype=np.float32) * 9).astype(np.int16)
        image[sl] = np.clip(clean + noise[0] + noise[1] - 8, 0, 255)
    split = np.zeros(n, np.uint8)
    split[n - n_test :] = 1
    return {
        "image": image,
        "label": labels,
        "bbox": _tight_boxes(masks),
        "split": split,
        "split_names": np.array(["train", "test"]),
        "class_names": np.array(CLASS_NAMES),
    }
