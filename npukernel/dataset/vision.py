"""Vision transforms (``mindspore.dataset.vision``), numpy implementations.

Images are HWC by default, as MindSpore's datasets yield them: one sample is
``(H, W)`` or ``(H, W, C)``; a batch is ``(N, H, W)`` or ``(N, H, W, C)``. Calling a
transform on a 4-D array treats it as a batch. Inside a pipeline the batched path
runs on whole batches (see :mod:`npukernel.dataset.transforms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np

from npukernel.dataset.errors import DatasetError
from npukernel.dataset.transforms import Transform

__all__ = [
    "Border",
    "HWC2CHW",
    "Inter",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Rescale",
    "Resize",
    "ToTensor",
]


class Inter(Enum):
    """Interpolation modes for :class:`Resize`."""

    NEAREST = "nearest"
    LINEAR = "linear"
    BILINEAR = "linear"


class Border(Enum):
    """Padding modes for :class:`RandomCrop` (names as in MindSpore)."""

    CONSTANT = "constant"
    EDGE = "edge"
    REFLECT = "reflect"
    SYMMETRIC = "symmetric"


class _ImageTransform(Transform):
    """A transform of one image; 4-D input is taken as a batch."""

    def apply(self, img: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Apply to one ``(H, W[, C])`` image, or to a 4-D batch."""
        img = np.asarray(img)
        if img.ndim == 4:
            return self.apply_batch(img, rng=rng)
        if img.ndim not in (2, 3):
            raise DatasetError(
                f"For '{type(self).__name__}', the image must be (H, W), (H, W, C) or a "
                f"(N, H, W, C) batch, but got shape {img.shape}."
            )
        return self.apply_batch(img[None], rng=rng)[0]


def _channel_vector(op: str, name: str, values: float | Sequence[float]) -> np.ndarray:
    v = np.atleast_1d(np.asarray(values, dtype=np.float32))
    if v.ndim != 1 or v.size == 0:
        raise DatasetError(
            f"For '{op}', '{name}' must be a number or a 1-D sequence, got {values}."
        )
    return v


class Normalize(_ImageTransform):
    """``(x - mean) / std`` per channel, as float32.

    Args:
        mean: per-channel means (one number for grayscale), in the input's scale.
        std: per-channel standard deviations, all > 0.
        is_hwc: channels last (True) or first (False, ``(C, H, W)``).

    Example:
        >>> import numpy as np
        >>> Normalize([127.5], [127.5])(np.full((2, 2, 1), 255, np.uint8))[0, 0].tolist()
        [1.0]
    """

    def __init__(
        self, mean: float | Sequence[float], std: float | Sequence[float], is_hwc: bool = True
    ) -> None:
        self.mean = _channel_vector("Normalize", "mean", mean)
        self.std = _channel_vector("Normalize", "std", std)
        if self.mean.shape != self.std.shape:
            raise DatasetError(
                f"For 'Normalize', 'mean' and 'std' must have the same length, but got "
                f"{self.mean.size} and {self.std.size}."
            )
        if np.any(self.std <= 0):
            raise DatasetError(f"For 'Normalize', 'std' must be > 0, but got {self.std.tolist()}.")
        self.is_hwc = is_hwc
        self._scale = (1.0 / self.std).astype(np.float32)
        self._shift = (-self.mean / self.std).astype(np.float32)

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Normalize a batch ``(N, H, W[, C])`` (or ``(N, C, H, W)`` when not HWC)."""
        channels = 1 if x.ndim == 3 else (x.shape[-1] if self.is_hwc else x.shape[1])
        if self.mean.size not in (1, channels):
            raise DatasetError(
                f"For 'Normalize', 'mean' has {self.mean.size} values but the image has "
                f"{channels} channels (shape {x.shape[1:]}, is_hwc={self.is_hwc})."
            )
        shape = (-1,) if self.is_hwc or x.ndim == 3 else (-1, 1, 1)
        out = np.multiply(x, self._scale.reshape(shape), dtype=np.float32)
        out += self._shift.reshape(shape)
        return out


class Rescale(_ImageTransform):
    """``x * rescale + shift`` as float32 (e.g. ``Rescale(1 / 255, 0)``).

    Example:
        >>> import numpy as np
        >>> Rescale(1 / 255, -0.5)(np.array([[255]], np.uint8)).tolist()
        [[0.5]]
    """

    def __init__(self, rescale: float, shift: float) -> None:
        self.rescale = float(rescale)
        self.shift = float(shift)

    def apply(self, img: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Rescale any array (elementwise, so shape does not matter)."""
        return self.apply_batch(np.asarray(img), rng=rng)

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Rescale a batch."""
        out = np.multiply(x, np.float32(self.rescale), dtype=np.float32)
        if self.shift:
            out += np.float32(self.shift)
        return out


class HWC2CHW(_ImageTransform):
    """``(H, W, C) -> (C, H, W)``; a ``(H, W)`` image becomes ``(1, H, W)``.

    Example:
        >>> import numpy as np
        >>> HWC2CHW()(np.zeros((28, 28, 1))).shape
        (1, 28, 28)
    """

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Transpose a batch ``(N, H, W[, C]) -> (N, C, H, W)`` (contiguous)."""
        if x.ndim == 3:
            return np.ascontiguousarray(x[:, None])
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class ToTensor(_ImageTransform):
    """HWC image in [0, 255] to a CHW float array in [0, 1] (``vision.ToTensor``).

    Args:
        output_type: output dtype, float32 by default.

    Example:
        >>> import numpy as np
        >>> ToTensor()(np.full((2, 2, 3), 255, np.uint8)).shape
        (3, 2, 2)
    """

    def __init__(self, output_type: type | np.dtype | str = np.float32) -> None:
        self.output_type = np.dtype(output_type)

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Convert a batch ``(N, H, W[, C]) -> (N, C, H, W)`` and divide by 255."""
        xt = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        out = np.empty(xt.shape, dtype=self.output_type)
        np.divide(xt, 255, out=out, casting="unsafe")
        return out


def _pad_widths(op: str, padding: int | Sequence[int] | None) -> tuple[int, int, int, int]:
    """MindSpore order: int -> all sides; (lr, tb); (left, top, right, bottom)."""
    if padding is None:
        return (0, 0, 0, 0)
    p = (padding,) if isinstance(padding, int | np.integer) else tuple(padding)
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = (p[0], p[1], p[0], p[1])
    if len(p) != 4 or any(int(v) < 0 for v in p):
        raise DatasetError(
            f"For '{op}', 'padding' must be a non-negative int or a sequence of 2 or 4, "
            f"but got {padding}."
        )
    return tuple(int(v) for v in p)  # type: ignore[return-value]


def _size2(op: str, size: int | Sequence[int]) -> tuple[int, int]:
    s = (size, size) if isinstance(size, int | np.integer) else tuple(size)
    if len(s) != 2 or any(int(v) <= 0 for v in s):
        raise DatasetError(f"For '{op}', 'size' must be a positive int or (h, w), got {size}.")
    return int(s[0]), int(s[1])


class RandomCrop(_ImageTransform):
    """Pad, then crop a random ``size`` window (the same window for all channels).

    Each sample draws two uniforms from ``rng`` (top, left).

    Args:
        size: crop size, int or ``(h, w)``.
        padding: int, ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``.
        pad_if_needed: pad images smaller than ``size`` up to it.
        fill_value: constant for ``Border.CONSTANT`` padding.
        padding_mode: a :class:`Border`.

    Example:
        >>> import numpy as np
        >>> RandomCrop(28, padding=4)(np.zeros((28, 28, 1), np.uint8)).shape
        (28, 28, 1)
    """

    random = True

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill_value: int = 0,
        padding_mode: Border = Border.CONSTANT,
    ) -> None:
        self.size = _size2("RandomCrop", size)
        self.padding = _pad_widths("RandomCrop", padding)
        self.pad_if_needed = pad_if_needed
        self.fill_value = fill_value
        self.padding_mode = Border(padding_mode)

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Crop each image of a batch ``(N, H, W[, C])`` at its own random offset."""
        rng = rng if rng is not None else np.random.default_rng()
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed:
            bottom += max(0, h - (x.shape[1] + top + bottom))
            right += max(0, w - (x.shape[2] + left + right))
        widths = [(0, 0), (top, bottom), (left, right)] + [(0, 0)] * (x.ndim - 3)
        if any(p for pair in widths for p in pair):
            kwargs = (
                {"constant_values": self.fill_value} if self.padding_mode is Border.CONSTANT else {}
            )
            x = np.pad(x, widths, mode=self.padding_mode.value, **kwargs)
        n, hp, wp = x.shape[:3]
        if h > hp or w > wp:
            raise DatasetError(
                f"For 'RandomCrop', crop size {(h, w)} is larger than the padded image "
                f"{(hp, wp)}; pass pad_if_needed=True or more padding."
            )
        u = rng.random((n, 2))
        oy = (u[:, 0] * (hp - h + 1)).astype(np.intp)
        ox = (u[:, 1] * (wp - w + 1)).astype(np.intp)
        rows = (oy[:, None] + np.arange(h))[:, :, None]
        cols = (ox[:, None] + np.arange(w))[:, None, :]
        return x[np.arange(n)[:, None, None], rows, cols]


class RandomHorizontalFlip(_ImageTransform):
    """Mirror left-right with probability ``prob`` (one uniform draw per sample).

    Example:
        >>> import numpy as np
        >>> RandomHorizontalFlip(prob=1.0)(np.array([[1, 2, 3]])).tolist()
        [[3, 2, 1]]
    """

    random = True

    def __init__(self, prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise DatasetError(f"For 'RandomHorizontalFlip', 'prob' must be in [0, 1], got {prob}.")
        self.prob = float(prob)

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Flip the chosen images of a batch ``(N, H, W[, C])``."""
        rng = rng if rng is not None else np.random.default_rng()
        flip = rng.random(len(x)) < self.prob
        out = x.copy()
        out[flip] = x[flip][:, :, ::-1]
        return out


class Resize(_ImageTransform):
    """Resize to ``size`` by bilinear (half-pixel centres, as OpenCV) or nearest sampling.

    Args:
        size: ``(h, w)``, or an int: the shorter side becomes ``size`` and the
            aspect ratio is kept.
        interpolation: :class:`Inter` ``LINEAR``/``BILINEAR`` or ``NEAREST``.

    Integer images are rounded back to their dtype.

    Example:
        >>> import numpy as np
        >>> Resize((14, 14))(np.zeros((28, 28, 1), np.uint8)).shape
        (14, 14, 1)
    """

    def __init__(self, size: int | Sequence[int], interpolation: Inter = Inter.LINEAR) -> None:
        if isinstance(size, int | np.integer):
            if size <= 0:
                raise DatasetError(f"For 'Resize', 'size' must be positive, got {size}.")
            self.size: int | tuple[int, int] = int(size)
        else:
            self.size = _size2("Resize", size)
        self.interpolation = Inter(interpolation)

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        if isinstance(self.size, tuple):
            return self.size
        s = self.size
        return (s, max(1, int(w * s / h))) if h <= w else (max(1, int(h * s / w)), s)

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Resize every image of a batch ``(N, H, W[, C])``."""
        h, w = x.shape[1:3]
        oh, ow = self._out_hw(h, w)
        if self.interpolation is Inter.NEAREST:
            iy = np.minimum((np.arange(oh) * (h / oh)).astype(np.intp), h - 1)
            ix = np.minimum((np.arange(ow) * (w / ow)).astype(np.intp), w - 1)
            return x[:, iy][:, :, ix]
        y0, y1, wy = _linear_taps(h, oh)
        x0, x1, wx = _linear_taps(w, ow)
        extra = (1,) * (x.ndim - 3)
        wy = wy.reshape((1, oh, 1) + extra)
        wx = wx.reshape((1, 1, ow) + extra)
        xf = x.astype(np.float32, copy=False)
        rows = xf[:, y0] * (1 - wy) + xf[:, y1] * wy
        out = rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx
        if x.dtype.kind in "iub":
            info = np.iinfo(x.dtype) if x.dtype.kind != "b" else None
            out = np.rint(out)
            if info is not None:
                out = np.clip(out, info.min, info.max)
            return out.astype(x.dtype)
        return out.astype(x.dtype, copy=False)


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights: ``src = (dst + 0.5) * n_in / n_out - 0.5``, clamped."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0, n_in - 1)
    i0 = np.floor(src).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


class _FusedAffine(_ImageTransform):
    """A run of Rescale/Normalize (and a following HWC2CHW) as one pass over memory.

    ``x * scale + shift`` per channel, written straight into a CHW array when
    ``to_chw``. Built by :func:`fuse`; results equal the unfused chain up to float32
    rounding (the constants are folded in float64).
    """

    def __init__(self, scale: np.ndarray, shift: np.ndarray, to_chw: bool, parts: list) -> None:
        self.scale = scale.astype(np.float32)
        self.shift = shift.astype(np.float32)
        self.to_chw = to_chw
        self.parts = parts

    def apply_batch(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Apply the folded affine map to a batch ``(N, H, W[, C])``."""
        channels = 1 if x.ndim == 3 else x.shape[-1]
        if self.scale.size not in (1, channels):
            raise DatasetError(
                f"For 'Normalize', 'mean' has {self.scale.size} values but the image has "
                f"{channels} channels (shape {x.shape[1:]}, is_hwc=True)."
            )
        if self.to_chw:
            x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
            shape: tuple[int, ...] = (-1, 1, 1)
        else:
            shape = (-1,)
        out = np.empty(x.shape, np.float32)
        np.multiply(x, self.scale.reshape(shape), out=out, casting="unsafe")
        out += self.shift.reshape(shape)
        return out

    def __repr__(self) -> str:
        return f"Fused({self.parts!r})"


def _affine_of(op: Transform) -> tuple[np.ndarray, np.ndarray] | None:
    if isinstance(op, Rescale):
        return np.array([op.rescale]), np.array([op.shift])
    if isinstance(op, Normalize) and op.is_hwc:
        std = op.std.astype(np.float64)
        return 1.0 / std, -op.mean.astype(np.float64) / std
    return None


def fuse(ops: Sequence[object]) -> list[object]:
    """Fold runs of ``Rescale``/``Normalize(is_hwc=True)`` and a following ``HWC2CHW``.

    ``map`` calls this, so ``[Rescale, Normalize, HWC2CHW]`` reads and writes each
    batch once instead of three times. Runs whose channel counts disagree are left
    alone, so they still raise their usual error.

    Example:
        >>> len(fuse([Rescale(1 / 255, 0), Normalize([0.5], [0.5]), HWC2CHW()]))
        1
    """
    out: list[object] = []
    i = 0
    while i < len(ops):
        scale, shift, parts = np.ones(1), np.zeros(1), []
        j = i
        while j < len(ops) and isinstance(ops[j], Transform) and (ab := _affine_of(ops[j])):
            a, b = ab
            if 1 not in (a.size, scale.size) and a.size != scale.size:
                break
            scale, shift = scale * a, shift * a + b
            parts.append(ops[j])
            j += 1
        to_chw = j < len(ops) and isinstance(ops[j], HWC2CHW) and bool(parts)
        if len(parts) + to_chw >= 2:
            out.append(_FusedAffine(scale, shift, to_chw, [*parts, *([ops[j]] if to_chw else [])]))
            i = j + to_chw
        else:
            out.append(ops[i])
            i += 1
    return out
