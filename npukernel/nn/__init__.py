"""``npukernel.nn``: cells, layers, losses, optimizers and schedules (``mindspore.nn``).

Example:
    >>> import npukernel as npk
    >>> from npukernel import nn
    >>> net = nn.SequentialCell([nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 2)])
    >>> net(npk.ops.ones((3, 4))).shape
    (3, 2)
"""

from npukernel.nn.cell import Cell
from npukernel.nn.dynamic_lr import (
    cosine_decay_lr,
    exponential_decay_lr,
    inverse_decay_lr,
    natural_exp_decay_lr,
    piecewise_constant_lr,
    polynomial_decay_lr,
    warmup_lr,
)
from npukernel.nn.layer import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    CellList,
    Conv2d,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    ReLU6,
    SequentialCell,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)
from npukernel.nn.learning_rate_schedule import (
    CosineDecayLR,
    ExponentialDecayLR,
    InverseDecayLR,
    LearningRateSchedule,
    NaturalExpDecayLR,
    PolynomialDecayLR,
    WarmUpLR,
)
from npukernel.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    LossBase,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    SoftmaxCrossEntropyWithLogits,
)
from npukernel.nn.optim import SGD, Adam, AdamW, AdamWeightDecay, Momentum, Optimizer
from npukernel.nn.wrap import TrainOneStepCell, WithEvalCell, WithLossCell

__all__ = [
    "AdaptiveAvgPool2d", "Adam", "AdamW", "AdamWeightDecay", "AvgPool2d", "BCELoss",
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Cell", "CellList", "Conv2d",
    "CosineDecayLR", "CrossEntropyLoss", "Dense", "Dropout", "Embedding", "ExponentialDecayLR",
    "Flatten", "GELU", "Identity", "InverseDecayLR", "L1Loss", "LayerNorm", "LeakyReLU",
    "LearningRateSchedule", "LogSoftmax", "LossBase", "MSELoss", "MaxPool2d", "Momentum",
    "NLLLoss", "NaturalExpDecayLR", "Optimizer", "PolynomialDecayLR", "ReLU", "ReLU6", "SGD",
    "SequentialCell", "Sigmoid", "SmoothL1Loss", "Softmax", "SoftmaxCrossEntropyWithLogits",
    "Softplus", "Tanh", "TrainOneStepCell", "WarmUpLR", "WithEvalCell", "WithLossCell",
    "cosine_decay_lr", "exponential_decay_lr", "get_activation", "inverse_decay_lr",
    "natural_exp_decay_lr", "piecewise_constant_lr", "polynomial_decay_lr", "warmup_lr",
]  # fmt: skip
