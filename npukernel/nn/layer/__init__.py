"""Layers: basic, convolution, normalisation, pooling, activation, embedding, containers."""

from npukernel.nn.layer.activation import (
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)
from npukernel.nn.layer.basic import Dense, Dropout, Flatten, Identity
from npukernel.nn.layer.container import CellList, SequentialCell
from npukernel.nn.layer.conv import Conv2d
from npukernel.nn.layer.embedding import Embedding
from npukernel.nn.layer.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from npukernel.nn.layer.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "CellList", "Conv2d", "Dense",
    "Dropout", "Embedding", "Flatten", "GELU", "Identity", "LayerNorm", "LeakyReLU", "LogSoftmax",
    "MaxPool2d", "ReLU", "ReLU6", "SequentialCell", "Sigmoid", "Softmax", "Softplus", "Tanh",
    "get_activation",
]  # fmt: skip
