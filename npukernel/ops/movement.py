"""Movement operators: change shape, order or placement of elements, compute nothing.

On an Ascend chip these are DMA work (the MTE units); here they are numpy stride
manipulations — ``reshape``/``transpose``/``broadcast_to``/basic slicing return views
that share the input's storage — and copies where the layout must change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import DTypeError, ShapeError, ValueRangeError
from npukernel.ops import functional as F
from npukernel.ops.opdef import MOVEMENT, OpDef, register


def _copy_cost(inputs: list, outputs: list, attrs: dict) -> tuple[int, int]:
    return 0, sum(a.nbytes for a in inputs) + sum(o.nbytes for o in outputs)


def _view_cost(inputs: list, outputs: list, attrs: dict) -> tuple[int, int]:
    return 0, 0


def _axis(op: str, axis: Any, ndim: int, arg: str = "axis") -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ShapeError(f"For '{op}', '{arg}' must be an int, but got {axis!r}.")
    if not -ndim <= axis < ndim:
        raise ShapeError(f"For '{op}', '{arg}' must be in [{-ndim}, {ndim}), but got {axis}.")
    return int(axis) % ndim


def _ints(op: str, arg: str, value: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ShapeError(
            f"For '{op}', '{arg}' must be a tuple of ints, but got {value!r}."
        ) from None
    if any(isinstance(v, float) for v in value):
        raise ShapeError(f"For '{op}', '{arg}' must be a tuple of ints, but got {value!r}.")
    return out


# -- reshape -------------------------------------------------------------------------------


def _reshape_check(x: np.ndarray, shape: Any) -> dict:
    shape = _ints("reshape", "shape", shape)
    if sum(1 for s in shape if s == -1) > 1 or any(s < -1 for s in shape):
        raise ShapeError(
            f"For 'reshape', 'shape' may hold one -1 and no other negative, but got {shape}."
        )
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or x.size % known:
            raise ShapeError(
                f"For 'reshape', cannot reshape {x.shape} ({x.size} elements) into {shape}."
            )
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    elif known != x.size:
        raise ShapeError(
            f"For 'reshape', cannot reshape {x.shape} ({x.size} elements) into {shape}."
        )
    return {"shape": shape}


def _reshape(x: np.ndarray, shape: tuple) -> np.ndarray:
    return x.reshape(shape)


def _mv_examples(rng: np.random.Generator, attrs: list[dict], shape: tuple = (2, 3, 4)) -> list:
    x = rng.standard_normal(shape)
    return [([x], a) for a in attrs] + [([x.transpose()], a) for a in attrs[:1]]


register(OpDef("reshape", MOVEMENT, _reshape, _reshape, check=_reshape_check, view=True,
               grad=lambda n, dy: (F.reshape(dy, n.inputs[0].shape),), cost=_view_cost,
               examples=lambda r: _mv_examples(r, [{"shape": (4, -1)}, {"shape": (24,)}, {"shape": (2, 1, 12)}]),
               bad=lambda: [([np.ones((2, 3))], {"shape": (4, 2)}, ShapeError),
                            ([np.ones((2, 3))], {"shape": (-1, -1)}, ShapeError)],
               doc="Same elements, new shape."))  # fmt: skip


def _contiguous(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).copy() if x.flags.c_contiguous else np.ascontiguousarray(x)


register(OpDef("contiguous", MOVEMENT, _contiguous, _contiguous, grad=lambda n, dy: (dy,),
               cost=_copy_cost, examples=lambda r: _mv_examples(r, [{}]), doc="C-contiguous copy."))  # fmt: skip


# -- transpose -------------------------------------------------------------------------------


def _transpose_check(x: np.ndarray, perm: Any = None) -> dict:
    if perm is None:
        return {"perm": tuple(range(x.ndim - 1, -1, -1))}
    perm = _ints("transpose", "input_perm", perm)
    if sorted(p % x.ndim if x.ndim else p for p in perm) != list(range(x.ndim)) or any(
        not -x.ndim <= p < x.ndim for p in perm
    ):
        raise ShapeError(
            f"For 'transpose', 'input_perm' must be a permutation of the {x.ndim} axes, but got {perm}."
        )
    return {"perm": tuple(p % x.ndim for p in perm)}


def _transpose(x: np.ndarray, perm: tuple) -> np.ndarray:
    return x.transpose(perm)


register(OpDef("transpose", MOVEMENT, _transpose, _transpose, check=_transpose_check, view=True,
               grad=lambda n, dy: (F.transpose(dy, tuple(np.argsort(n.attrs["perm"]).tolist())),),
               cost=_view_cost,
               examples=lambda r: _mv_examples(r, [{"perm": (2, 0, 1)}, {"perm": None}, {"perm": (0, -1, 1)}]),
               bad=lambda: [([np.ones((2, 3))], {"perm": (0, 0)}, ShapeError),
                            ([np.ones((2, 3))], {"perm": (0, 1, 2)}, ShapeError)],
               doc="Permute axes."))  # fmt: skip


# -- broadcast / expand / squeeze -------------------------------------------------------------


def _broadcast_check(x: np.ndarray, shape: Any) -> dict:
    shape = _ints("broadcast_to", "shape", shape)
    if len(shape) < x.ndim:
        raise ShapeError(f"For 'broadcast_to', cannot broadcast {x.shape} to fewer dims {shape}.")
    lead = len(shape) - x.ndim
    out = list(shape)
    for i, n in enumerate(x.shape):
        t = shape[lead + i]
        if t == -1:
            out[lead + i] = n
        elif n != t and n != 1:
            raise ShapeError(f"For 'broadcast_to', cannot broadcast {x.shape} to {shape}.")
    if any(s < 0 for s in out):
        raise ShapeError(
            f"For 'broadcast_to', -1 is only allowed on existing dims, but got {shape}."
        )
    return {"shape": tuple(out)}


def _broadcast(x: np.ndarray, shape: tuple) -> np.ndarray:
    return np.broadcast_to(x, shape)


register(OpDef("broadcast_to", MOVEMENT, _broadcast, _broadcast, check=_broadcast_check, view=True,
               grad=lambda n, dy: (F.sum_to_shape(dy, n.inputs[0].shape),), cost=_view_cost,
               examples=lambda r: [([r.standard_normal((3, 1))], {"shape": (2, 3, 4)}),
                                   ([r.standard_normal((4,))], {"shape": (3, -1)})],
               bad=lambda: [([np.ones((2, 3))], {"shape": (4, 3)}, ShapeError)],
               doc="Broadcast to a shape (view)."))  # fmt: skip


def _expand_check(x: np.ndarray, axis: Any) -> dict:
    return {"axis": _axis("expand_dims", axis, x.ndim + 1)}


def _expand(x: np.ndarray, axis: int) -> np.ndarray:
    return np.expand_dims(x, axis)


register(OpDef("expand_dims", MOVEMENT, _expand, _expand, check=_expand_check, view=True,
               grad=lambda n, dy: (F.reshape(dy, n.inputs[0].shape),), cost=_view_cost,
               examples=lambda r: _mv_examples(r, [{"axis": 0}, {"axis": -1}, {"axis": 2}]),
               bad=lambda: [([np.ones((2, 3))], {"axis": 5}, ShapeError)],
               doc="Insert a size-1 axis."))  # fmt: skip


def _squeeze_check(x: np.ndarray, axis: Any = None) -> dict:
    if axis is None:
        return {"axis": tuple(i for i, n in enumerate(x.shape) if n == 1)}
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(sorted({_axis("squeeze", a, max(x.ndim, 1)) for a in items}))
    for a in axes:
        if a >= x.ndim or x.shape[a] != 1:
            raise ShapeError(f"For 'squeeze', axis {a} of shape {x.shape} must have size 1.")
    return {"axis": axes}


def _squeeze(x: np.ndarray, axis: tuple) -> np.ndarray:
    return np.squeeze(x, axis=axis)


register(OpDef("squeeze", MOVEMENT, _squeeze, _squeeze, check=_squeeze_check, view=True,
               grad=lambda n, dy: (F.reshape(dy, n.inputs[0].shape),), cost=_view_cost,
               examples=lambda r: _mv_examples(r, [{"axis": None}, {"axis": 1}], (2, 1, 3, 1)),
               bad=lambda: [([np.ones((2, 3))], {"axis": 0}, ShapeError)],
               doc="Remove size-1 axes."))  # fmt: skip


# -- concat / stack / split --------------------------------------------------------------------


def _concat_check(*xs: np.ndarray, axis: Any = 0) -> dict:
    nd = xs[0].ndim
    if nd == 0:
        raise ShapeError("For 'concat', inputs must be at least 1-D, but got a 0-D tensor.")
    ax = _axis("concat", axis, nd)
    for i, x in enumerate(xs):
        if (
            x.ndim != nd
            or x.shape[:ax] + x.shape[ax + 1 :] != xs[0].shape[:ax] + xs[0].shape[ax + 1 :]
        ):
            raise ShapeError(
                f"For 'concat', all inputs must match except along axis {ax}, but input 0 has "
                f"shape {xs[0].shape} and input {i} has shape {x.shape}."
            )
    return {"axis": ax}


def _concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=axis)


def _concat_grad(n, dy):
    sizes = [t.shape[n.attrs["axis"]] for t in n.inputs]
    if len(sizes) == 1:
        return (dy,)
    return F.split(dy, sizes, n.attrs["axis"])


register(OpDef("concat", MOVEMENT, _concat, _concat, check=_concat_check, grad=_concat_grad,
               cost=_copy_cost,
               examples=lambda r: [([r.standard_normal((2, 3)), r.standard_normal((4, 3))], {"axis": 0}),
                                   ([r.standard_normal((2, 3)), r.standard_normal((2, 1)).T.T], {"axis": -1}),
                                   ([r.standard_normal((2, 0)), r.standard_normal((2, 2))], {"axis": 1})],
               bad=lambda: [([np.ones((2, 3)), np.ones((2, 4))], {"axis": 0}, ShapeError),
                            ([np.ones(2)], {"axis": 1}, ShapeError)],
               doc="Join along an existing axis."))  # fmt: skip


def _stack_check(*xs: np.ndarray, axis: Any = 0) -> dict:
    ax = _axis("stack", axis, xs[0].ndim + 1)
    for i, x in enumerate(xs):
        if x.shape != xs[0].shape:
            raise ShapeError(
                f"For 'stack', all inputs must have one shape, but input 0 has {xs[0].shape} "
                f"and input {i} has {x.shape}."
            )
    return {"axis": ax}


def _stack(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.stack(xs, axis=axis)


def _stack_grad(n, dy):
    ax = n.attrs["axis"]
    parts = F.split(dy, 1, ax) if len(n.inputs) > 1 else (dy,)
    return tuple(F.squeeze(p, ax) for p in parts)


register(OpDef("stack", MOVEMENT, _stack, _stack, check=_stack_check, grad=_stack_grad, cost=_copy_cost,
               examples=lambda r: [([r.standard_normal((2, 3)), r.standard_normal((2, 3))], {"axis": 0}),
                                   ([r.standard_normal((2, 3)), r.standard_normal((2, 3))], {"axis": -1})],
               bad=lambda: [([np.ones((2, 3)), np.ones((3, 2))], {"axis": 0}, ShapeError)],
               doc="Join along a new axis."))  # fmt: skip


def _split_check(x: np.ndarray, sections: Any, axis: Any = 0) -> dict:
    if x.ndim == 0:
        raise ShapeError("For 'split', 'tensor' must be at least 1-D, but got a 0-D tensor.")
    ax = _axis("split", axis, x.ndim)
    n = x.shape[ax]
    if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
        if sections <= 0:
            raise ValueRangeError(
                f"For 'split', 'split_size_or_sections' must be positive, but got {sections}."
            )
        sizes = [sections] * (n // sections) + ([n % sections] if n % sections else [])
        sizes = sizes or [0]
    else:
        sizes = list(_ints("split", "split_size_or_sections", sections))
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ShapeError(
                f"For 'split', the sections {sizes} must be non-negative and sum to {n} (axis {ax} of {x.shape})."
            )
    return {"sizes": tuple(sizes), "axis": ax}


def _split_grad(n, *dys):
    parts = [d if d is not None else F.zeros_like(n.output(i)) for i, d in enumerate(dys)]
    return (F.concat(parts, n.attrs["axis"]),)


def _split(x: np.ndarray, sizes: tuple, axis: int) -> tuple:
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


register(OpDef("split", MOVEMENT, _split, _split, check=_split_check, n_outputs=-1, view=True,
               grad=_split_grad, cost=_view_cost,
               examples=lambda r: [([r.standard_normal((5, 3))], {"sections": 2, "axis": 0}),
                                   ([r.standard_normal((2, 6))], {"sections": [1, 2, 3], "axis": 1})],
               bad=lambda: [([np.ones((2, 3))], {"sections": [1, 1], "axis": 1}, ShapeError),
                            ([np.ones((2, 3))], {"sections": 0, "axis": 1}, ValueRangeError)],
               doc="Split into chunks."))  # fmt: skip


# -- indexing ---------------------------------------------------------------------------------


def _getitem_check(x: np.ndarray, index: Any) -> dict:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, np.ndarray) and p.dtype.kind not in "iub":
            raise DTypeError(f"For 'getitem', index arrays must be int or bool, but got {p.dtype}.")
        if isinstance(p, float):
            raise DTypeError(
                f"For 'getitem', indices must be ints, slices or arrays, but got {p!r}."
            )
    try:
        np.broadcast_to(np.empty((), x.dtype), x.shape)[index]
    except (IndexError, ValueError, TypeError) as exc:
        raise ShapeError(
            f"For 'getitem', index {index!r} is invalid for shape {x.shape}: {exc}."
        ) from None
    return {"index": index}


def _getitem(x: np.ndarray, index: Any) -> np.ndarray:
    out = x[index]
    return out if isinstance(out, np.ndarray) else np.asarray(out)


def _getitem_back(dy: np.ndarray, shape: tuple, index: Any) -> np.ndarray:
    out = np.zeros(shape, dy.dtype)
    np.add.at(out, index, dy)
    return out


register(OpDef("getitem_backward", MOVEMENT, _getitem_back, _getitem_back, cost=_copy_cost,
               doc="Scatter-add of a getitem gradient."))  # fmt: skip


def _getitem_grad(n, dy):
    from npukernel.ops.dispatch import apply
    from npukernel.ops.opdef import OPS

    return (apply(OPS["getitem_backward"], dy, shape=n.inputs[0].shape, index=n.attrs["index"]),)


register(OpDef("getitem", MOVEMENT, _getitem, _getitem, check=_getitem_check, view=True,
               grad=_getitem_grad, cost=_copy_cost,
               examples=lambda r: _mv_examples(r, [
                   {"index": (slice(None, None, 2), 1)},
                   {"index": (Ellipsis, slice(1, None))},
                   {"index": np.array([1, 0, 1])},
                   {"index": (None, 0, slice(None, None, -1))},
               ]),
               bad=lambda: [([np.ones((2, 3))], {"index": 5}, ShapeError),
                            ([np.ones((2, 3))], {"index": (0, 0, 0)}, ShapeError),
                            ([np.ones((2, 3))], {"index": np.array([0.5])}, DTypeError)],
               doc="Indexing and slicing with steps."))  # fmt: skip


# -- pad ---------------------------------------------------------------------------------------

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "edge": "edge"}


def _pad_check(x: np.ndarray, padding: Any, mode: str = "constant", value: Any = 0) -> dict:
    pads = _ints("pad", "padding", padding)
    if len(pads) % 2 or len(pads) // 2 > x.ndim:
        raise ShapeError(
            f"For 'pad', 'padding' must hold 2 values per padded dim (at most {2 * x.ndim}), but got {pads}."
        )
    if any(p < 0 for p in pads):
        raise ValueRangeError(f"For 'pad', 'padding' must be non-negative, but got {pads}.")
    if mode not in _PAD_MODES:
        raise ValueRangeError(
            f"For 'pad', 'mode' must be one of {sorted(_PAD_MODES)}, but got {mode!r}."
        )
    widths = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        widths[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    if mode == "reflect" and any(
        w[0] >= n or w[1] >= n for w, n in zip(widths, x.shape) if w != (0, 0)
    ):
        raise ShapeError(
            f"For 'pad', reflect padding must be smaller than the dim, but got {pads} for {x.shape}."
        )
    return {"widths": tuple(widths), "mode": _PAD_MODES[mode], "value": value}


def _pad(x: np.ndarray, widths: tuple, mode: str, value: Any) -> np.ndarray:
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=mode)


def _pad_grad(n, dy):
    if n.attrs["mode"] != "constant":
        from npukernel.errors import NpuError

        raise NpuError("For 'pad', only constant padding is differentiable.")
    index = tuple(slice(lo, dy.shape[i] - hi) for i, (lo, hi) in enumerate(n.attrs["widths"]))
    return (F.getitem(dy, index),)


register(OpDef("pad", MOVEMENT, _pad, _pad, check=_pad_check, grad=_pad_grad, cost=_copy_cost,
               examples=lambda r: [([r.standard_normal((2, 3, 4))], {"padding": (1, 2)}),
                                   ([r.standard_normal((2, 3, 4))], {"padding": (1, 0, 0, 2), "value": 1.5})],
               bad=lambda: [([np.ones((2, 3))], {"padding": (1,)}, ShapeError),
                            ([np.ones((2, 3))], {"padding": (1, 1), "mode": "wrap"}, ValueRangeError)],
               doc="Pad the trailing dims."))  # fmt: skip


# -- gather / one_hot ---------------------------------------------------------------------------


def _gather_check(x: np.ndarray, idx: np.ndarray, axis: Any) -> dict:
    if idx.dtype.kind not in "iu":
        raise DTypeError(
            f"For 'gather', 'input_indices' must be an int tensor, but got {idx.dtype}."
        )
    if x.ndim == 0:
        raise ShapeError("For 'gather', 'input_params' must be at least 1-D.")
    ax = _axis("gather", axis, x.ndim)
    n = x.shape[ax]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ShapeError(
            f"For 'gather', 'input_indices' must be in [{-n}, {n}) for axis {ax} of {x.shape}, "
            f"but got values in [{idx.min()}, {idx.max()}]."
        )
    return {"axis": ax}


def _gather(x: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    return np.take(x, idx, axis=axis)


def _gather_back(dy: np.ndarray, idx: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    out = np.zeros(shape, dy.dtype)
    index = (slice(None),) * axis + (idx % shape[axis],)
    np.add.at(out, index, dy)
    return out


register(OpDef("gather_backward", MOVEMENT, _gather_back, _gather_back, cost=_copy_cost,
               doc="Scatter-add of a gather gradient."))  # fmt: skip


def _gather_grad(n, dy):
    from npukernel.ops.dispatch import apply
    from npukernel.ops.opdef import OPS

    g = apply(
        OPS["gather_backward"], dy, n.inputs[1], shape=n.inputs[0].shape, axis=n.attrs["axis"]
    )
    return g, None


register(OpDef("gather", MOVEMENT, _gather, _gather, check=_gather_check, grad=_gather_grad,
               diff_inputs=(0,), cost=_copy_cost,
               examples=lambda r: [([r.standard_normal((5, 3)), np.array([4, 0, 0, -1])], {"axis": 0}),
                                   ([r.standard_normal((2, 5)), np.array([[1, 2], [3, 3]])], {"axis": 1})],
               bad=lambda: [([np.ones((2, 3)), np.array([3])], {"axis": 0}, ShapeError),
                            ([np.ones((2, 3)), np.array([0.5])], {"axis": 0}, DTypeError)],
               doc="Take slices along an axis."))  # fmt: skip


def _one_hot_check(
    idx: np.ndarray, depth: Any, on_value: float, off_value: float, axis: Any
) -> dict:
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"For 'one_hot', 'indices' must be an int tensor, but got {idx.dtype}.")
    if not isinstance(depth, (int, np.integer)) or depth <= 0:
        raise ValueRangeError(f"For 'one_hot', 'depth' must be a positive int, but got {depth!r}.")
    ax = _axis("one_hot", axis, idx.ndim + 1)
    return {"depth": int(depth), "on_value": on_value, "off_value": off_value, "axis": ax}


def _one_hot(
    idx: np.ndarray, depth: int, on_value: float, off_value: float, axis: int
) -> np.ndarray:
    hot = np.expand_dims(idx, -1) == np.arange(depth)
    out = np.where(hot, np.float32(on_value), np.float32(off_value))
    return np.moveaxis(out, -1, axis) if axis != idx.ndim else out


register(OpDef("one_hot", MOVEMENT, _one_hot, _one_hot, check=_one_hot_check, cost=_copy_cost,
               examples=lambda r: [([np.array([0, 2, 1])], {"depth": 3, "on_value": 1.0, "off_value": 0.0, "axis": -1})],
               bad=lambda: [([np.array([0])], {"depth": 0, "on_value": 1.0, "off_value": 0.0, "axis": -1},
                             ValueRangeError)],
               doc="One-hot encode integer labels."))  # fmt: skip


def _to_device(x: np.ndarray, device: Any) -> np.ndarray:
    return x.copy()


def _to_device_grad(n, dy):
    return (F.to_device(dy, n.inputs[0].device),)


register(OpDef("to_device", MOVEMENT, _to_device, _to_device, grad=_to_device_grad, cost=_copy_cost,
               doc="Copy to another device."))  # fmt: skip
