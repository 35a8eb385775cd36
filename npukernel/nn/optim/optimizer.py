"""``Optimizer``: the base of every update rule (``mindspore.nn.Optimizer``).

``optimizer(grads)`` takes one gradient per parameter, in the order of
``optimizer.parameters``, and updates the parameters in place. All state is kept in
Parameters so a checkpoint of the optimizer restores it exactly: ``learning_rate``,
``global_step`` (steps taken) and the per-rule slots (``moments.fc.weight`` for
``Momentum``, ``moment1.*``/``moment2.*``/``beta1_power``/``beta2_power`` for ``Adam``...).
``parameters_dict()`` lists them along with the network parameters they update.

The update runs as vectorised numpy on the parameters' arrays (in place, with reused
scratch buffers; no autodiff tape) and is recorded on the device as one vector-unit launch
per parameter (``momentum_update``...), as an NPU runs one ApplyMomentum per tensor.

Where we differ from MindSpore: ``get_lr()`` does not advance ``global_step`` (calling it
from a callback is safe); the step counter advances once per ``optimizer(grads)`` call and
always exists; a list learning rate keeps its last value past its end.

Example:
    >>> import npukernel as npk
    >>> from npukernel import nn
    >>> net = nn.Dense(2, 1)
    >>> opt = nn.SGD(net.trainable_params(), learning_rate=0.1)
    >>> opt(tuple(npk.ops.ones_like(p) for p in opt.parameters))
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from time import perf_counter
from typing import Any

import numpy as np

from npukernel import tracing
from npukernel.autograd import no_grad
from npukernel.common.parameter import ParameterTuple
from npukernel.errors import DTypeError, NpuError, ShapeError, ValueRangeError
from npukernel.nn._check import non_negative_float
from npukernel.nn._scalar import scalar_parameter, scalar_tensor
from npukernel.nn.cell import Cell
from npukernel.nn.layer.container import CellList
from npukernel.nn.learning_rate_schedule import LearningRateSchedule
from npukernel.tensor import Parameter, Tensor

_DTYPE_NAMES: dict = {}  # dtype.name costs microseconds; one launch record per parameter


class _ConstantLearningRate(Cell):
    """A fixed group learning rate held in a Parameter."""

    def __init__(self, value: float, name: str) -> None:
        super().__init__(auto_prefix=False)
        self.learning_rate = scalar_parameter(value, name)

    def construct(self, global_step: Any) -> Tensor:
        """The rate."""
        return self.learning_rate


class _IteratorLearningRate(Cell):
    """Per-step learning rates held in a 1-D Parameter; the last one is kept past the end."""

    def __init__(self, values: np.ndarray, name: str) -> None:
        super().__init__(auto_prefix=False)
        self.learning_rate = Parameter(Tensor(values.astype(np.float32)), name, requires_grad=False)

    def construct(self, global_step: Any) -> Tensor:
        """The rate at ``global_step``."""
        step = int(np.asarray(global_step).reshape(-1)[0])
        return scalar_tensor(self.learning_rate._data[min(step, self.learning_rate.size - 1)])


def _lr_value(src: Any, step: int) -> float:
    """A learning-rate source's value at ``step`` as a Python float."""
    if isinstance(src, Parameter):
        return float(src._data.reshape(-1)[0])
    if isinstance(src, _ConstantLearningRate):
        return float(src.learning_rate._data.reshape(-1)[0])
    if isinstance(src, _IteratorLearningRate):
        arr = src.learning_rate._data
        return float(arr[min(step, arr.shape[0] - 1)])
    if (
        isinstance(src, LearningRateSchedule)
        and type(src).construct is LearningRateSchedule.construct
    ):
        return float(src.lr(float(step)))
    return float(src(Tensor(np.array([step], np.int32))).asnumpy().reshape(-1)[0])


class Optimizer(Cell):
    """Base class of optimizers; subclasses implement ``_update`` (or ``construct``).

    Args:
        learning_rate: A float, a list/array/1-D Tensor of per-step rates, a scalar Tensor,
            or a ``LearningRateSchedule``.
        parameters: A list of Parameters, or of dicts (groups) with ``"params"`` and
            optionally ``"lr"``, ``"weight_decay"`` (and ``"order_params"``).
        weight_decay: L2 penalty added to the gradient (``g + wd * p``). Without groups it
            skips parameters whose names contain ``"beta"`` or ``"gamma"``, as MindSpore.
        loss_scale: Gradients are divided by it before the update. Default 1.

    Raises:
        DTypeError: for a bad ``learning_rate`` or ``parameters`` type.
        ValueRangeError: for an empty parameter list or negative values.
    """

    _op_name = "optimizer_update"
    _cost = (4, 5)  # flops per element, arrays of the parameter's size read or written
    _fold_decay = True  # weight decay folded into the gradient (not decoupled)

    def __init__(self, learning_rate: Any, parameters: Any, weight_decay: float = 0.0,
                 loss_scale: float = 1.0) -> None:  # fmt: skip
        super().__init__(auto_prefix=False)
        name = self.cls_name
        items = self._parameters_check(parameters)
        self.loss_scale = non_negative_float(name, "loss_scale", loss_scale)
        if self.loss_scale == 0:
            raise ValueRangeError(
                f"For '{name}', 'loss_scale' must be positive, but got {loss_scale}."
            )
        wd = non_negative_float(name, "weight_decay", weight_decay)
        self.is_group = isinstance(items[0], dict)
        groups = self._groups(items) if self.is_group else [{"params": items}]
        self.is_group_lr = any("lr" in g for g in groups)
        default = self._lr_source(learning_rate, "learning_rate")
        if self.is_group_lr and isinstance(default, Parameter):
            default = _ConstantLearningRate(float(default._data), default.name)
        flat, group_of, decay, sources = [], [], [], []
        for gi, g in enumerate(groups):
            src = default
            if "lr" in g:
                src = self._lr_source(g["lr"], f"learning_rate_group_{gi}")
                if isinstance(src, Parameter):
                    src = _ConstantLearningRate(float(src._data), src.name)
            sources.append(src)
            gwd = non_negative_float(name, "weight_decay", g.get("weight_decay", wd))
            for p in g["params"]:
                flat.append(p)
                group_of.append(gi)
                keep = self.is_group or ("beta" not in p.name and "gamma" not in p.name)
                decay.append(gwd if keep else 0.0)
        self.parameters = ParameterTuple(flat)
        if len(self.parameters) != len(flat):
            raise NpuError(f"For '{name}', a Parameter appears twice in 'parameters'.")
        if self.is_group_lr:
            self.learning_rate = CellList(list(dict.fromkeys(sources)), auto_prefix=False)
        else:
            self.learning_rate = default
        self._lr_sources = sources
        self.dynamic_lr = any(
            not isinstance(s, (Parameter, _ConstantLearningRate)) for s in sources
        )
        self._group_of = tuple(group_of)
        self._decay = tuple(decay)
        self.weight_decay = tuple(decay) if self.is_group else wd
        self.decay_flags = tuple(d > 0 for d in decay)
        self.global_step = Parameter(
            Tensor(np.zeros(1, np.int32)), "global_step", requires_grad=False
        )
        self._scratch: dict[tuple[int, int], np.ndarray] = {}

    # -- construction helpers --------------------------------------------------------------
    def _parameters_check(self, parameters: Any) -> list:
        name = self.cls_name
        if (
            parameters is None
            or isinstance(parameters, (Tensor, str))
            or not isinstance(parameters, Iterable)
        ):
            raise DTypeError(
                f"For '{name}', 'parameters' must be a list of Parameters or of dicts."
            )
        items = list(parameters)
        if not items:
            raise ValueRangeError(f"For '{name}', 'parameters' must not be empty.")
        if not (
            all(isinstance(p, Parameter) for p in items) or all(isinstance(p, dict) for p in items)
        ):
            raise DTypeError(f"For '{name}', 'parameters' must be all Parameters or all dicts.")
        return items

    def _groups(self, items: list[dict]) -> list[dict]:
        name = self.cls_name
        groups, order = [], None
        for g in items:
            unknown = set(g) - {
                "params",
                "lr",
                "weight_decay",
                "order_params",
                "grad_centralization",
            }
            if unknown:
                raise ValueRangeError(
                    f"For '{name}', group keys {sorted(unknown)} are not recognised."
                )
            if "order_params" in g:
                order = list(g["order_params"])
                continue
            if g.get("grad_centralization"):
                raise ValueRangeError(f"For '{name}', 'grad_centralization' is not supported.")
            params = self._parameters_check(g["params"])
            if not all(isinstance(p, Parameter) for p in params):
                raise DTypeError(f"For '{name}', each group's 'params' must be Parameters.")
            groups.append({**g, "params": params})
        if order is not None:  # reorder each parameter as listed, keeping its group
            where = {id(p): gi for gi, g in enumerate(groups) for p in g["params"]}
            if len(order) != len(where) or any(id(p) not in where for p in order):
                raise ValueRangeError(
                    f"For '{name}', 'order_params' must list every grouped parameter once."
                )
            out = [{**g, "params": []} for g in groups]
            for p in order:
                out[where[id(p)]]["params"].append(p)
            groups = out
        return groups

    def _lr_source(self, lr: Any, name: str) -> Any:
        if isinstance(lr, LearningRateSchedule):
            return lr
        if isinstance(lr, bool):
            raise DTypeError(
                f"For '{self.cls_name}', 'learning_rate' must be a number, but got {lr!r}."
            )
        if isinstance(lr, (int, float, np.integer, np.floating)) or (
            isinstance(lr, Tensor) and lr.ndim == 0
        ):
            value = non_negative_float(self.cls_name, "learning_rate", float(lr))
            return scalar_parameter(value, name)
        if isinstance(lr, Tensor):
            lr = lr.asnumpy()
        if isinstance(lr, (list, tuple, np.ndarray)):
            arr = np.asarray(lr, np.float64).reshape(-1)
            if arr.ndim != 1 or arr.size == 0 or (arr < 0).any():
                raise ValueRangeError(
                    f"For '{self.cls_name}', a list 'learning_rate' must be non-empty and non-negative."
                )
            return _IteratorLearningRate(arr, name)
        raise DTypeError(
            f"For '{self.cls_name}', 'learning_rate' must be a float, a list, a Tensor or a "
            f"LearningRateSchedule, but got {type(lr).__name__}."
        )

    # -- MindSpore's helper API ------------------------------------------------------------
    @property
    def params(self) -> ParameterTuple:
        """The parameters updated (MindSpore's alias of ``parameters``)."""
        return self.parameters

    def _current_lrs(self) -> list[float]:
        step = int(self.global_step._data[0])
        cache: dict[int, float] = {}
        out = []
        for src in self._lr_sources:
            key = id(src)
            if key not in cache:
                cache[key] = _lr_value(src, step)
            out.append(cache[key])
        return out

    def get_lr(self) -> Any:
        """The learning rate the next update will use (a per-parameter tuple with group lrs).

        Unlike MindSpore's, this does not advance ``global_step``.
        """
        lrs = self._current_lrs()
        if self.is_group_lr:
            return tuple(scalar_tensor(lrs[g]) for g in self._group_of)
        if isinstance(self.learning_rate, Parameter):
            return self.learning_rate
        return scalar_tensor(lrs[0])

    def get_lr_parameter(self, param: Parameter | list[Parameter]) -> Any:
        """The learning-rate Parameter (or schedule Cell) of ``param`` (or of each in a list)."""
        plist = param if isinstance(param, list) else [param]
        ids = [id(p) for p in self.parameters]
        out = []
        for p in plist:
            if id(p) not in ids:
                raise ValueRangeError(
                    f"For 'get_lr_parameter', parameter '{getattr(p, 'name', p)}' is not in the optimizer."
                )
            src = self._lr_sources[self._group_of[ids.index(id(p))]]
            out.append(
                src.learning_rate
                if isinstance(src, (_ConstantLearningRate, _IteratorLearningRate))
                else src
            )
        return out if isinstance(param, list) else out[0]

    def flatten_gradients(self, gradients: Any) -> Any:
        """Identity (kept for MindSpore parity)."""
        return gradients

    def gradients_centralization(self, gradients: Any) -> Any:
        """Identity (gradient centralisation is not supported)."""
        return gradients

    def decay_weight(self, gradients: Any) -> tuple:
        """``g + weight_decay * loss_scale * p`` per parameter, as Tensors (for a custom ``construct``).

        The decay is pre-multiplied by ``loss_scale`` as in MindSpore, so that
        ``scale_grad(decay_weight(g))`` is ``g / loss_scale + weight_decay * p``.
        """
        s = self.loss_scale
        pairs = zip(gradients, self.parameters, self._decay)
        return tuple(g + p * (wd * s) if wd else g for g, p, wd in pairs)

    def scale_grad(self, gradients: Any) -> tuple:
        """Gradients divided by ``loss_scale``."""
        if self.loss_scale == 1.0:
            return tuple(gradients)
        return tuple(g * (1.0 / self.loss_scale) for g in gradients)

    # -- the update ------------------------------------------------------------------------
    def _buf(self, i: int, k: int, like: np.ndarray) -> np.ndarray:
        b = self._scratch.get((i, k))
        if b is None or b.shape != like.shape or b.dtype != like.dtype:
            b = self._scratch[(i, k)] = np.empty_like(like)
        return b

    def _grad_arrays(self, gradients: Any) -> list[np.ndarray]:
        name, params = self.cls_name, self.parameters
        if isinstance(gradients, Tensor) or not isinstance(gradients, (tuple, list)):
            raise DTypeError(
                f"For '{name}', 'gradients' must be a tuple of Tensors, one per parameter."
            )
        if len(gradients) != len(params):
            raise ShapeError(
                f"For '{name}', expected {len(params)} gradients (one per parameter, in "
                f"optimizer.parameters order), but got {len(gradients)}."
            )
        out = []
        for g, p in zip(gradients, params):
            a = g._data if isinstance(g, Tensor) else np.asarray(g)
            if a.shape != p.shape:
                raise ShapeError(
                    f"For '{name}', the gradient of '{p.name}' must have shape {p.shape}, but got {a.shape}."
                )
            out.append(a if a.dtype == p.dtype else a.astype(p.dtype))
        return out

    def _effective_grad(self, i: int, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``g / loss_scale (+ wd * p)`` in scratch buffer 0 (``g`` itself when nothing applies)."""
        inv = 1.0 / self.loss_scale
        wd = self._decay[i] if self._fold_decay else 0.0
        if inv == 1.0 and not wd:
            return g
        s = self._buf(i, 0, p)
        if wd:
            np.multiply(p, wd / inv, out=s)
            s += g
            if inv != 1.0:
                s *= inv
        else:
            np.multiply(g, inv, out=s)
        return s

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError(
            f"For '{self.cls_name}', '_update' (or 'construct') must be overridden."
        )

    def _begin_step(self) -> None:
        """Hook run once per step before the per-parameter updates (Adam's beta powers)."""

    def construct(self, gradients: Any) -> bool:
        """Update every parameter from its gradient; return True."""
        grads = self._grad_arrays(gradients)
        if tracing.active() is not None:  # graph mode records the update as one host node
            tracing.host_call(self._op_name, self._update_arrays, tuple(gradients), ())
            return True
        self._update_arrays(*grads)
        return True

    def _update_arrays(self, *grads: np.ndarray) -> None:
        """The update itself, on gradient arrays; graph mode replays exactly this."""
        lrs = self._current_lrs()
        self._begin_step()
        fl, arrays = self._cost
        op = self._op_name
        for i, (p, g) in enumerate(zip(self.parameters, grads)):
            data = p._data
            if g.dtype != data.dtype:  # graph mode replays with the traced gradients' dtype
                g = g.astype(data.dtype)
            t0 = perf_counter()
            self._update(i, data, self._effective_grad(i, data, g), lrs[self._group_of[i]])
            dt = perf_counter() - t0
            dtn = _DTYPE_NAMES.get(data.dtype) or _DTYPE_NAMES.setdefault(
                data.dtype, data.dtype.name
            )
            p._device.record_launch(op, (data.shape,), dtn, fl * data.size, arrays * data.nbytes,
                                    "vector", dt)  # fmt: skip
        self.global_step._data[0] += 1

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``construct`` without recording a tape, then advance ``global_step``."""
        with no_grad():
            out = self.construct(*args, **kwargs)
        if type(self).construct is not Optimizer.construct:  # the base update advances it itself
            self.global_step._data[0] += 1
        return out
