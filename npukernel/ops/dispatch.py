"""Run one operator: validate, pick the device's kernel, time it, record it, tape it.

This is the whole eager (PYNATIVE) path; it is kept short because every operator call
pays for it::

    attrs = op.check(*arrays, **attrs)          # bad input stops here, before a kernel
    result = op.npu(*arrays, **attrs)           # or op.cpu on the reference device
    device.record_launch(op.name, ...)          # measured CPU time + estimated NPU time
    outputs = wrap(result); tape Node if any input requires grad
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from numpy import may_share_memory

from npukernel import autograd, tracing
from npukernel.errors import DeviceError, KernelError, NpuError
from npukernel.ops.opdef import OpDef
from npukernel.tensor import Tensor

_mode = autograd._mode
_trace = tracing.state


def _device_of(op: OpDef, inputs: tuple[Tensor, ...]) -> Any:
    device = inputs[0]._device
    for t in inputs[1:]:
        if t._device is not device:
            raise DeviceError(
                f"For '{op.name}', all inputs must be on one device, but got "
                f"{', '.join(x._device.name for x in inputs)}. Move them with Tensor.to(device)."
            )
    return device


_DTYPE_NAMES: dict = {}


def _dtype_name(dtype: Any) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = dtype.name
    return name


def kernel_failed(op: OpDef, device: Any, arrays: list, exc: Exception) -> KernelError:
    """The error for a kernel that raised past validation (a bug: the message says so)."""
    return KernelError(
        f"For '{op.name}', the {device.kind} kernel failed on shapes "
        f"{[a.shape for a in arrays]} ({type(exc).__name__}: {exc}). This is a bug in "
        "npukernel: validation should have caught it. Please report it."
    )


def apply(op: OpDef, *inputs: Tensor, **attrs: Any) -> Any:
    """Run ``op`` on ``inputs`` (Tensors) with ``attrs``; return Tensor(s).

    Raises:
        NpuError: from the op's validation, before any kernel runs.
        KernelError: if a kernel fails anyway (a bug: the message says so).
    """
    device = inputs[0]._device
    if len(inputs) > 1:
        for t in inputs:
            if t._device is not device:
                _device_of(op, inputs)
    arrays = [t._data for t in inputs]
    if op.check is not None:
        attrs = op.check(*arrays, **attrs)
    kernel = op.npu if device.kind == "npu" else op.cpu
    t0 = perf_counter()
    try:
        result = kernel(*arrays, **attrs)
    except NpuError:
        raise
    except Exception as exc:  # a kernel bug must not surface as a numba traceback
        raise kernel_failed(op, device, arrays, exc) from exc
    elapsed = perf_counter() - t0
    saved = None
    if op.saves:
        result, saved = result
    single = op.n_outputs == 1
    outs = (result,) if single else tuple(result)
    flops, nbytes = op.cost(arrays, outs, attrs)
    device.record_launch(
        op.name, tuple([a.shape for a in arrays]),
        _dtype_name(outs[0].dtype) if outs else "", flops, nbytes, op.unit, elapsed,
    )  # fmt: skip
    if op.view:
        base = inputs[0]
        storages = [base._storage if may_share_memory(o, base._data) else None for o in outs]
        tensors = [Tensor._wrap(o, device, s) for o, s in zip(outs, storages)]
    else:
        tensors = [Tensor._wrap(o, device) for o in outs]
    if _mode.enabled and op.grad is not None:
        diff = op.diff_inputs
        needs = False
        for i, t in enumerate(inputs):
            if t.requires_grad and (diff is None or i in diff):
                needs = True
                break
        if needs:
            node = autograd.Node(
                op, inputs, outs, tuple([t._storage for t in tensors]), attrs, saved, device
            )
            for i, t in enumerate(tensors):
                t.requires_grad = True
                t._node = node
                t._index = i
    if _trace.tracer is not None:
        _trace.tracer.record_op(op, inputs, attrs, tensors, saved)
    return tensors[0] if single else tuple(tensors)
