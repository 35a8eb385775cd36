"""Training wrappers: ``WithLossCell``, ``WithEvalCell``, ``TrainOneStepCell``.

These cells are built with ``auto_prefix=False``, so the parameters they hold keep the
names they have in the bare network (``fc.weight``, not ``network._backbone.fc.weight``)
and a checkpoint of the training cell loads into the network.

Example:
    >>> import npukernel as npk
    >>> from npukernel import nn
    >>> net = nn.Dense(3, 1)
    >>> opt = nn.SGD(net.trainable_params(), learning_rate=0.1)
    >>> step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), opt)
    >>> step(npk.ops.ones((4, 3)), npk.ops.zeros((4, 1))).shape
    ()
"""

from __future__ import annotations

from typing import Any

from npukernel import ops
from npukernel.autograd import value_and_grad
from npukernel.errors import DTypeError
from npukernel.nn.cell import Cell
from npukernel.nn.optim.optimizer import Optimizer
from npukernel.tensor import Tensor


class WithLossCell(Cell):
    """``loss_fn(backbone(data), label)``.

    Args:
        backbone: The network.
        loss_fn: A loss Cell (or any callable of ``(logits, labels)``).

    Example:
        >>> from npukernel import nn, ops
        >>> nn.WithLossCell(nn.Dense(2, 1), nn.MSELoss())(ops.ones((3, 2)), ops.ones((3, 1))).shape
        ()
    """

    def __init__(self, backbone: Cell, loss_fn: Any) -> None:
        super().__init__(auto_prefix=False)
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, data: Any, label: Any) -> Tensor:
        """The loss of ``backbone(data)`` against ``label``."""
        return self._loss_fn(self._backbone(data), label)

    @property
    def backbone_network(self) -> Cell:
        """The wrapped network."""
        return self._backbone


class WithEvalCell(Cell):
    """Evaluate a network: ``(loss, outputs, label)``.

    Args:
        network: The network.
        loss_fn: A loss Cell.
        add_cast_fp32: Cast the outputs to float32 before the loss. Default False.
    """

    def __init__(self, network: Cell, loss_fn: Any, add_cast_fp32: bool = False) -> None:
        super().__init__(auto_prefix=False)
        self._network = network
        self._loss_fn = loss_fn
        self.add_cast_fp32 = bool(add_cast_fp32)

    def construct(self, data: Any, label: Any) -> tuple[Tensor, Tensor, Any]:
        """``(loss, outputs, label)``."""
        outputs = self._network(data)
        if self.add_cast_fp32:
            outputs = ops.cast(outputs, "float32")
        return self._loss_fn(outputs, label), outputs, label


class TrainOneStepCell(Cell):
    """One training step: loss and gradients of ``network``, then ``optimizer(grads)``.

    Args:
        network: A cell returning the loss (usually a ``WithLossCell``).
        optimizer: The optimizer; gradients are taken for ``optimizer.parameters``.
        sens: Gradient scale (the loss is differentiated as ``sens * loss``); pair it with the
            optimizer's ``loss_scale``. Default 1.0.
        return_grad: Also return the gradients (a dict ``name -> Tensor``). Default False.

    Remember ``set_train()`` (as in MindSpore: a new cell is in inference mode, which turns
    Dropout off and makes BatchNorm use its moving statistics).

    Raises:
        DTypeError: if ``network`` is not a Cell or ``optimizer`` not an Optimizer.

    Example:
        >>> import npukernel as npk
        >>> from npukernel import nn
        >>> net = nn.WithLossCell(nn.Dense(2, 1), nn.MSELoss())
        >>> step = nn.TrainOneStepCell(net, nn.Momentum(net.trainable_params(), 0.1, 0.9))
        >>> step.set_train().training
        True
    """

    def __init__(self, network: Cell, optimizer: Optimizer, sens: float = 1.0,
                 return_grad: bool = False) -> None:  # fmt: skip
        super().__init__(auto_prefix=False)
        if not isinstance(network, Cell):
            raise DTypeError(
                f"For 'TrainOneStepCell', 'network' must be a Cell, but got {type(network).__name__}."
            )
        if not isinstance(optimizer, Optimizer):
            raise DTypeError(
                f"For 'TrainOneStepCell', 'optimizer' must be an nn.Optimizer, but got {type(optimizer).__name__}."
            )
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.sens = float(sens)
        self.return_grad = bool(return_grad)
        self.grad_fn = value_and_grad(network, grad_position=None, weights=self.weights)

    def construct(self, *inputs: Any) -> Any:
        """Run forward and backward, update the parameters, return the loss (detached)."""
        loss, grads = self.grad_fn(*inputs)
        if self.sens != 1.0:
            grads = tuple(g * self.sens for g in grads)
        self.optimizer(grads)
        loss = loss[0] if isinstance(loss, tuple) else loss
        loss = loss.detach()
        if self.return_grad:
            return loss, {p.name: g for p, g in zip(self.weights, grads)}
        return loss
