"""``Model``: the high-level training loop (MindSpore's ``mindspore.train.Model``).

``Model(network, loss_fn, optimizer, metrics)`` builds the train step as MindSpore does,
``nn.TrainOneStepCell(nn.WithLossCell(network, loss_fn), optimizer)``, and runs it over
a dataset with callbacks. Every step's loss, learning rate, time and throughput are put
on ``cb_params`` (so the notebook training monitor is just another callback) and
recorded in ``model.history``, an ``xarray.Dataset``.

Where we differ from MindSpore:

* ``dataset_sink_mode`` and ``sink_size`` are accepted and ignored: there is no device
  queue to sink to, every step is fed from the host.
* Ctrl-C (a kernel interrupt in Jupyter) stops training cleanly after the current step,
  saves a checkpoint (through a ``ModelCheckpoint`` callback if there is one, else to
  ``interrupted.ckpt`` in the working directory; set with
  ``Model(..., interrupt_checkpoint=path_or_None)``), calls ``on_train_end`` and
  returns; see :mod:`npukernel.train._interrupt`.
* ``train``/``fit`` take ``resume_from=`` (a ``.ckpt`` or a ``ModelCheckpoint``
  directory): network, optimizer and RNG state are restored and the data pipeline is
  replayed to the saved step, so the run continues bit-identically.

Example:
    >>> import numpy as np, npukernel as npk
    >>> from npukernel import nn
    >>> from npukernel.train import Model
    >>> net = nn.Dense(4, 3)
    >>> model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
    ...               nn.SGD(net.trainable_params(), 0.1), metrics={"accuracy"})
    >>> data = [(np.ones((8, 4), np.float32), np.zeros(8, np.int32))] * 4
    >>> model.train(2, data)
    >>> model.eval(data)["accuracy"]
    1.0
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from npukernel.autograd import no_grad
from npukernel.tensor import Tensor
from npukernel.train import _steps
from npukernel.train._data import DataAdapter, batch_size_of
from npukernel.train._evaluate import eval_due, evaluate, first_float, set_train
from npukernel.train._interrupt import InterruptGuard, StepSnapshot, save_on_interrupt
from npukernel.train._state import resume, state_params
from npukernel.train.callback import (
    Callback,
    CallbackList,
    CallbackParams,
    History,
    LossMonitor,
    ProgressBar,
    RunContext,
)
from npukernel.train.metrics import get_metrics

_AMP_LEVELS = ("O0", "O1", "O2", "O3", "auto")


class Model:
    """Train, evaluate and predict with a network (MindSpore's ``Model``).

    Args:
        network: The network (a Cell). With ``optimizer`` and no ``loss_fn`` it must
            return the loss itself; with neither it is the whole train step (e.g. a
            ``TrainOneStepCell``).
        loss_fn: Loss cell, ``loss_fn(logits, label)``.
        optimizer: Optimizer over ``network.trainable_params()``.
        metrics: Names (``{"accuracy", "loss"}``) or ``{name: Metric}`` for ``eval``.
        eval_network: Cell returning ``(loss, outputs, label)`` for evaluation.
        eval_indexes: Positions of loss, outputs and label in ``eval_network``'s result.
        amp_level: ``"O0"`` runs as is; ``"O1"``-``"O3"``/``"auto"`` need ``npukernel.amp``.
        **kwargs: ``interrupt_checkpoint`` (path for the Ctrl-C checkpoint when no
            ``ModelCheckpoint`` is given; None disables it); MindSpore's
            ``boost_level``, ``loss_scale_manager`` and ``keep_batchnorm_fp32`` are
            accepted (loss scaling needs ``npukernel.amp``).

    Raises:
        ValueError: for a bad ``eval_indexes`` or ``amp_level``.
        TypeError: for an unknown keyword argument.

    Example:
        >>> from npukernel import nn
        >>> net = nn.Dense(2, 2)
        >>> Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1)).train_network is not None
        True
    """

    def __init__(self, network: Any, loss_fn: Any = None, optimizer: Any = None,
                 metrics: Any = None, eval_network: Any = None,
                 eval_indexes: Sequence[int] | None = None, amp_level: str = "O0",
                 **kwargs: Any) -> None:  # fmt: skip
        self._interrupt_ckpt = kwargs.pop("interrupt_checkpoint", "interrupted.ckpt")
        for key in ("boost_level", "keep_batchnorm_fp32", "boost_config_dict"):
            kwargs.pop(key, None)
        loss_scale_manager = kwargs.pop("loss_scale_manager", None)
        if kwargs:
            raise TypeError(f"For 'Model', unexpected keyword arguments: {sorted(kwargs)}.")
        if amp_level not in _AMP_LEVELS:
            raise ValueError(
                f"For 'Model', 'amp_level' must be one of {_AMP_LEVELS}, got {amp_level!r}."
            )
        if amp_level != "O0" or loss_scale_manager is not None:
            network = _steps.apply_amp(network, amp_level, loss_scale_manager)
        if eval_indexes is not None and (len(eval_indexes) != 3 or eval_network is None):
            raise ValueError(
                "For 'Model', 'eval_indexes' must be 3 positions (loss, outputs, label) and "
                "needs 'eval_network'."
            )
        self._network = network
        self._loss_fn = loss_fn
        self._optimizer = optimizer
        self._metric_fns = get_metrics(metrics) or {}
        self._eval_network = eval_network
        self._eval_indexes = list(eval_indexes) if eval_indexes is not None else None
        self._train_network: Any = None
        self.history: Any = None
        self.interrupted = False

    # -- the cells ---------------------------------------------------------------------
    @property
    def train_network(self) -> Any:
        """The cell called once per training step (built on first use)."""
        if self._train_network is None:
            self._train_network = _steps.build_train_network(
                self._network, self._loss_fn, self._optimizer
            )
        return self._train_network

    @property
    def predict_network(self) -> Any:
        """The network used by :meth:`predict`."""
        return self._network

    @property
    def eval_network(self) -> Any:
        """The cell used by :meth:`eval`."""
        if self._eval_network is None:
            self._eval_network, self._eval_indexes = _steps.build_eval_network(
                self._network, self._loss_fn
            )
        return self._eval_network

    # -- public API --------------------------------------------------------------------
    def train(self, epoch: int, train_dataset: Any, callbacks: Any = None,
              dataset_sink_mode: bool = False, sink_size: int = -1, initial_epoch: int = 0,
              *, resume_from: str | os.PathLike | None = None) -> None:  # fmt: skip
        """Train for ``epoch`` epochs.

        Args:
            epoch: Total number of epochs (``initial_epoch`` of them already done).
            train_dataset: A ``npukernel.dataset`` Dataset or an iterable of
                ``(data, label)`` batches.
            callbacks: A Callback or a list of them.
            dataset_sink_mode: Accepted and ignored (no device queue).
            sink_size: Accepted and ignored.
            initial_epoch: Epochs already done (numbers epochs from ``initial_epoch + 1``).
            resume_from: A training checkpoint or ``ModelCheckpoint`` directory to
                continue from (overrides ``initial_epoch``).

        Raises:
            ValueError: for bad ``epoch``/``initial_epoch``, or a NaN loss with
                ``LossMonitor``.
            CheckpointError: if ``resume_from`` cannot be loaded.

        Example:
            >>> # model.train(5, train_ds, callbacks=[LossMonitor(100)])
        """
        self._run(epoch, train_dataset, callbacks, initial_epoch, resume_from, None, 1)

    def fit(self, epoch: int, train_dataset: Any, valid_dataset: Any = None,
            valid_frequency: int | Sequence[int] = 1, callbacks: Any = None,
            dataset_sink_mode: bool = False, valid_dataset_sink_mode: bool = False,
            sink_size: int = -1, initial_epoch: int = 0,
            *, resume_from: str | os.PathLike | None = None) -> None:  # fmt: skip
        """Train, evaluating on ``valid_dataset`` every ``valid_frequency`` epochs.

        The results are on ``cb_params.eval_results`` at ``on_train_epoch_end`` (the
        metrics plus ``"eval_loss"``) and in ``model.history`` as ``eval_<name>``.

        Args:
            epoch: Total number of epochs.
            train_dataset: Training data (see :meth:`train`).
            valid_dataset: Validation data; None trains only.
            valid_frequency: Evaluate every this many epochs, or at these epoch numbers.
            callbacks: A Callback or a list of them.
            dataset_sink_mode: Ignored.
            valid_dataset_sink_mode: Ignored.
            sink_size: Ignored.
            initial_epoch: Epochs already done.
            resume_from: See :meth:`train`.

        Example:
            >>> # model.fit(10, train_ds, valid_ds, callbacks=[EarlyStopping(patience=2)])
        """
        self._run(epoch, train_dataset, callbacks, initial_epoch, resume_from,
                  valid_dataset, valid_frequency)  # fmt: skip

    def eval(self, valid_dataset: Any, callbacks: Any = None,
             dataset_sink_mode: bool = False) -> dict[str, Any]:  # fmt: skip
        """Evaluate the metrics over ``valid_dataset``.

        Returns:
            ``{metric name: value}``.

        Raises:
            ValueError: if the model has no metrics.

        Example:
            >>> # model.eval(test_ds)  ->  {'accuracy': 0.98}
        """
        if not self._metric_fns:
            raise ValueError(
                "For 'Model.eval', give 'metrics' to Model, e.g. metrics={'accuracy'}."
            )
        cbs = CallbackList(callbacks)
        with cbs:
            data = DataAdapter(valid_dataset, "valid_dataset")
            metrics, _ = evaluate(self._network, self.eval_network, self._eval_indexes,
                                  self._metric_fns, data, cbs, 1, 1)  # fmt: skip
        return metrics

    def predict(self, *predict_data: Any, **kwargs: Any) -> Any:
        """Run the network in inference mode on ``predict_data`` (Tensors or arrays).

        Example:
            >>> # model.predict(npk.Tensor(images)).argmax(axis=1)
        """
        data = [d if isinstance(d, Tensor) else Tensor(np.asarray(d)) for d in predict_data]
        was = getattr(self._network, "training", False)
        set_train(self._network, False)
        try:
            with no_grad():
                return self._network(*data)
        finally:
            set_train(self._network, was)

    # -- the loops ---------------------------------------------------------------------
    def _callbacks(self, callbacks: Any) -> tuple[CallbackList, History]:
        cbs = CallbackList(callbacks)
        histories = cbs.find(History)
        history = histories[0] if histories else History()
        extra: list[Callback] = [] if histories else [history]
        if sys.stdout.isatty() and not cbs.find(ProgressBar) and not cbs.find(LossMonitor):
            extra.append(ProgressBar())
        cbs.callbacks = extra + cbs.callbacks
        return cbs, history

    def _run(self, epoch: int, dataset: Any, callbacks: Any, initial_epoch: int,
             resume_from: Any, valid_dataset: Any, valid_frequency: Any) -> None:  # fmt: skip
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise ValueError(
                f"For 'Model.train', 'epoch' must be a positive int, but got {epoch!r}."
            )
        if not isinstance(initial_epoch, int) or not 0 <= initial_epoch < epoch:
            raise ValueError(
                f"For 'Model.train', 'initial_epoch' must be in [0, {epoch}), but got {initial_epoch!r}."
            )
        data = DataAdapter(dataset)
        valid = DataAdapter(valid_dataset, "valid_dataset") if valid_dataset is not None else None
        train_net = self.train_network
        cbs, history = self._callbacks(callbacks)
        cb = CallbackParams(
            train_network=train_net, network=self._network, optimizer=self._optimizer,
            loss_fn=self._loss_fn, train_dataset=dataset, valid_dataset=valid_dataset,
            epoch_num=epoch, batch_num=data.batch_num, cur_epoch_num=initial_epoch,
            cur_step_num=initial_epoch * (data.batch_num or 0), cur_step_in_epoch=0,
            initial_epoch=initial_epoch, net_outputs=None, loss=None, learning_rate=None,
            batch_size=None, step_time=None, throughput=None, eval_results={}, mode="train",
            dataset_sink_mode=False, list_callback=cbs, interrupted=False, last_checkpoint=None,
        )  # fmt: skip
        skip = 0
        if resume_from is not None:
            target = self._network if self._optimizer is not None else train_net
            initial_epoch, skip = resume(resume_from, target, self._optimizer, cb, data,
                                         valid, valid_frequency)  # fmt: skip
        ctx = RunContext(cb)
        snapshot = StepSnapshot(state_params([self._network, self._optimizer, train_net]).values())
        self.interrupted = False
        set_train(self._network, True)
        try:
            with cbs, InterruptGuard() as guard:
                try:
                    cbs.on_train_begin(ctx)
                    for e in range(initial_epoch, epoch):
                        self._epoch(e, data, skip, cb, ctx, cbs, guard, snapshot)
                        skip = 0
                        if valid is not None and eval_due(e + 1, epoch, valid_frequency):
                            self._eval_in_fit(valid, cbs, cb)
                        cbs.on_train_epoch_end(ctx)
                        if ctx.get_stop_requested():
                            break
                except KeyboardInterrupt:
                    if guard.in_step:  # torn step: put back the state from before it
                        snapshot.restore()
                        cb.cur_step_num -= 1
                        cb.cur_step_in_epoch -= 1
                    self.interrupted = cb.interrupted = True
                guard.critical = True  # a further Ctrl-C waits until the run is wrapped up
                if self.interrupted:
                    save_on_interrupt(cb, cbs, self._interrupt_ckpt)
                cbs.on_train_end(ctx)
        finally:  # also when a callback raised (e.g. LossMonitor on a NaN loss)
            self.history = history.to_xarray()

    def _epoch(self, e: int, data: DataAdapter, skip: int, cb: CallbackParams, ctx: RunContext,
               cbs: CallbackList, guard: InterruptGuard, snapshot: StepSnapshot) -> None:  # fmt: skip
        """One training epoch, up to (not including) ``on_train_epoch_end``."""
        cb.cur_epoch_num = e + 1
        cb.cur_step_in_epoch = 0
        cb.eval_results = {}
        rows = data.epoch()
        for _ in range(skip):  # resuming mid-epoch: draw the rows already trained on
            next(rows, None)
            cb.cur_step_in_epoch += 1
        cbs.on_train_epoch_begin(ctx)
        start, losses, samples = time.perf_counter(), [], 0
        for row in rows:
            cb.cur_step_num += 1
            cb.cur_step_in_epoch += 1
            cbs.on_train_step_begin(ctx)
            lr = _steps.current_lr(self._optimizer)
            snapshot.take()
            guard.in_step = True
            t0 = time.perf_counter()
            outputs = self._train_network(*row)
            step_time = time.perf_counter() - t0
            guard.in_step = False
            n = batch_size_of(row)
            loss = first_float(outputs)
            losses.append(loss if loss is not None else math.nan)
            samples += n
            cb.update(net_outputs=outputs, loss=loss, learning_rate=lr, batch_size=n,
                      step_time=step_time, throughput=n / step_time if step_time > 0 else None)  # fmt: skip
            cbs.on_train_step_end(ctx)
            if guard.requested:
                raise KeyboardInterrupt
            if ctx.get_stop_requested():
                break
        if not losses and not skip:
            raise ValueError(
                f"For 'Model.train', the training dataset gave no batches in epoch {e + 1}; "
                "pass a re-iterable dataset (a Dataset or a list), not a one-shot iterator."
            )
        elapsed = time.perf_counter() - start
        cb.update(epoch_loss=float(np.mean(losses)) if losses else None, epoch_time=elapsed,
                  epoch_throughput=samples / elapsed if elapsed > 0 else None)  # fmt: skip

    def _eval_in_fit(self, valid: DataAdapter, cbs: CallbackList, cb: CallbackParams) -> None:
        metrics, loss = evaluate(self._network, self.eval_network, self._eval_indexes,
                                 self._metric_fns, valid, cbs, cb.cur_epoch_num, cb.epoch_num)  # fmt: skip
        results = dict(metrics)
        if loss is not None:
            results["eval_loss"] = loss
        cb.eval_results = results
        cb.metrics = metrics
        set_train(self._network, True)


__all__ = ["Model"]
