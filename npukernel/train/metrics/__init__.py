"""Metrics for ``Model.eval`` (MindSpore's ``mindspore.train`` metrics), computed with numpy.

``Model(metrics=...)`` takes a set of names (``{"accuracy", "loss"}``) or a dict of
``name -> Metric``; :func:`get_metrics` turns either into instances.

Example:
    >>> sorted(get_metrics({"accuracy", "loss"}))
    ['accuracy', 'loss']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from npukernel.train.metrics.accuracy import Accuracy
from npukernel.train.metrics.confusion_matrix import ConfusionMatrix
from npukernel.train.metrics.error import MAE, MSE
from npukernel.train.metrics.fbeta import F1, Fbeta
from npukernel.train.metrics.loss import Loss
from npukernel.train.metrics.metric import EvaluationBase, Metric, rearrange_inputs
from npukernel.train.metrics.precision import Precision
from npukernel.train.metrics.recall import Recall
from npukernel.train.metrics.topk import (
    Top1CategoricalAccuracy,
    Top5CategoricalAccuracy,
    TopKCategoricalAccuracy,
)

__factory__: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "precision": Precision,
    "recall": Recall,
    "F1": F1,
    "f1": F1,
    "top_1_accuracy": Top1CategoricalAccuracy,
    "top_5_accuracy": Top5CategoricalAccuracy,
    "mae": MAE,
    "mse": MSE,
    "loss": Loss,
}


def names() -> list[str]:
    """Names accepted by :func:`get_metric_by_name` and ``Model(metrics={...})``.

    Example:
        >>> "accuracy" in names()
        True
    """
    return sorted(__factory__)


def get_metric_by_name(name: str, *args: Any, **kwargs: Any) -> Metric:
    """A new metric from its name.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).

    Example:
        >>> type(get_metric_by_name("acc")).__name__
        'Accuracy'
    """
    if name not in __factory__:
        raise KeyError(f"Unknown metric {name!r}; known names: {names()}.")
    return __factory__[name](*args, **kwargs)


def get_metrics(metrics: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Metric] | None:
    """Turn ``Model``'s ``metrics`` argument into ``{name: Metric}``.

    Args:
        metrics: A set/list of names, a dict ``name -> Metric or name``, or None.

    Raises:
        TypeError: for anything else.

    Example:
        >>> from npukernel.train import Accuracy
        >>> get_metrics({"Accuracy": Accuracy()})["Accuracy"].eval_type
        'classification'
    """
    if metrics is None:
        return None
    if isinstance(metrics, Mapping):
        out = {}
        for key, value in metrics.items():
            if isinstance(value, str):
                value = get_metric_by_name(value)
            if not isinstance(value, Metric):
                raise TypeError(
                    f"For 'Model', metrics[{key!r}] must be a Metric, but got {type(value).__name__}."
                )
            out[key] = value
        return out
    if isinstance(metrics, str) or not isinstance(metrics, Iterable):
        raise TypeError(
            "For 'Model', 'metrics' must be a set of names or a dict of name -> Metric, "
            f"but got {metrics!r}."
        )
    return {name: get_metric_by_name(name) for name in metrics}


__all__ = [
    "MAE",
    "MSE",
    "Accuracy",
    "ConfusionMatrix",
    "EvaluationBase",
    "F1",
    "Fbeta",
    "Loss",
    "Metric",
    "Precision",
    "Recall",
    "Top1CategoricalAccuracy",
    "Top5CategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "get_metric_by_name",
    "get_metrics",
    "names",
    "rearrange_inputs",
]
