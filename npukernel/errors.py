"""The exception tree: every error a user can cause is an ``NpuError``.

Messages follow MindSpore's template so they can be acted on::

    For 'conv2d', 'x' must be 4-D (N, C, H, W), but got shape (1, 28, 28).
"""

from __future__ import annotations


class NpuError(Exception):
    """Root of every error npukernel raises for bad input or bad state."""


class ShapeError(NpuError, ValueError):
    """An argument has a shape (or rank, or axis) the operator cannot take."""


class DTypeError(NpuError, TypeError):
    """An argument has a dtype (or Python type) the operator cannot take."""


class ValueRangeError(NpuError, ValueError):
    """An attribute is of the right type but outside its allowed range."""


class DeviceError(NpuError, RuntimeError):
    """A device name is unknown, or tensors live on different devices."""


class DeviceOutOfMemory(DeviceError, MemoryError):
    """A device's HBM capacity would be exceeded by an allocation."""


class KernelError(NpuError, RuntimeError):
    """A kernel failed for a reason validation did not catch."""


class GraphError(NpuError, RuntimeError):
    """The graph compiler cannot trace or compile a function."""


class CheckpointError(NpuError, ValueError):
    """A checkpoint file is corrupt, truncated or does not match the network."""


def op_error(cls: type[NpuError], op: str, message: str) -> NpuError:
    """Build an error in the house style: ``For 'op', <message>``.

    Example:
        >>> str(op_error(ShapeError, "add", "'x' must be 2-D, but got 3-D."))
        "For 'add', 'x' must be 2-D, but got 3-D."
    """
    return cls(f"For '{op}', {message}")
