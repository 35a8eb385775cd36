"""The evaluation pass of ``Model.eval`` and ``Model.fit``: eval cell, metrics, callbacks.

As in MindSpore, the eval cell returns ``(loss, outputs, label)``; a ``Loss`` metric
reads the loss, every other metric ``(outputs, label)``. Without a ``loss_fn`` the
cell returns ``(outputs, label)`` and metrics read both.

Example:
    >>> first_float((np.array([1.0, 3.0]), None))
    2.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from npukernel.autograd import no_grad
from npukernel.train._data import DataAdapter
from npukernel.train.callback import CallbackList, CallbackParams, RunContext
from npukernel.train.metrics import Loss, Metric


def first_float(value: Any) -> float | None:
    """The (mean) value of a loss, or of the first element of a tuple of outputs."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if value is None:
        return None
    arr = value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
    return float(np.mean(arr)) if arr.size else None


def set_train(network: Any, mode: bool) -> None:
    """``network.set_train(mode)`` for cells (plain callables have no mode)."""
    if hasattr(network, "set_train"):
        network.set_train(mode)


def eval_due(epoch: int, last: int, valid_frequency: int | Any) -> bool:
    """Whether ``fit`` evaluates after ``epoch`` (1-based).

    Every ``valid_frequency`` epochs and at the last one, or at the listed epochs.
    """
    if isinstance(valid_frequency, int):
        return epoch % valid_frequency == 0 or epoch == last
    return epoch in valid_frequency


def update_metrics(metrics: Mapping[str, Metric], outputs: Any, indexes: list[int] | None) -> None:
    """Feed one batch's eval outputs to every metric."""
    if not isinstance(outputs, (tuple, list)):
        outputs = (outputs,)
    for metric in metrics.values():
        if indexes is None:
            metric.update(*outputs)
        elif isinstance(metric, Loss):
            metric.update(outputs[indexes[0]])
        else:
            metric.update(outputs[indexes[1]], outputs[indexes[2]])


def evaluate(
    network: Any, eval_net: Any, indexes: list[int] | None, metrics: Mapping[str, Metric],
    data: DataAdapter, cbs: CallbackList, cur_epoch: int, epoch_num: int,
) -> tuple[dict[str, Any], float | None]:  # fmt: skip
    """One pass over ``data`` in inference mode; return (metric values, mean loss or None)."""
    for m in metrics.values():
        m.clear()
    was = getattr(network, "training", False)
    set_train(network, False)
    cb = CallbackParams(
        network=network, eval_network=eval_net, valid_dataset=data.dataset,
        batch_num=data.batch_num, cur_epoch_num=cur_epoch, epoch_num=epoch_num,
        cur_step_num=0, net_outputs=None, mode="eval", metrics={}, eval_results={},
    )  # fmt: skip
    ctx = RunContext(cb)
    losses: list[float] = []
    try:
        cbs.on_eval_begin(ctx)
        cbs.on_eval_epoch_begin(ctx)
        with no_grad():
            for row in data.epoch():
                cb.cur_step_num += 1
                cbs.on_eval_step_begin(ctx)
                outputs = eval_net(*row)
                cb.net_outputs = outputs
                update_metrics(metrics, outputs, indexes)
                if indexes is not None:
                    losses.append(first_float(outputs[indexes[0]]) or 0.0)
                cbs.on_eval_step_end(ctx)
                if ctx.get_stop_requested():
                    break
        values = {name: m.eval() for name, m in metrics.items()}
        cb.metrics = cb.eval_results = values
        cbs.on_eval_epoch_end(ctx)
        cbs.on_eval_end(ctx)
    finally:
        set_train(network, was)
    return values, (float(np.mean(losses)) if losses else None)
