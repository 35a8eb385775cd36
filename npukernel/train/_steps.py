"""The cells ``Model`` runs: the train step, the eval step, and the current learning rate.

As in MindSpore, the train step is
``nn.TrainOneStepCell(nn.WithLossCell(network, loss_fn), optimizer)`` and the eval step
``nn.WithEvalCell(network, loss_fn)``, which returns ``(loss, outputs, label)``.

Example:
    >>> current_lr(None) is None
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from npukernel.errors import ValueRangeError


def build_train_network(network: Any, loss_fn: Any, optimizer: Any) -> Any:
    """The cell that runs one training step and returns the loss.

    Raises:
        ValueError: if ``loss_fn`` is given without an ``optimizer``.
    """
    if optimizer is None:
        if loss_fn is not None:
            raise ValueError(
                "For 'Model.train', give an 'optimizer' (or pass a complete train cell, such "
                "as nn.TrainOneStepCell, as the network with no loss_fn)."
            )
        return network
    from npukernel import nn

    if loss_fn is not None:
        network = nn.WithLossCell(network, loss_fn)
    return nn.TrainOneStepCell(network, optimizer)


class _ForwardWithLabel:
    """Eval step without a loss: ``(network(*data), label)``."""

    def __init__(self, network: Any) -> None:
        self.network = network

    def __call__(self, *inputs: Any) -> tuple[Any, Any]:
        return self.network(*inputs[:-1]), inputs[-1]


def build_eval_network(network: Any, loss_fn: Any) -> tuple[Any, list[int] | None]:
    """The eval cell and the positions of (loss, outputs, label) in its result."""
    if loss_fn is None:
        return _ForwardWithLabel(network), None
    from npukernel import nn

    return nn.WithEvalCell(network, loss_fn), [0, 1, 2]


def current_lr(optimizer: Any) -> float | None:
    """The learning rate the optimizer's next update uses (the first group's), as a float."""
    if optimizer is None or not hasattr(optimizer, "get_lr"):
        return None
    lr = optimizer.get_lr()
    if isinstance(lr, (tuple, list)):
        lr = lr[0] if lr else None
    if lr is None:
        return None
    arr = lr.asnumpy() if hasattr(lr, "asnumpy") else np.asarray(lr)
    return float(np.asarray(arr).reshape(-1)[0])


def apply_amp(network: Any, amp_level: str, loss_scale_manager: Any) -> Any:
    """``network`` prepared for mixed precision by ``npukernel.amp``.

    Raises:
        ValueRangeError: if ``npukernel.amp`` is not available.
    """
    try:
        from npukernel import amp  # type: ignore[attr-defined]
    except ImportError:
        raise ValueRangeError(
            f"For 'Model', amp_level={amp_level!r} and 'loss_scale_manager' need "
            "npukernel.amp, which is not available yet; use amp_level='O0'."
        ) from None
    if loss_scale_manager is not None:
        raise ValueRangeError("For 'Model', 'loss_scale_manager' is not supported yet.")
    return amp.auto_mixed_precision(network, amp_level)
