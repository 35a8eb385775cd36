"""``npukernel.train``: ``Model``, callbacks and metrics (MindSpore's ``mindspore.train``).

Example:
    >>> from npukernel.train import Model, LossMonitor, Accuracy
    >>> # Model(net, loss_fn, opt, metrics={"Accuracy": Accuracy()}).train(1, ds,
    >>> #                                                      callbacks=[LossMonitor()])
"""

from npukernel.train._state import latest_checkpoint
from npukernel.train.callback import (
    Callback,
    CallbackList,
    CallbackParams,
    CheckpointConfig,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    LossMonitor,
    ModelCheckpoint,
    ProgressBar,
    RunContext,
    SummaryCollector,
    TimeMonitor,
)
from npukernel.train.metrics import (
    F1,
    MAE,
    MSE,
    Accuracy,
    ConfusionMatrix,
    Fbeta,
    Loss,
    Metric,
    Precision,
    Recall,
    Top1CategoricalAccuracy,
    Top5CategoricalAccuracy,
    TopKCategoricalAccuracy,
    get_metric_by_name,
    get_metrics,
    names,
    rearrange_inputs,
)
from npukernel.train.model import Model

__all__ = [
    "MAE",
    "MSE",
    "Accuracy",
    "Callback",
    "CallbackList",
    "CallbackParams",
    "CheckpointConfig",
    "ConfusionMatrix",
    "EarlyStopping",
    "F1",
    "Fbeta",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "Loss",
    "LossMonitor",
    "Metric",
    "Model",
    "ModelCheckpoint",
    "Precision",
    "ProgressBar",
    "Recall",
    "RunContext",
    "SummaryCollector",
    "TimeMonitor",
    "Top1CategoricalAccuracy",
    "Top5CategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "get_metric_by_name",
    "get_metrics",
    "latest_checkpoint",
    "names",
    "rearrange_inputs",
]
