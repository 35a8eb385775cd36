"""Optimizers (MindSpore keeps them in ``mindspore.nn``; so does npukernel)."""

from npukernel.nn.optim.adam import Adam, AdamW, AdamWeightDecay
from npukernel.nn.optim.momentum import Momentum
from npukernel.nn.optim.optimizer import Optimizer
from npukernel.nn.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "AdamWeightDecay", "Momentum", "Optimizer", "SGD"]
