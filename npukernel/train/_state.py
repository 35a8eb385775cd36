"""Training state on disk: network + optimizer + where the run stood, and the "latest" pointer.

A training checkpoint is an ordinary ``.ckpt`` (see :mod:`npukernel.serialization`)
holding the network's parameters and the optimizer's state (moments, global step,
learning rate), with metadata saying which epoch and step it was taken after and the
state of npukernel's random generator. Restoring all of it, and replaying the data
pipeline up to that step, makes a resumed run continue bit-identically.

Each directory that ``ModelCheckpoint`` writes to has a ``latest.json`` pointer, written
atomically after the checkpoint it names, so it never points at a partial file.

Example:
    >>> import tempfile
    >>> latest_checkpoint(tempfile.mkdtemp()) is None
    True
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from npukernel import random as _random
from npukernel.errors import CheckpointError, ValueRangeError
from npukernel.serialization import (
    atomic_write,
    load_checkpoint,
    load_param_into_net,
    named_parameters,
    read_checkpoint_metadata,
    save_checkpoint,
)

LATEST = "latest.json"
logger = logging.getLogger("npukernel.train")


def state_params(objects: Iterable[Any]) -> dict[str, Any]:
    """``name -> Parameter`` over several cells/optimizers, each parameter once.

    Raises:
        CheckpointError: if two different parameters share a name.
    """
    out: dict[str, Any] = {}
    for obj in objects:
        if obj is None or not hasattr(obj, "parameters_and_names"):
            continue
        for name, param in named_parameters(obj):
            if name in out and out[name] is not param:
                raise CheckpointError(
                    f"For 'ModelCheckpoint', two different parameters are both named '{name}'."
                )
            out[name] = param
    return out


def run_position(cb: Mapping[str, Any]) -> dict[str, Any]:
    """Where a run stands: epoch, step in epoch, global step, steps per epoch, RNG state."""
    return {
        "epoch": int(cb["cur_epoch_num"]),
        "step_in_epoch": int(cb.get("cur_step_in_epoch") or 0),
        "global_step": int(cb["cur_step_num"]),
        "batch_num": cb.get("batch_num"),
        "rng": _random.generator().bit_generator.state,
        "seed": _random.get_seed(),
        "time": time.time(),
    }


def save_train_state(
    path: str, cb: Mapping[str, Any], network: Any = None, append: Mapping[str, Any] | None = None
) -> str:
    """Save network, optimizer and run position to ``path``; return the path written.

    Args:
        path: Target ``.ckpt`` file.
        cb: The run's ``cb_params``.
        network: Save only this cell (``CheckpointConfig(saved_network=...)``).
        append: Extra entries (``append_dict``).
    """
    objects = [network] if network is not None else [
        cb.get("network"), cb.get("optimizer"), cb.get("train_network")
    ]  # fmt: skip
    params = state_params(objects)
    save_checkpoint(params, path, append_dict=dict(append or {}), metadata=run_position(cb))
    return path if path.endswith(".ckpt") else path + ".ckpt"


def write_latest(directory: str, ckpt_path: str, position: Mapping[str, Any]) -> None:
    """Atomically point ``directory/latest.json`` at ``ckpt_path``."""
    info = {"checkpoint": os.path.basename(ckpt_path), **{k: position[k] for k in
            ("epoch", "step_in_epoch", "global_step") if k in position}}  # fmt: skip
    data = json.dumps(info, indent=1).encode()
    atomic_write(os.path.join(directory, LATEST), lambda f: f.write(data))


def _verified(path: str) -> bool:
    try:
        read_checkpoint_metadata(path)
    except CheckpointError:
        return False
    return True


def latest_checkpoint(directory: str | os.PathLike, prefix: str | None = None) -> str | None:
    """The newest complete checkpoint in ``directory``, or None.

    Follows ``latest.json`` when it names a file that verifies; otherwise takes the
    newest ``*.ckpt`` (by modification time) that verifies. Temporary files left by
    a killed writer are never considered.

    Args:
        directory: A ``ModelCheckpoint`` directory.
        prefix: Only consider files named ``{prefix}-*.ckpt``.

    Example:
        >>> import tempfile
        >>> latest_checkpoint(tempfile.mkdtemp()) is None
        True
    """
    directory = os.fspath(directory)
    try:
        with open(os.path.join(directory, LATEST)) as f:
            name = json.load(f)["checkpoint"]
        path = os.path.join(directory, name)
        if (prefix is None or name.startswith(f"{prefix}-")) and _verified(path):
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass
    pattern = f"{glob.escape(prefix)}-*.ckpt" if prefix else "*.ckpt"
    files = sorted(glob.glob(os.path.join(glob.escape(directory), pattern)),
                   key=os.path.getmtime, reverse=True)  # fmt: skip
    return next((p for p in files if _verified(p)), None)


def restore_train_state(source: str | os.PathLike, network: Any, optimizer: Any) -> dict[str, Any]:
    """Load a training checkpoint into ``network`` and ``optimizer``; return its position.

    Args:
        source: A ``.ckpt`` file, or a directory (its latest checkpoint).
        network: The network (every parameter must be in the file).
        optimizer: The optimizer (every state parameter must be in the file), or None.

    Returns:
        The run position saved with it (``epoch``, ``step_in_epoch``, ``global_step``...).

    Raises:
        CheckpointError: if nothing can be found, the file is damaged, or it lacks
            parameters of the network or optimizer.
    """
    path = os.fspath(source)
    if os.path.isdir(path):
        found = latest_checkpoint(path)
        if found is None:
            raise CheckpointError(f"For 'resume_from', no complete checkpoint in '{path}'.")
        path = found
    params = load_checkpoint(path)
    position = read_checkpoint_metadata(path)
    for obj in (network, optimizer):
        if obj is None:
            continue
        missing, _ = load_param_into_net(obj, params)
        if missing:
            raise CheckpointError(
                f"For checkpoint '{path}', parameters of '{type(obj).__name__}' are missing: "
                f"{missing}; it cannot resume this run."
            )
    if "rng" in position:
        _random.generator().bit_generator.state = position["rng"]
    position["path"] = path
    return position


def resume(source: Any, network: Any, optimizer: Any, cb: dict, data: Any, valid: Any,
           valid_frequency: Any) -> tuple[int, int]:  # fmt: skip
    """Restore a run for ``Model.train(..., resume_from=source)``.

    Loads the state, then replays the data pipeline (the training set, and the
    validation set where ``fit`` evaluated) up to the saved step, so shuffles and random
    transforms continue as in the original run.

    Returns:
        ``(epochs_done, steps_done_in_the_next_epoch)``.

    Raises:
        ValueRangeError: if the checkpoint is already at or past ``cb["epoch_num"]``.
    """
    from npukernel.train._evaluate import eval_due

    pos = restore_train_state(source, network, optimizer)
    epoch, step_in_epoch = pos["epoch"], pos["step_in_epoch"]
    batch_num = pos.get("batch_num") or data.batch_num
    done = epoch if batch_num and step_in_epoch >= batch_num else epoch - 1
    skip = 0 if done == epoch else step_in_epoch
    if done >= cb["epoch_num"]:
        raise ValueRangeError(
            f"For 'Model.train', checkpoint '{pos['path']}' is already at epoch {epoch}; "
            f"ask for more than {cb['epoch_num']} epochs to continue."
        )
    for e in range(done):
        data.replay()
        if valid is not None and eval_due(e + 1, cb["epoch_num"], valid_frequency):
            valid.replay()
    cb.update(cur_epoch_num=done, cur_step_num=pos["global_step"], initial_epoch=done,
              last_checkpoint=pos["path"])  # fmt: skip
    logger.info("Resuming from %s after epoch %d, step %d.", pos["path"], epoch, step_in_epoch)
    return done, skip
