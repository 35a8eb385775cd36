"""Training callbacks (MindSpore's ``mindspore.train`` callbacks).

Example:
    >>> from npukernel.train.callback import LossMonitor, TimeMonitor
    >>> callbacks = [LossMonitor(100), TimeMonitor()]
"""

from npukernel.train._state import latest_checkpoint
from npukernel.train.callback._callback import Callback, CallbackList, CallbackParams, RunContext
from npukernel.train.callback._checkpoint import CheckpointConfig, ModelCheckpoint
from npukernel.train.callback._early_stop import EarlyStopping
from npukernel.train.callback._history import History
from npukernel.train.callback._lambda_callback import LambdaCallback
from npukernel.train.callback._loss_monitor import LossMonitor
from npukernel.train.callback._lr_scheduler import LearningRateScheduler
from npukernel.train.callback._progress import ProgressBar
from npukernel.train.callback._summary import SummaryCollector
from npukernel.train.callback._time_monitor import TimeMonitor

__all__ = [
    "Callback",
    "CallbackList",
    "CallbackParams",
    "CheckpointConfig",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "LossMonitor",
    "ModelCheckpoint",
    "ProgressBar",
    "RunContext",
    "SummaryCollector",
    "TimeMonitor",
    "latest_checkpoint",
]
